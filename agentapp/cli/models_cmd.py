"""``agentapp models``: the trained agents shipped with agentapp, read from the shelf's manifest.

Read-only and cheap: it reads ``agentapp/models/manifest.json`` and checks each file's sha256, and
never loads torch, so it answers at once on a fresh install.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from agentapp.cli import app
from agentapp.cli.common import JsonFlag, RunsDir, print_json
from agentapp.errors import UserError


def _checksum(agent) -> str:
    from agentapp import shelf

    try:
        shelf.verify(agent)
    except UserError:
        return "missing" if not shelf.path_of(agent).is_file() else "MISMATCH"
    return "ok"


@app.command("models")
def models_command(as_json: JsonFlag = False, runs_dir: RunsDir = None) -> None:
    """List the trained agents shipped with agentapp (watch or evaluate them by path)."""
    del runs_dir  # taken like every command takes it (scripts pass it to all); unused here
    from agentapp import shelf

    agents = shelf.load_manifest()
    rows = [{**a.as_json(), "path": str(shelf.path_of(a)), "checksum": _checksum(a)}
            for a in agents]
    if as_json:
        print_json(rows)
        return
    console = Console()
    if not rows:
        console.print(f"no shipped agents in {shelf.SHELF_DIR} (build them: "
                      "python scripts/build_shelf.py)")
        return
    table = Table(title=f"Shipped agents in {shelf.SHELF_DIR}", title_justify="left",
                  caption_justify="left")
    table.add_column("game", no_wrap=True, style="bold")
    table.add_column("algo", no_wrap=True)
    table.add_column("steps", justify="right", no_wrap=True)
    table.add_column("return", justify="right", no_wrap=True)
    table.add_column("file")
    for r in rows:
        bad = "" if r["checksum"] == "ok" else f" [red]({r['checksum']})[/]"
        table.add_row(r["game"], r["algo"], f"{r['steps']:,}",
                      f"{r['eval_mean']:.3f} ± {r['eval_std']:.3f}", r["file"] + bad)
    runs = {(r["eval_episodes"], r["eval_seed"]) for r in rows}
    if len(runs) == 1:
        ((episodes, seed),) = runs
        table.caption = (f"return: mean ± std over {episodes} greedy episodes, env seeds "
                         f"{seed}..{seed + episodes - 1} (agentapp eval FILE --episodes "
                         f"{episodes} --seed {seed})")
    console.print(table)
    first = rows[0]
    console.print(f"watch one: [bold]agentapp watch {first['path']}[/]")
    console.print("how each was trained (the exact command): agentapp models --json")
