"""``agentapp eval``: mean, std, min and max return of a trained agent over N seeded episodes."""

from __future__ import annotations

from typing import Annotated

import typer

from agentapp.cli import app
from agentapp.cli.common import JsonFlag, RunsDir, SetOption, load_agent, print_json


@app.command("eval")
def eval_command(
    ref: Annotated[str, typer.Argument(metavar="RUN|CHECKPOINT",
                   help="A run folder or name (its best.pt, else latest.pt), a checkpoint file, "
                   "or `last`.")],
    episodes: Annotated[int, typer.Option(min=1, help="Episodes to play.")] = 10,
    seed: Annotated[int, typer.Option(help="Episode i uses env seed S+i.")] = 0,
    stochastic: Annotated[bool, typer.Option(help="Sample actions instead of the greedy "
                          "choice.")] = False,
    set_: SetOption = None,
    as_json: JsonFlag = False,
    runs_dir: RunsDir = None,
) -> None:
    """Evaluate a trained agent over N seeded episodes."""
    from agentapp.engine.evaluate import evaluate
    from agentapp.engine.plan import check_seed

    check_seed(seed)
    path, _, agent, game, params = load_agent(ref, runs_dir, set_)
    result = evaluate(agent, game, params, episodes=episodes, seed=seed, greedy=not stochastic)
    summary = result.summary()
    summary["checkpoint"] = str(path)
    if as_json:
        print_json(summary)
        return
    typer.echo(
        f"mean {summary['mean']:.3f} ± {summary['std']:.3f} (min {summary['min']:.3f}, "
        f"max {summary['max']:.3f}) over {summary['episodes']} episodes"
    )
    typer.echo(f"protocol: {summary['protocol']}")
    typer.echo(f"checkpoint: {path}")
