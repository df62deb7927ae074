"""Typed, documented, validated settings: the machinery behind ``--set key=value``.

Algorithm hyperparameters and game parameters are frozen dataclasses whose fields are declared with
:func:`setting`, which records a help text and the valid range or choices. :func:`apply_overrides`
turns ``key=value`` strings into a new instance, checking the name (with the nearest valid names
when it is wrong), the type and the range, and raises :class:`~agentapp.errors.UserError` with one
clear line otherwise. Front ends read :func:`describe` to show each field with its help.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from agentapp.errors import UserError, did_you_mean


def setting(
    default: Any,
    help: str,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: Sequence[Any] | None = None,
    low_open: bool = False,
) -> Any:
    """Declare a dataclass field with its help text and valid range.

    ``low``/``high`` are inclusive bounds (``low_open=True`` makes the lower bound exclusive);
    ``choices`` lists the allowed values.
    """
    meta = {"help": help, "low": low, "high": high, "choices": choices, "low_open": low_open}
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """One settable field, as shown by ``agentapp inspect`` and the TUI form."""

    name: str
    type: str
    default: Any
    help: str
    low: float | None
    high: float | None
    choices: tuple[Any, ...] | None


def _field_type(cls: type, field: dataclasses.Field) -> type:
    return _unwrap(typing.get_type_hints(cls)[field.name])[0]


def _unwrap(tp: Any) -> tuple[type, bool]:
    """``(base type, whether None is allowed)`` for ``float`` or ``float | None``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        return next(a for a in args if a is not type(None)), type(None) in args
    return tp, False


def _optional(cls: type, name: str) -> bool:
    return _unwrap(typing.get_type_hints(cls)[name])[1]


def describe(cls_or_obj: Any) -> list[FieldInfo]:
    """List the settable fields of a settings dataclass (class or instance)."""
    cls = cls_or_obj if isinstance(cls_or_obj, type) else type(cls_or_obj)
    infos = []
    for f in dataclasses.fields(cls):
        meta = f.metadata
        default = getattr(cls_or_obj, f.name) if not isinstance(cls_or_obj, type) else f.default
        choices = meta.get("choices")
        infos.append(
            FieldInfo(
                name=f.name,
                type=_field_type(cls, f).__name__,
                default=default,
                help=meta.get("help", ""),
                low=meta.get("low"),
                high=meta.get("high"),
                choices=tuple(choices) if choices is not None else None,
            )
        )
    return infos


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_NONE = {"none", "null", "default", ""}


def shown(text: Any) -> str:
    """*text* as a message shows it: as typed, or quoted with escapes when it holds a line break
    or another unprintable character (a message is always one line)."""
    text = str(text)
    return text if text.isprintable() else repr(text)


def parse_value(name: str, tp: type, text: Any) -> Any:
    """Convert *text* to *tp* (bool, int, float or str); raise UserError on a wrong type.

    Integers are read exactly (``12345678901234567890`` stays that number) and may be written as
    a whole float (``1e6``); floats must be finite: ``nan`` and ``inf`` are refused.
    """
    if not isinstance(text, str):
        if tp is float and isinstance(text, int | float) and not isinstance(text, bool):
            text = float(text)
            if math.isfinite(text):
                return text
        elif isinstance(text, tp) and not (tp is int and isinstance(text, bool)):
            return text
        text = str(text)
    raw = text.strip()
    try:
        if tp is bool:
            low = raw.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError
        if tp is int:
            return _parse_int(raw)
        if tp is float:
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError
            return value
        if tp is str:
            return raw
    except (ValueError, OverflowError):
        expected = "a finite float" if tp is float and _non_finite(raw) else tp.__name__
        raise UserError(f"--set {name}={shown(text)}: expected {expected}, got {raw!r}") from None
    raise UserError(f"--set {name}: unsupported field type {tp.__name__}")


def _non_finite(raw: str) -> bool:
    """True for ``nan``, ``inf``, ``-1e999``: numbers, but none a setting can take."""
    try:
        return not math.isfinite(float(raw))
    except ValueError:
        return False


