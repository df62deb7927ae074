"""The form of a new run's settings, checked as you type by the parser behind ``--set``.

Every hyperparameter and game setting is a dataclass field declared with ``params.setting`` (help
text, range, choices). The form shows one row per field: an Input (a Select for choices, a
Checkbox for booleans), its help, and the message of the value as it is now. A value is checked
by ``params.apply_overrides`` itself, exactly as ``agentapp train --set key=value`` would check
it, so the form can never accept what the command line refuses, nor word it differently.
Only the fields changed from the preset become overrides: a run started here records the same
settings as the same run started from the command line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.validation import ValidationResult, Validator
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static

from agentapp.errors import UserError
from agentapp.params import apply_overrides, describe, parse_value

TEXT, BOOL, CHOICE = "text", "bool", "choice"


@dataclass(frozen=True)
class FieldSpec:
    """One row of the form."""

    name: str
    default: Any
    """The value the run gets when the field is left alone (the preset's)."""
    help: str
    check: Callable[[str], Any]
    """Text -> value; raises UserError with the reason when the text is not acceptable."""
    kind: str = TEXT
    choices: tuple[tuple[str, Any], ...] = ()
    """``(label, value)`` pairs for a choice."""
    placeholder: str = ""


def format_value(value: Any) -> str:
    """A value as the form shows it and ``--set`` would take it back."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def _check_setting(settings: Any, name: str, text: str) -> Any:
    return getattr(apply_overrides(settings, {name: text}), name)


def setting_specs(settings: Any) -> list[FieldSpec]:
    """The fields of a settings dataclass instance, defaulting to its values."""
    specs = []
    for info in describe(settings):
        kind = BOOL if info.type == "bool" else CHOICE if info.choices else TEXT
        specs.append(FieldSpec(
            name=info.name, default=info.default, help=info.help,
            check=partial(_check_setting, settings, info.name), kind=kind,
            choices=tuple((str(c), c) for c in info.choices or ()),
            placeholder="empty: default" if info.default is None else "",
        ))
    return specs


def count_check(flag: str, text: str, low: int = 1, blank: bool = False) -> int | None:
    """An integer of at least *low* (``--steps``, ``--envs``, ``--seed``), parsed as ``--set``
    parses integers; None for blank text when *blank* is allowed."""
    if blank and not text.strip():
        return None
    value = parse_value(flag, int, text)
    if value < low:
        raise UserError(f"{flag} {value}: must be at least {low}")
    return value


def short_reason(message: str) -> str:
    """``--set lr=-1: must be >= 0`` -> ``must be >= 0``: the field already names itself."""
    return re.sub(r"^--?[\w-]+[ =].*?: ", "", message, count=1)


def _shape(spec: FieldSpec) -> tuple[str, str, tuple[tuple[str, Any], ...]]:
    """What decides a field's widgets: refilling a field of the same shape is enough."""
    return spec.name, spec.kind, spec.choices


class _SpecValidator(Validator):
    def __init__(self, spec: FieldSpec) -> None:
        super().__init__()
        self.spec = spec

    def validate(self, value: str) -> ValidationResult:
        try:
            self.spec.check(value)
        except UserError as exc:
            return self.failure(short_reason(str(exc)))
        return self.success()


class SettingField(Widget):
    """One setting: its name, its control, its help and (when the value is refused) why."""

    DEFAULT_CSS = """
    SettingField {
        layout: grid; grid-size: 2; grid-columns: 18 1fr; grid-rows: auto;
        height: auto; margin-bottom: 1;
    }
    SettingField .setting-name { padding-right: 1; color: $text; }
    SettingField Checkbox, SettingField .setting-note { column-span: 2; }
    SettingField.-changed .setting-name, SettingField.-changed Checkbox {
        color: $text-accent; text-style: bold;
    }
    SettingField .setting-note { color: $text-muted; }
    SettingField.-invalid .setting-note { color: $text-error; }
    """

    def __init__(self, spec: FieldSpec, section: str) -> None:
        super().__init__(id=f"{section}-{spec.name}")
        self.spec = spec
        self.section = section
        self._checked: tuple[str, Any, str | None] | None = None
        self._shown: tuple[str | None, bool] | None = None

    def compose(self) -> ComposeResult:
        spec = self.spec
        if spec.kind == BOOL:
            yield Checkbox(spec.name, bool(spec.default), compact=True,
                           classes="setting-control")
        else:
            yield Label(spec.name, classes="setting-name")
            yield self._control()
        yield Static(spec.help, classes="setting-note")

    def _control(self) -> Widget:
        spec = self.spec
        if spec.kind == CHOICE:
            return Select(spec.choices, value=spec.default, allow_blank=False, compact=True,
                          classes="setting-control")
        return Input(format_value(spec.default), placeholder=spec.placeholder, compact=True,
                     validators=[_SpecValidator(spec)], validate_on=["changed", "submitted"],
                     classes="setting-control")

    @property
    def control(self) -> Widget:
        return self.query_one(".setting-control")

    def reset(self, spec: FieldSpec) -> None:
        """Show *spec* (same name and kind, new default and help) and its default value."""
        self.spec, self._checked, self._shown = spec, None, None
        control = self.control
        if isinstance(control, Input):
            control.validators[0].spec = spec  # type: ignore[attr-defined]
            control.placeholder = spec.placeholder
        control.value = format_value(spec.default) if isinstance(control, Input) else (
            spec.default)
        self.refresh_state()

    @property
    def text(self) -> str:
        """The value as ``--set`` takes it."""
        control = self.control
        if isinstance(control, Checkbox | Select):
            return format_value(control.value)
        assert isinstance(control, Input)
        return control.value.strip()

    def _check(self) -> tuple[Any, str | None]:
        """``(value, None)`` or ``(None, why it is refused)``, remembered for the same text
        (the form asks every field on every key press)."""
        text = self.text
        if self._checked is None or self._checked[0] != text:
            try:
                self._checked = (text, self.spec.check(text), None)
            except UserError as exc:
                self._checked = (text, None, short_reason(str(exc)))
        return self._checked[1], self._checked[2]

    @property
    def error(self) -> str | None:
        """Why the current value is refused; None when it is fine."""
        return self._check()[1]

    @property
    def value(self) -> Any:
        """The parsed value (raises UserError when it is refused)."""
        value, error = self._check()
        if error is not None:
            raise UserError(f"{self.spec.name}: {error}")
        return value

    @property
    def changed(self) -> bool:
        """Whether the value differs from the default (an invalid value counts as changed)."""
        value, error = self._check()
        return error is not None or value != self.spec.default

    def refresh_state(self) -> None:
        """Mark the field invalid (its note then says why) or changed from the default."""
        if not self.query(".setting-note") or not self.query(".setting-control"):
            # a control reports its first value as it mounts, which may arrive while its
            # field is half built, or half removed (the user moved on to another game)
            return
        error = self.error
        state = (error, error is None and self.changed)
        if state == self._shown:
            return
        self._shown = state
        self.set_class(error is not None, "-invalid")
        self.set_class(state[1], "-changed")
        note = f"✗ {error}" if error is not None else self.spec.help
        self.query(".setting-note").first(Static).update(note)


class SettingsForm(VerticalScroll, can_focus=False):
    """Sections of :class:`SettingField` rows, rebuilt whenever the game or method changes."""

    _shape: list[Any] | None = None
    """Sections and fields (names and kinds) of the form shown."""

    DEFAULT_CSS = """
    SettingsForm { height: 1fr; }
    SettingsForm .form-section {
        color: $text-accent; text-style: bold; margin-bottom: 1;
        border-bottom: solid $primary 30%;
    }
    """

    async def show(self, sections: Iterable[tuple[str, str, list[FieldSpec]]]) -> None:
        """Show *sections*: ``(key, title, fields)``; field ids are ``<key>-<name>``.

        When only the values differ from the form shown (one Atari game after another, PPO on
        CartPole then on Acrobot), the fields are refilled in place: building a form of thirty
        fields takes a noticeable fraction of a second, refilling it does not."""
        sections = [(key, title, specs) for key, title, specs in sections if specs]
        shape = [(key, [_shape(spec) for spec in specs]) for key, _, specs in sections]
        if shape == self._shape:
            for header, (_, title, _) in zip(self.query(".form-section"), sections, strict=True):
                header.update(title)
            fields = self.fields()
            for field, spec in zip(fields, [s for _, _, specs in sections for s in specs],
                                   strict=True):
                field.reset(spec)
            self.scroll_home(animate=False)
            return
        await self.remove_children()
        widgets: list[Widget] = []
        for key, title, specs in sections:
            widgets.append(Static(title, classes="form-section"))
            widgets.extend(SettingField(spec, key) for spec in specs)
        await self.mount_all(widgets)
        self._shape = shape
        self.scroll_home(animate=False)

    def fields(self, section: str | None = None) -> list[SettingField]:
        return [f for f in self.query(SettingField) if section is None or f.section == section]

    def field(self, section: str, name: str) -> SettingField:
        return self.query_one(f"#{section}-{name}", SettingField)

    def problems(self) -> list[tuple[SettingField, str]]:
        """Every refused field with its message, top to bottom."""
        found = []
        for field in self.fields():
            field.refresh_state()
            if (error := field.error) is not None:
                found.append((field, error))
        return found

    def overrides(self, sections: Iterable[str]) -> dict[str, str]:
        """``--set`` strings of the fields of *sections* changed from their defaults."""
        keep = set(sections)
        return {f.spec.name: f.text or "none" for f in self.fields()
                if f.section in keep and f.changed}

    def values(self, section: str) -> Mapping[str, Any]:
        """Parsed values of a section's fields (all of them must be valid)."""
        return {f.spec.name: f.value for f in self.fields(section)}

    def _changed(self, event: Any) -> None:
        for node in event.control.ancestors:
            if isinstance(node, SettingField):
                node.refresh_state()
                return

    def on_input_changed(self, event: Input.Changed) -> None:
        self._changed(event)

    def on_select_changed(self, event: Select.Changed) -> None:
        self._changed(event)

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self._changed(event)
