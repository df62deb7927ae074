"""``agentapp models``: the trained agents shipped with agentapp, read from the shelf's manifest.

Read-only and cheap: it reads ``agentapp/models/manifest.json`` and checks each file's sha256, and
never loads torch, so it answers at once on a fresh install.
"""

from __future__ import annotations

from rich import box
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


WIDE = 100
"""Columns the table needs to show every file name whole; a narrower console gets lines."""


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
    runs = {(r["eval_episodes"], r["eval_seed"]) for r in rows}
    how = ""
    if len(runs) == 1:
        ((episodes, seed),) = runs
        how = (f"return: mean ± std over {episodes} greedy episodes, env seeds "
               f"{seed}..{seed + episodes - 1} (agentapp eval FILE --episodes {episodes} "
               f"--seed {seed})")
    if console.width < WIDE:  # a table would cut the file names: one line per agent
        console.print(f"Shipped agents in {shelf.SHELF_DIR}", markup=False)
        for r in rows:
            bad = "" if r["checksum"] == "ok" else f" ({r['checksum']})"
            console.print(f"  {r['file']}{bad}: {r['game']} · {r['algo']} · {r['steps']:,} steps"
                          f" · return {r['eval_mean']:.3f} ± {r['eval_std']:.3f}",
                          markup=False, soft_wrap=True)
        if how:
            console.print(how, markup=False, soft_wrap=True)
    else:
        table = Table(title=f"Shipped agents in {shelf.SHELF_DIR}", title_justify="left",
                      caption_justify="left", box=box.SIMPLE_HEAD, caption=how or None)
        table.add_column("file", no_wrap=True, style="bold")  # what watch and eval take
        table.add_column("game", no_wrap=True)
        table.add_column("algo", no_wrap=True)
        table.add_column("steps", justify="right", no_wrap=True)
        table.add_column("return", justify="right", no_wrap=True)
        for r in rows:
            bad = "" if r["checksum"] == "ok" else f" [red]({r['checksum']})[/]"
            table.add_row(r["file"] + bad, r["game"], r["algo"], f"{r['steps']:,}",
                          f"{r['eval_mean']:.3f} ± {r['eval_std']:.3f}")
        console.print(table)
    first = rows[0]
    console.print(f"watch one: [bold]agentapp watch {first['path']}[/]", soft_wrap=True)
    console.print("how each was trained (the exact command): agentapp models --json")
