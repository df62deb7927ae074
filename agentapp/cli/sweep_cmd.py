"""``agentapp sweep``: many normal runs (games x ``--grid`` x seeds) as Ray tasks, then ranked.

The command checks everything before Ray starts or a file is written, connects to Ray (a local one
in this process, or ``--address``), records the sweep in ``<runs>/sweeps/<name>/sweep.json`` and
runs :mod:`agentapp.sweep.runner`, drawing a table of trials about once a second (plain lines every
few seconds when stdout is not a terminal). Ctrl+C asks every trial to save and stop (exit 130;
SIGTERM 143) and says how to resume; a second Ctrl+C cancels the tasks at once. Exit 3 when a
trial failed. ``--asha`` and ``--search`` run the trials as a Ray Tune experiment instead
(:mod:`agentapp.sweep.tune`); a resumed Tune sweep continues its unfinished trials as Ray tasks
and draws the samples ``--search`` has not drawn yet through Tune.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.console import Console

from agentapp.cli import app
from agentapp.cli.common import (
    JsonFlag,
    RunsDir,
    SetOption,
    on_signals,
    overrides,
    print_json,
)

FEATURE = "agentapp sweep"


@app.command("sweep")
def sweep_command(
    game: Annotated[str | None, typer.Argument(help="Game to sweep (see `agentapp list`); "
                    "--games adds more.", show_default=False)] = None,
    algo: Annotated[str | None, typer.Option("--algo", "-a", help="Method (default: the "
                    "game's default).", show_default=False)] = None,
    seeds: Annotated[int | None, typer.Option(help="Seeds per configuration (default: 1).",
                     show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(help="Base seed; trial k of a configuration "
                    "uses seed+k (default: random, recorded).", show_default=False)] = None,
    grid: Annotated[list[str] | None, typer.Option("--grid", help="Values to sweep: "
                    "key=v1,v2 (a --set key; repeatable: the product is swept).",
                    show_default=False)] = None,
    games: Annotated[str | None, typer.Option(help="More games, comma-separated (with or "
                     "instead of GAME).", show_default=False)] = None,
    steps: Annotated[int | None, typer.Option(help="Steps per trial (default: the preset's "
                     "budget).", show_default=False)] = None,
    envs: Annotated[int | None, typer.Option(help="Parallel environments per trial.",
                    show_default=False)] = None,
    set_: SetOption = None,
    max_concurrent: Annotated[int | None, typer.Option(help="Trials running at once "
                              "(default: as many as the Ray cluster holds).",
                              show_default=False)] = None,
    cpus_per_run: Annotated[float | None, typer.Option(help="CPUs Ray reserves per trial "
                            "(default: 1; on resume: as recorded).", show_default=False)] = None,
    gpus_per_run: Annotated[float | None, typer.Option(help="GPUs (or a fraction) per trial "
                            "(default: 0; on resume: as recorded).", show_default=False)] = None,
    address: Annotated[str | None, typer.Option(help="Join this Ray cluster (auto, host:port "
                       "or ray://host:port) instead of a local Ray.", show_default=False)] = None,
    name: Annotated[str | None, typer.Option(help="Sweep name (default: "
                    "<game>-<algo>-<time>).", show_default=False)] = None,
    resume: Annotated[str | None, typer.Option(help="Continue sweep NAME (or its folder): "
                      "finished trials are kept, the others continue from their checkpoints.",
                      show_default=False)] = None,
    eval_episodes: Annotated[int | None, typer.Option(help="Episodes of each run's final "
                             "evaluation, the trial's score (default: 10).",
                             show_default=False)] = None,
    asha: Annotated[bool, typer.Option("--asha", help="Stop bad trials early (Ray Tune's "
                    "ASHA on the mean of the last 10 episode returns).")] = False,
    asha_grace: Annotated[int | None, typer.Option(help="Steps before ASHA first compares "
                          "trials (default: a ninth of the budget).",
                          show_default=False)] = None,
    search: Annotated[str | None, typer.Option(help="Choose --grid values with a Ray Tune "
                      "search algorithm: random, optuna, hyperopt, hebo or ax.",
                      show_default=False)] = None,
    samples: Annotated[int | None, typer.Option(help="Trials --search draws, each with its "
                       "own seed (default: the grid's size x --seeds).",
                       show_default=False)] = None,
    json_: JsonFlag = False,
    runs_dir: RunsDir = None,
) -> None:
    """Train every combination of games, --grid values and seeds as normal runs on Ray, then
    rank the configurations by mean score over seeds (report.csv in the sweep folder)."""
    from agentapp import runs
    from agentapp.engine.ray_cluster import connect, require_ray
    from agentapp.errors import UserError
    from agentapp.sweep import runner, state

    require_ray(FEATURE, address)  # before anything is checked or written
    _check_numbers(max_concurrent, cpus_per_run, gpus_per_run)
    root = runs.check_root(runs.runs_root(runs_dir))
    if resume is not None:
        given = {"GAME": game, "--algo": algo, "--seeds": seeds, "--seed": seed, "--grid": grid,
                 "--games": games, "--steps": steps, "--envs": envs, "--set": set_,
                 "--name": name, "--eval-episodes": eval_episodes,
                 "--asha": asha or None, "--asha-grace": asha_grace, "--search": search,
                 "--samples": samples}
        _refuse_with_resume(given)
        sweep = state.load(state.find(resume, root))
        if runs.lock_is_live(sweep.folder):
            raise UserError(f"--resume {resume}: the sweep is running in another process")
        spec = sweep.spec
        cpus_per_run = spec.get("cpus_per_run") if cpus_per_run is None else cpus_per_run
        gpus_per_run = spec.get("gpus_per_run") if gpus_per_run is None else gpus_per_run
        max_concurrent = max_concurrent or spec.get("max_concurrent")
        if not _left(sweep):  # every trial is done: the report is all there is
            raise typer.Exit(_report(sweep, None, json_))
    else:
        sweep = None
        if name is not None and (state.sweeps_root(root) / state.check_name(name)).exists():
            raise UserError(f"--name {name}: a sweep of that name exists; resume it with "
                            f"--resume {name} or choose another name")
        definition = _define(game, games, algo, grid, set_, seeds, seed, steps, envs,
                             eval_episodes, root,
                             {"asha": asha, "asha_grace": asha_grace, "search": search,
                              "samples": samples})
    ray_owned = not require_ray(FEATURE).is_initialized()
    ray = connect(FEATURE, address)
    try:
        pending = _left(sweep) if sweep else (
            definition[0].get("samples") or len(definition[1]))
        res = runner.resources(ray, cpus_per_run, gpus_per_run or 0.0, max_concurrent,
                               max(1, pending))
        if sweep is None:
            spec, trials, default_name = definition
            spec.update(cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run or 0.0,
                        max_concurrent=max_concurrent, address=address)
            sweep = state.create(root, name, default_name, spec, trials)
        with runs.locked(sweep.folder):
            code = _run(ray, sweep, res, json_, resumed=resume is not None)
    finally:
        if ray_owned:
            ray.shutdown()
    raise typer.Exit(code)


def _check_numbers(max_concurrent: int | None, cpus: float | None, gpus: float | None) -> None:
    from agentapp.errors import UserError

    if max_concurrent is not None and max_concurrent < 1:
        raise UserError(f"--max-concurrent {max_concurrent}: must be at least 1")
    if cpus is not None and not cpus > 0:
        raise UserError(f"--cpus-per-run {cpus:g}: must be more than 0")
    if gpus is not None and not gpus >= 0:
        raise UserError(f"--gpus-per-run {gpus:g}: must be 0 or more")


def _refuse_with_resume(given: dict[str, object]) -> None:
    from agentapp.errors import UserError

    named = [flag for flag, value in given.items() if value not in (None, [])]
    if named:
        raise UserError(f"--resume continues a sweep as it was defined: leave out "
                        f"{', '.join(named)}")


def _left(sweep) -> int:
    """Trials a resume would run: the unfinished ones and the samples not drawn yet."""
    from agentapp.sweep import state, tune_options

    return len(state.to_resume(sweep)) + tune_options.undrawn(sweep.spec, len(sweep.trials))


def _define(game, games, algo, grid, set_, seeds, seed, steps, envs, eval_episodes, root,
            tuning):
    """The new sweep's spec, trials and default name, all checked; nothing is written."""
    import secrets

    from agentapp.games.registry import slugify
    from agentapp.sweep import grid as grids
    from agentapp.sweep import tune_options
    from agentapp.sweep.state import Trial

    names = grids.parse_games(game, games)
    swept = grids.parse_grid(grid or [])
    fixed = overrides(set_)
    tune_options.check(games=names, grid=swept, **tuning)
    seeds = 1 if seeds is None else seeds
    eval_episodes = 10 if eval_episodes is None else eval_episodes
    base = secrets.randbelow(2**31) if seed is None else seed
    checked = grids.validate(names, swept, fixed, algo=algo, steps=steps, envs=envs,
                             eval_episodes=eval_episodes, base_seed=base, seeds=seeds,
                             runs_dir=str(root))
    specs = grids.expand(checked.games, swept, seeds, base)
    trials = [Trial(s.id, s.game, s.params, s.seed) for s in specs]
    spec = {"algo": checked.algo, "games": checked.games, "grid": swept, "fixed": fixed,
            "seeds": seeds, "base_seed": base, "steps": steps, "envs": envs,
            "eval_episodes": eval_episodes, "runs_dir": str(root.resolve()),
            "created": time.time()}
    _add_tuning(spec, tuning, len(grids.combinations(swept)) * seeds)
    if spec["search"]:  # the samples are drawn by the search algorithm as the sweep runs
        trials = []
    default = f"{slugify(checked.games[0])}-{checked.algo}-{time.strftime('%Y%m%d-%H%M%S')}"
    return spec, trials, default


