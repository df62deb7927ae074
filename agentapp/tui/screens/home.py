"""The home screen: pick a game, pick a method, adjust its preset, press Enter to train.

Three columns, left to right in the order of the decision: the games (filtered, grouped by
family, with what the selected one observes and can do), the methods for that game (unsuitable
ones greyed out with the reason ``agentapp list`` gives), and the settings of the pair: the run
(budget, seed, environments, device), the method's hyperparameters as the preset sets them, and
the game's settings. Everything is checked while typing by the same code as ``--set``, and the
whole request once more by ``plan.prepare`` before the dashboard opens, so a run started here
can never fail on input the form could have refused.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Button, Checkbox, Footer, Header, Input, OptionList, Select, Static

from agentapp.errors import UserError
from agentapp.tui.widgets.game_list import GameList, MethodList
from agentapp.tui.widgets.settings_form import (
    CHOICE,
    FieldSpec,
    SettingsForm,
    count_check,
    setting_specs,
)

FORM_DELAY = 0.12
"""Seconds a selection must rest before its form is built."""
OVERRIDE_SECTIONS = ("hp", "game")
"""Form sections whose changed fields become ``--set`` overrides (the rest are run options)."""


class HomeScreen(Screen[None]):
    """New run: game, method and settings; Enter (or Train) starts it on a dashboard."""

    AUTO_FOCUS = "#games"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "train", "Train", show=False),
        Binding("t", "train", "Train"),
        Binding("r", "runs", "Runs"),
        Binding("slash", "focus_filter", "Filter games"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("q", "app.quit", "Quit"),
    ]
    DEFAULT_CSS = """
    HomeScreen #columns { height: 1fr; }
    HomeScreen #games-column { width: 36; }
    HomeScreen #methods-column { width: 31; }
    HomeScreen #form-column { width: 1fr; }
    HomeScreen OptionList, HomeScreen OptionList:focus {
        height: 1fr; border: none; padding: 0; background: transparent;
    }
    HomeScreen #game-filter { margin-bottom: 1; }
    HomeScreen .info {
        height: auto; max-height: 9; margin-top: 1; padding-top: 1;
        border-top: solid $primary 30%;
    }
    HomeScreen #train-bar { height: auto; margin-top: 1; }
    HomeScreen #form-status { width: 1fr; height: auto; color: $text-muted; }
    HomeScreen #form-status.-error { color: $text-error; }
    HomeScreen #train { min-width: 14; }
    """

    def __init__(self, devices: list[tuple[str, str]] | None = None, game: str | None = None,
                 algo: str | None = None) -> None:
        """*devices*: ``(value, label)`` choices (default: what this machine has); *game* and
        *algo*: the selection to open on (default: the first game and its default method)."""
        super().__init__()
        from agentapp.engine.device import device_choices
        from agentapp.games import catalogue

        self.games = catalogue()
        self.devices = devices if devices is not None else device_choices()
        self.game: Any = None
        self.algo: str | None = None
        self._wanted = (game, algo)
        self._shown: tuple[str, str] | None = None
        self._form_timer: Timer | None = None
        self._form_lock = asyncio.Lock()
        self._status_pending = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="columns"):
            with Vertical(id="games-column", classes="panel") as games:
                games.border_title = "Games"
                yield Input(placeholder="filter (/): name or family", id="game-filter",
                            compact=True)
                yield GameList(self.games, id="games")
                yield Static(id="game-info", classes="info")
            with Vertical(id="methods-column", classes="panel") as methods:
                methods.border_title = "Methods"
                yield MethodList(id="methods")
                yield Static(id="method-info", classes="info")
            with Vertical(id="form-column", classes="panel") as form:
                form.border_title = "Settings"
                yield SettingsForm(id="form")
                with Horizontal(id="train-bar"):
                    yield Static(id="form-status")
                    yield Button("Train ⏎", id="train", variant="primary", compact=True)
        yield Footer()

    async def on_mount(self) -> None:
        game_id, _ = self._wanted
        if game_id is not None:
            from agentapp.games import resolve

            game_id = resolve(game_id).id
        self.query_one(GameList).apply_filter("", keep=game_id)
        game = self.query_one(GameList).game
        if game is not None:
            self.choose_game(game)
            await self.rebuild_form()  # at once: the first picture has its form

    # -- selection -----------------------------------------------------------------------------
    def choose_game(self, game: Any) -> None:
        """Show *game*'s details and methods; the form of its default (or wanted) method
        follows once the selection rests."""
        if self.game is not None and game.id == self.game.id:
            return
        self.game = game
        actions = " ".join(game.actions)
        self.query_one("#game-info", Static).update(Text.assemble(
            (game.id, "bold"), "\n", game.description, "\n",
            ("observation ", "italic"), game.observation, "\n",
            ("actions ", "italic"), f"({len(game.actions)}) {actions}",
        ))
        methods = self.query_one(MethodList)
        methods.show_game(game)
        wanted_game, wanted_algo = self._wanted
        if wanted_algo is not None and wanted_game is not None:
            methods.select_method(wanted_algo)
            self._wanted = (None, None)
        self.choose_method(methods.method)

    def choose_method(self, name: str | None) -> None:
        """Select method *name* for the game; its form is rebuilt once the selection rests
        (arrowing through a hundred games must not build a hundred forms)."""
        if name is None or self.game is None or (name == self.algo and self.form_ready):
            return
        from agentapp.engine import algorithms

        self.algo = name
        algo_cls = algorithms.ALGORITHMS[name]
        self.query_one("#method-info", Static).update(Text.assemble(
            (algo_cls.title, "bold"), "\n", algo_cls.summary, "\n",
            ("counts ", "italic"), algo_cls.step_unit,
        ))
        if self._form_timer is not None:
            self._form_timer.stop()
        self._form_timer = None
        if not self.form_ready:
            self.query_one("#form-status", Static).update("…")
            self._form_timer = self.set_timer(FORM_DELAY, self.rebuild_form)

    @property
    def form_ready(self) -> bool:
        """Whether the form shows the selected game and method."""
        return self.game is not None and self._shown == (self.game.id, self.algo)

    async def rebuild_form(self) -> None:
        """Fill the form with the preset of the selected game and method."""
        self._form_timer = None
        async with self._form_lock:  # one build at a time, whoever asks (timer, Enter, tests)
            if self.game is not None and self.algo is not None and not self.form_ready:
                await self._fill_form()

    async def _fill_form(self) -> None:
        from agentapp.engine import algorithms
        from agentapp.engine.plan import preset_settings

        game, algo_cls = self.game, algorithms.ALGORITHMS[self.algo]
        target = (game.id, self.algo)
        preset, hp = preset_settings(game, algo_cls)
        budget = preset.budget(algo_cls.step_unit)
        self.query_one("#method-info", Static).update(Text.assemble(
            (algo_cls.title, "bold"), "\n", algo_cls.summary, "\n",
            ("preset ", "italic"), f"{preset.source}: {budget:,} {algo_cls.step_unit}",
        ))
        await self.query_one(SettingsForm).show([
            ("run", "Run", self._run_fields(algo_cls, preset)),
            ("hp", f"{algo_cls.title} hyperparameters", setting_specs(hp)),
            ("game", f"{game.id} settings", setting_specs(game.params)),
        ])
        self._shown = target
        self._update_status()

    def _run_fields(self, algo_cls: Any, preset: Any) -> list[FieldSpec]:
        unit = algo_cls.step_unit
        fields = [
            FieldSpec("steps", preset.budget(unit),
                      f"Budget in {unit}" + (" (agent steps summed over all environments)"
                                             if unit == "steps" else "") + "; default: the "
                      "preset's.", partial(count_check, "--steps")),
            FieldSpec("seed", None, "Blank: a random seed (always recorded in config.json).",
                      partial(count_check, "--seed", low=0, blank=True), placeholder="random"),
        ]
        if algo_cls.supports_envs:
            fields.append(FieldSpec("envs", preset.env_count, "Environments stepped side by "
                                    "side.", partial(count_check, "--envs")))
        choices = tuple((label, value) for value, label in self.devices)
        fields.append(FieldSpec("device", self.devices[0][0], "Where the networks train "
                                "(tables always live on the CPU).", str, kind=CHOICE,
                                choices=choices))
        return fields

    # -- events --------------------------------------------------------------------------------
    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if isinstance(event.option_list, GameList):
            game = event.option_list.game
            if game is not None:
                self.choose_game(game)
        elif isinstance(event.option_list, MethodList):
            self.choose_method(event.option_list.method)

    async def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if isinstance(event.option_list, GameList):
            self.query_one(MethodList).focus()
        elif isinstance(event.option_list, MethodList):
            await self.action_train()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "game-filter":
            games = self.query_one(GameList)
            games.apply_filter(event.value, keep=self.game.id if self.game else None)
        else:
            self._status_later()

    def on_select_changed(self, event: Select.Changed) -> None:
        self._status_later()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self._status_later()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "game-filter":
            self.query_one(GameList).focus()
        else:
            await self.action_train()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "train":
            await self.action_train()

    def _status_later(self) -> None:
        # a form being built sends a change per field: look at them all once, after
        if not self._status_pending:
            self._status_pending = True
            self.call_after_refresh(self._update_status)

    def _update_status(self) -> None:
        self._status_pending = False
        form = self.query_one(SettingsForm)
        problems = form.problems()
        status = self.query_one("#form-status", Static)
        status.set_class(bool(problems), "-error")
        if problems:
            field, message = problems[0]
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            status.update(f"✗ {field.spec.name}: {message}{more}")
            return
        changed = len(form.overrides(OVERRIDE_SECTIONS))
        note = f" with {changed} change{'s' if changed != 1 else ''}" if changed else ""
        status.update(f"preset{note} · Enter starts")

    # -- actions -------------------------------------------------------------------------------
    def build_config(self) -> Any:
        """The ``RunConfig`` the form describes; UserError (one line) when something is invalid
        or the request as a whole would be refused."""
        from agentapp.engine.plan import RunConfig, prepare

        if self.game is None or self.algo is None:
            raise UserError("choose a game and a method first")
        form = self.query_one(SettingsForm)
        problems = form.problems()
        if problems:
            field, message = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise UserError(f"{field.spec.name}: {message}{more}")
        run = form.values("run")
        config = RunConfig(game=self.game.id, algo=self.algo, steps=run["steps"],
                           seed=run["seed"], envs=run.get("envs"), device=run["device"],
                           overrides=form.overrides(OVERRIDE_SECTIONS))
        prepare(config)  # what the form cannot see alone: settings that clash, an absent GPU
        return config

    async def action_train(self) -> None:
        await self.rebuild_form()  # a selection still resting: its form first
        try:
            config = self.build_config()
        except UserError as exc:
            self._refuse(str(exc))
            return
        self.app.start_training(config)

    def _refuse(self, message: str) -> None:
        status = self.query_one("#form-status", Static)
        status.update(f"✗ {message}")
        status.add_class("-error")
        self.notify(message, title="Cannot start training", severity="error")
        problems = self.query_one(SettingsForm).problems()
        if problems:
            field = problems[0][0]
            self.query_one(SettingsForm).scroll_to_widget(field, animate=False)
            field.control.focus()

    def action_runs(self) -> None:
        self.app.show_runs()

    def action_focus_filter(self) -> None:
        self.query_one("#game-filter", Input).focus()

    def action_clear_filter(self) -> None:
        games_filter = self.query_one("#game-filter", Input)
        if games_filter.value:
            games_filter.value = ""
        self.query_one(GameList).focus()
