"""The ``agentapp`` command line: one Typer app, one module per command.

Bad input anywhere (a :class:`~agentapp.errors.UserError`, or a usage error caught by the argument
parser) becomes one line on stderr and exit code 2: no traceback and no usage dump. Command modules
import the engine lazily, inside the command, so ``agentapp --help`` never loads torch.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

try:  # typer vendors click from 0.2x on; older releases use click itself
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click import ClickException

from agentapp.cli.common import RunsDir
from agentapp.errors import UserError


def fail(message: str) -> None:
    """Print one error line and exit with code 2."""
    typer.echo(f"agentapp: {message}", err=True)
    raise SystemExit(2)


class _OneLineErrors(TyperGroup):
    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        kwargs.setdefault("prog_name", "agentapp")
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except ClickException as exc:
            message = exc.format_message().replace("\n", " ")
            fail(f"{message} (see --help)")
        except UserError as exc:
            fail(str(exc))
        except typer.Abort:
            raise SystemExit(130) from None
        raise SystemExit(result if isinstance(result, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    name="agentapp",
    help="Train reinforcement-learning agents on games and watch them play, in the terminal.",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

@app.callback()
def _open_app(ctx: typer.Context, runs_dir: RunsDir = None) -> None:
    """With no command: open the terminal interface (its home screen); without a terminal,
    print this help instead."""
    if ctx.invoked_subcommand is not None:
        if runs_dir is not None:  # `agentapp --runs-dir DIR COMMAND`: the command's default
            ctx.default_map = {**(ctx.default_map or {}),
                               ctx.invoked_subcommand: {"runs_dir": runs_dir}}
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    import os

    from agentapp.rendering.graphics import ENV_VAR, choose_for_app
    from agentapp.tui.app import AgentApp

    # the terminal is asked now: once the app runs, Textual reads all of stdin
    graphics = choose_for_app(os.environ.get(ENV_VAR))
    app_ = AgentApp(runs_dir=runs_dir, graphics=graphics)
    app_.run()
    raise typer.Exit(app_.return_code or 0)


from agentapp.cli import (  # noqa: E402  (commands register themselves on `app`)
    eval_cmd,
    experiment_cmd,
    inspect_cmd,
    list_cmd,
    models_cmd,
    runs_cmd,
    sweep_cmd,
    train_cmd,
    watch_cmd,
)

__all__ = ["app", "eval_cmd", "experiment_cmd", "inspect_cmd", "list_cmd", "main", "models_cmd",
           "runs_cmd", "sweep_cmd", "train_cmd", "watch_cmd"]


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
    sys.exit(0)
