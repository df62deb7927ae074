"""``agentapp train``: train an agent, showing progress, and say where the run is.

Ctrl+C or SIGTERM ask the loop to save and stop (exit 130 / 143); a second Ctrl+C exits at once,
which is safe because checkpoints are only ever replaced atomically.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.console import Console

from agentapp.cli import app
from agentapp.cli.common import RunsDir, SetOption, fmt, overrides, signals_stop


@app.command("train")
def train_command(
    game: Annotated[str, typer.Argument(help="Game to train on (see `agentapp list`).")],
    algo: Annotated[str | None, typer.Option("--algo", "-a", help="Method (default: the "
                    "game's default).", show_default=False)] = None,
    steps: Annotated[int | None, typer.Option(help="Total agent steps (sweeps for planning); "
                     "default: the preset's budget.", show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: random, recorded "
                    "in config.json).", show_default=False)] = None,
    envs: Annotated[int | None, typer.Option(help="Parallel environments (default: the "
                    "preset's).", show_default=False)] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:<i>.")] = "auto",
    set_: SetOption = None,
    resume: Annotated[str | None, typer.Option("--resume", help="Continue RUN (in place), a "
                      "CHECKPOINT (as a new run) or `last`.", show_default=False)] = None,
    headless: Annotated[bool, typer.Option(
        help="Progress lines instead of the dashboard.")] = False,
    save_every: Annotated[int | None, typer.Option(help="Checkpoint every N steps.",
                          show_default=False)] = None,
    eval_every: Annotated[int | None, typer.Option(help="Evaluate every N steps.",
                          show_default=False)] = None,
    eval_episodes: Annotated[int, typer.Option(help="Episodes per evaluation.")] = 10,
    target_return: Annotated[float | None, typer.Option(help="Stop at the first evaluation "
                             "whose mean reaches R.", show_default=False)] = None,
    threads: Annotated[int | None, typer.Option(help="Torch threads (default: the machine's "
                       "cores).", show_default=False)] = None,
    keep: Annotated[int, typer.Option(help="How many step_<N>.pt checkpoints to keep.")] = 3,
    workers: Annotated[int | None, typer.Option(help="Ray actors that step the environments "
                       "and act (a2c, ppo, dqn; --envs is the total they share; needs the "
                       "ray extra).", show_default=False)] = None,
    address: Annotated[str | None, typer.Option(help="Ray cluster for --workers (auto, "
                       "host:port or ray://host:port; default: a local Ray).",
                       show_default=False)] = None,
    runs_dir: RunsDir = None,
) -> None:
    """Train an agent on a game and save it in a run folder."""
    from agentapp.engine import loop
    from agentapp.engine.control import Control
    from agentapp.engine.plan import RunConfig, prepare
    from agentapp.engine.sinks import recorded

    config = RunConfig(
        game=game, algo=algo, steps=steps, seed=seed, envs=envs, device=device,
        overrides=overrides(set_), save_every=save_every, eval_every=eval_every,
        eval_episodes=eval_episodes, target_return=target_return, threads=threads,
        runs_dir=str(runs_dir) if runs_dir else None, resume=resume, keep_checkpoints=keep,
        workers=workers, address=address,
    )
    plan = prepare(config)  # bad input ends here, with one line, before any screen opens
    if not headless and sys.stdin.isatty() and sys.stdout.isatty():
        raise typer.Exit(_train_in_app(config, plan))
    from agentapp.cli.progress import HeadlessProgress

    console = Console(highlight=False, soft_wrap=True)
    progress = HeadlessProgress(console)
    control = Control()
    finished = None
    with signals_stop(control):
        # recorded: metrics.csv and TensorBoard; one that cannot be written stops training
        for event in recorded(loop.train(plan, control), control):
            progress(event)
            if type(event).__name__ == "RunFinished":
                finished = event
    assert finished is not None
    _summarise(console, finished, plan.algo_cls.step_unit, plan.game.id)
    from agentapp.engine.events import EXIT_CODES

    raise typer.Exit(EXIT_CODES.get(finished.reason, 0))


def _train_in_app(config, plan) -> int:
    """Train on the dashboard; the seed the plan drew is kept so config.json records it."""
    from dataclasses import replace

    from agentapp.rendering.graphics import ENV_VAR, choose_for_app
    from agentapp.tui.app import AgentApp

    config = replace(config, seed=plan.seed, live_view=True)
    # asked before the app runs (Textual then reads all of stdin): its watch screen draws with it
    graphics = choose_for_app(os.environ.get(ENV_VAR))
    app_ = AgentApp(runs_dir=config.runs_dir, config=config, graphics=graphics)
    with _signals_stop_app(app_):
        app_.run()
    code = app_.return_code or 0
    # the app's screen is gone: say in the shell how it ended, and how to resume or watch
    console = Console(highlight=False, soft_wrap=True)
    if app_.last_finished is not None:
        _summarise(console, app_.last_finished, plan.algo_cls.step_unit, plan.game.id)
    elif app_.last_failure:
        Console(stderr=True, highlight=False, soft_wrap=True).print(app_.last_failure,
                                                                   markup=False)
    if any(t.name == "agentapp-training" and t.is_alive() for t in threading.enumerate()):
        # left at once (a second Ctrl+C) while a training thread is still inside torch:
        # ending the interpreter under it would abort the process; the terminal is already
        # restored and every checkpoint on disk is whole, so leave now
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


@contextlib.contextmanager
def _signals_stop_app(app_) -> Iterator[None]:
    """SIGINT and SIGTERM sent to the process while the dashboard trains do what Ctrl+C and
    ``q`` do inside it: save, stop and leave with 130 (143 for SIGTERM); a second one leaves at
    once. (In the app's terminal Ctrl+C is a key, handled by the app itself.)"""

    def on_signal(signum, frame):
        reason = "terminated" if signum == signal.SIGTERM else "interrupted"
        app_.call_later(app_.stop_training_and_exit, reason)

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, on_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _summarise(console: Console, done, unit: str, game: str) -> None:
    """How the run ended and the command that carries on, on stdout (its last line the run
    folder); a failure also as one line on stderr."""
    from agentapp.runs import NO_CHECKPOINT, can_resume, resume_command, watch_command

    verdict = {
        "budget": "done", "converged": "converged", "target": "target reached",
        "interrupted": "stopped (Ctrl+C)", "terminated": "stopped (SIGTERM)",
        "failed": "FAILED",
    }.get(done.reason, done.reason)
    evaluation = (f" · final evaluation: mean return {fmt(done.eval_mean)}"
                  if done.eval_mean is not None else "")
    detail = f" · {done.detail}" if done.detail else ""
    console.print(f"{verdict}: {done.step:,} {unit} in {done.elapsed:.1f} s{evaluation}{detail}",
                  markup=False)
    if done.reason in ("interrupted", "terminated", "failed"):
        if can_resume(done.run_dir):
            console.print(f"resume with: {resume_command(game, done.run_dir)}", markup=False)
        else:  # --resume would be refused
            console.print(NO_CHECKPOINT, markup=False)
    else:
        console.print(f"watch it: {watch_command(done.run_dir)}", markup=False)
    console.print(done.run_dir, markup=False, soft_wrap=True)
    if done.reason == "failed":
        typer.echo(f"agentapp: training failed: {done.detail or 'see the run folder'}", err=True)