def _add_tuning(spec, tuning, size: int) -> None:
    """Record ``asha`` (its settings, for the budget of the sweep's first combination),
    ``search`` and ``samples`` in the spec."""
    from agentapp.sweep import grid as grids
    from agentapp.sweep import tune_options

    asha = None
    if tuning["asha"]:
        first = grids.combinations(spec["grid"])[0]
        budget = tune_options.budget_of(spec["games"][0], spec["algo"], spec, first)
        asha = tune_options.asha_spec(budget, tuning["asha_grace"])
    search = tuning["search"]
    spec.update(asha=asha, search=search,
                samples=(tuning["samples"] or size) if search else None)


def _run(ray, sweep, res, as_json: bool, resumed: bool) -> int:
    """Run the sweep with live progress; print (or emit as JSON) the report; the exit code."""
    from agentapp.sweep import runner
    from agentapp.sweep.view import Progress

    view = Progress(Console(stderr=as_json, highlight=False, soft_wrap=True), sweep,
                    res.concurrent)
    stop = runner.Stop()
    with _signals(stop), view:
        for _ in _rounds(ray, sweep, stop, res, resumed):
            view.update()
    return _report(sweep, stop.reason, as_json)


def _rounds(ray, sweep, stop, res, resumed: bool) -> Iterator[None]:
    """The Ray-task path; or under Tune: on resume, the unfinished trials as Ray tasks first
    (no new early-stopping decisions for them), then Tune for what is left to start."""
    from agentapp.sweep import runner, state, tune, tune_options

    if not tune_options.is_tune(sweep.spec):
        yield from runner.run(ray, sweep, stop, res)
        return
    if resumed and state.to_resume(sweep):
        yield from runner.run(ray, sweep, stop, res)
    if not stop.reason:
        yield from tune.run(ray, sweep, stop, res)


def _report(sweep, stopped: str | None, as_json: bool) -> int:
    """Write report.csv, show the ranking (or print it as JSON); the exit code: 130 / 143
    when stopped by a signal, else 3 when a trial failed, else 0."""
    from agentapp.sweep import report
    from agentapp.sweep.state import FAILED
    from agentapp.sweep.view import print_report

    report.write_csv(sweep)
    if stopped:
        code = 143 if stopped == "terminated" else 130
    else:
        code = 3 if any(t.status == FAILED for t in sweep.trials) else 0
    if as_json:
        print_json(report.as_json(sweep, code))
    else:
        print_report(Console(highlight=False, soft_wrap=True), sweep, stopped)
    return code


@contextlib.contextmanager
def _signals(stop) -> Iterator[None]:
    """Ctrl+C: ask the trials to stop; a second one: cancel them now. SIGTERM: ask."""

    def on_sigint(signum, frame):
        if stop.reason:
            stop.force = True
        stop.reason = stop.reason or "interrupted"

    def on_sigterm(signum, frame):
        stop.reason = stop.reason or "terminated"

    with on_signals(on_sigint, on_sigterm):
        yield