def _parse_int(raw: str) -> int:
    """``"12"`` -> 12, exactly; ``"1e6"`` or ``"2.0"`` -> a whole number written as a float."""
    try:
        return int(raw)
    except ValueError:
        value = float(raw)
        if not math.isfinite(value) or not value.is_integer():
            raise ValueError(raw) from None
        return int(value)


def _num(bound: float) -> str:
    return f"{bound:g}"


def range_text(low: float | None, high: float | None, low_open: bool = False) -> str:
    """``> 0``, ``>= 1``, ``<= 64``, ``in [0, 1]`` or ``in (0, 1]``: a field's valid range."""
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{_num(low)}, {_num(high)}]"
    if low is not None:
        return f"{'>' if low_open else '>='} {_num(low)}"
    if high is not None:
        return f"<= {_num(high)}"
    return "any number"


def in_range(value: float, low: float | None, high: float | None, low_open: bool = False) -> bool:
    if low is not None and (value < low or (low_open and value == low)):
        return False
    return high is None or value <= high


def validate_field(cls: type, name: str, value: Any, text: Any = None) -> None:
    """Check *value* against the range and choices declared for field *name* of *cls*.

    *text* is the value as the user typed it, for the message (default: the value itself).
    """
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    meta = field.metadata
    choices, low, high = meta.get("choices"), meta.get("low"), meta.get("high")
    typed = shown(value if text is None else str(text).strip())
    if choices is not None and value not in choices:
        options = ", ".join(str(c) for c in choices)
        raise UserError(f"--set {name}={typed}: must be one of {options}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        low_open = bool(meta.get("low_open"))
        if not in_range(value, low, high, low_open):
            raise UserError(f"--set {name}={typed}: must be {range_text(low, high, low_open)}")


def unknown_setting(key: str, known: Sequence[str]) -> UserError:
    """The error for a ``--set`` key that names no setting: the nearest names, else all of them
    (an abbreviation such as ``lr`` is nowhere near ``learning_rate`` to difflib)."""
    hint = did_you_mean(key, known)
    short = key.strip().lower()
    abbreviated = [n for n in known if short and (
        n.startswith(short) or "".join(w[0] for w in n.split("_") if w) == short)]
    if not hint and abbreviated:
        hint = f" (did you mean: {', '.join(abbreviated[:3])}?)"
    if not hint:
        hint = f" (valid: {', '.join(known)})" if known else " (there is nothing to set)"
    return UserError(f"--set {shown(key)}: unknown setting{hint}")


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def apply_overrides(obj: Any, overrides: Mapping[str, Any]) -> Any:
    """Return a copy of settings dataclass *obj* with *overrides* parsed, validated and applied.

    Every key must name a field of *obj*; use :func:`split_overrides` first when several settings
    objects share one ``--set`` namespace.
    """
    cls = type(obj)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    changes = {}
    for key, text in overrides.items():
        if key not in fields:
            raise unknown_setting(key, list(fields))
        if _optional(cls, key) and (text is None or str(text).strip().lower() in _NONE):
            changes[key] = None
            continue
        value = parse_value(key, _field_type(cls, fields[key]), text)
        validate_field(cls, key, value, text)
        changes[key] = value
    return dataclasses.replace(obj, **changes)


def split_overrides(
    overrides: Mapping[str, Any], *owners: tuple[str, type]
) -> list[dict[str, Any]]:
    """Share out ``--set`` keys among several settings classes, first owner first.

    *owners* are ``(label, cls)`` pairs; returns one dict per owner. An unknown key raises
    UserError naming the nearest valid keys of all owners.
    """
    parts: list[dict[str, Any]] = [{} for _ in owners]
    known: list[str] = []
    for _, cls in owners:
        known.extend(field_names(cls))
    for key, value in overrides.items():
        for i, (_, cls) in enumerate(owners):
            if key in field_names(cls):
                parts[i][key] = value
                break
        else:
            raise unknown_setting(key, known)
    return parts


def parse_assignments(pairs: Sequence[str]) -> dict[str, str]:
    """Parse ``["key=value", ...]`` from the command line; raise UserError on a malformed pair."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UserError(f"--set {pair!r}: expected key=value")
        result[key] = value
    return result


def as_dict(obj: Any) -> dict[str, Any]:
    """Plain-data view of a settings dataclass, for config.json and checkpoints."""
    return dataclasses.asdict(obj)
