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


def parse_value(name: str, tp: type, text: Any) -> Any:
    """Convert *text* to *tp* (bool, int, float or str); raise UserError on a wrong type."""
    if not isinstance(text, str):
        text_value = text
        if tp is float and isinstance(text_value, int) and not isinstance(text_value, bool):
            return float(text_value)
        if isinstance(text_value, tp):
            return text_value
        text = str(text_value)
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
            value = float(raw)
            if not value.is_integer():
                raise ValueError
            return int(value)
        if tp is float:
            value = float(raw)
            if math.isnan(value):
                raise ValueError
            return value
        if tp is str:
            return raw
    except ValueError:
        raise UserError(f"--set {name}={text}: expected {tp.__name__}, got {raw!r}") from None
    raise UserError(f"--set {name}: unsupported field type {tp.__name__}")


def validate_field(cls: type, name: str, value: Any) -> None:
    """Check *value* against the range and choices declared for field *name* of *cls*."""
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    meta = field.metadata
    choices, low, high = meta.get("choices"), meta.get("low"), meta.get("high")
    if choices is not None and value not in choices:
        options = ", ".join(str(c) for c in choices)
        raise UserError(f"--set {name}={value}: must be one of {options}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if low is not None and (value < low or (meta.get("low_open") and value == low)):
            op = ">" if meta.get("low_open") else ">="
            raise UserError(f"--set {name}={value}: must be {op} {low}")
        if high is not None and value > high:
            raise UserError(f"--set {name}={value}: must be <= {high}")


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
            raise UserError(f"--set {key}: unknown setting{did_you_mean(key, fields)}")
        if _optional(cls, key) and (text is None or str(text).strip().lower() in _NONE):
            changes[key] = None
            continue
        value = parse_value(key, _field_type(cls, fields[key]), text)
        validate_field(cls, key, value)
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
            raise UserError(f"--set {key}: unknown setting{did_you_mean(key, known)}")
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
