"""Properties of the ``--set key=value`` parser (agentapp/params.py), checked on generated input.

Hand-written cases cover the inputs someone thought of; these cover the rest. For every settings
dataclass the app has (each method's hyperparameters and each game family's settings), whatever
text arrives, the parser either returns a valid instance or raises UserError with one line, never
any other exception, and never a value outside the declared range. Values it accepts survive
being written out and read back (the way config.json and checkpoints store them, and the way a
user retypes what ``agentapp inspect`` shows).
"""

from __future__ import annotations

import dataclasses
import math
import typing

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from agentapp.errors import UserError
from agentapp.params import (
    _NONE,
    apply_overrides,
    as_dict,
    describe,
    in_range,
    parse_assignments,
    split_overrides,
)

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _classes() -> list[type]:
    from agentapp.engine import algorithms
    from agentapp.games.atari import AtariParams
    from agentapp.games.classic import ClassicParams
    from agentapp.games.gridworld import GridworldParams

    classes = {cls.Hyperparameters for cls in algorithms.ALGORITHMS.values()}
    return sorted(classes | {AtariParams, ClassicParams, GridworldParams},
                  key=lambda c: c.__name__)


CLASSES = _classes()
classes = st.sampled_from(CLASSES)


def _meta(cls: type) -> dict[str, dict]:
    return {f.name: dict(f.metadata) for f in dataclasses.fields(cls)}


def _optional(cls: type, name: str) -> bool:
    return type(None) in typing.get_args(typing.get_type_hints(cls)[name])


def assert_valid(obj) -> None:
    """Every field has its declared type, and lies in its declared range or choices."""
    cls, meta = type(obj), _meta(type(obj))
    for info in describe(obj):
        value = getattr(obj, info.name)
        if value is None:
            assert _optional(cls, info.name), info.name
            continue
        kind = {"int": int, "float": float, "bool": bool, "str": str}[info.type]
        assert isinstance(value, kind) and (kind is bool or not isinstance(value, bool)), (
            info.name, value)
        if info.choices is not None:
            assert value in info.choices, (info.name, value)
        if kind in (int, float):
            assert math.isfinite(value), (info.name, value)
            assert in_range(value, info.low, info.high, meta[info.name].get("low_open", False)), (
                info.name, value)


def assert_one_line(error: UserError) -> None:
    message = str(error)
    assert message.strip(), "an empty message"
    assert message.isprintable(), f"not one printable line: {message!r}"


# -- text that looks like what people type, and text that does not ------------------------------

NUMBERISH = st.sampled_from([
    "0", "1", "-1", "0.5", "1.5", "-0.0", "1e-3", "1e6", "1e400", "-1e400", "nan", "NaN", "inf",
    "-inf", "Infinity", "1_000", " 2 ", "0x10", "1/2", "", " ", "true", "False", "none", "null",
    "default", "64,64", "64, 64", "tanh", "huber", "index", "walls", "9" * 30, "9" * 5000, "1e308",
    "2.5e-324", "١٢", "\u00a05", "5\n", "a\nb", "\x00", "\t",
])
values = st.one_of(NUMBERISH, st.text(max_size=12), st.integers().map(str),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr))


@st.composite
def overrides(draw, cls: type) -> dict[str, str]:
    names = [f.name for f in dataclasses.fields(cls)]
    keys = st.one_of(st.sampled_from(names), st.text(max_size=10),
                     st.sampled_from(names).map(lambda n: n[:-1] or "x"))
    return draw(st.dictionaries(keys, values, max_size=4))


@SETTINGS
@given(data=st.data())
def test_any_text_gives_a_valid_instance_or_one_line(data):
    cls = data.draw(classes, label="class")
    pairs = data.draw(overrides(cls), label="overrides")
    try:
        result = apply_overrides(cls(), pairs)
    except UserError as error:
        assert_one_line(error)
        return
    assert type(result) is cls
    assert_valid(result)
    for key in pairs:  # every key it accepted was a real field
        assert key in {f.name for f in dataclasses.fields(cls)}


@SETTINGS
@given(pairs=st.lists(st.one_of(st.text(max_size=16), st.builds(
    lambda k, v: f"{k}={v}", st.text(max_size=8), values)), max_size=5))
def test_the_command_line_pairs_parse_or_give_one_line(pairs):
    try:
        parsed = parse_assignments(pairs)
    except UserError as error:
        assert_one_line(error)
        return
    assert all(key and key == key.strip() for key in parsed)
    owners = [("hyperparameters", CLASSES[0]), ("game", CLASSES[-1])]
    try:
        parts = split_overrides(parsed, *owners)
        for (_, cls), part in zip(owners, parts, strict=True):
            assert_valid(apply_overrides(cls(), part))
    except UserError as error:
        assert_one_line(error)


# -- valid values, written out and read back ----------------------------------------------------


def valid_value(cls: type, name: str) -> st.SearchStrategy:
    """Values field *name* of *cls* accepts."""
    info = next(i for i in describe(cls) if i.name == name)
    meta = _meta(cls)[name]
    if info.choices is not None:
        strategy = st.sampled_from(info.choices)
    elif info.type == "bool":
        strategy = st.booleans()
    elif info.type == "int":
        strategy = st.integers(
            min_value=None if info.low is None else math.ceil(info.low)
            + (1 if meta.get("low_open") and float(info.low).is_integer() else 0),
            max_value=None if info.high is None else math.floor(info.high))
    elif info.type == "float":
        strategy = st.floats(min_value=info.low, max_value=info.high, allow_nan=False,
                             allow_infinity=False, exclude_min=bool(meta.get("low_open"))
                             and info.low is not None)
    else:  # free text, e.g. hidden=64,64: kept as typed, less surrounding blanks
        strategy = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp")),
                           min_size=1, max_size=12)
    if _optional(cls, name):
        strategy = st.one_of(st.none(), strategy)
    return strategy


def as_typed(value) -> str:
    """How a user (or ``agentapp inspect``) writes a value."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@st.composite
def valid_instance(draw):
    cls = draw(classes)
    names = draw(st.lists(st.sampled_from([f.name for f in dataclasses.fields(cls)]),
                          unique=True, max_size=6))
    chosen = {name: draw(valid_value(cls, name)) for name in names}
    assume(all(not (isinstance(v, str) and v.strip().lower() in _NONE) for v in chosen.values()))
    return cls, chosen


def _dqn() -> type:
    from agentapp.engine.algorithms.dqn import DQNSettings

    return DQNSettings


@SETTINGS
@given(case=valid_instance())
@example(case=(_dqn(), {"buffer_size": 2**63 + 1, "learning_rate": 5e-324}))  # exact, not float
@example(case=(_dqn(), {"hidden": "64,64", "loss": "mse", "double": True, "tau": 1.0}))
def test_valid_values_round_trip_as_text(case):
    cls, chosen = case
    result = apply_overrides(cls(), {k: as_typed(v) for k, v in chosen.items()})
    for name, value in chosen.items():
        assert getattr(result, name) == value, (name, value, getattr(result, name))
    assert_valid(result)


@SETTINGS
@given(case=valid_instance())
def test_saved_settings_load_back_identical(case):
    """config.json stores ``as_dict``; a resumed or evaluated run rebuilds from it."""
    cls, chosen = case
    obj = apply_overrides(cls(), {k: as_typed(v) for k, v in chosen.items()})
    assert apply_overrides(cls(), as_dict(obj)) == obj
    assert apply_overrides(cls(), {k: as_typed(v) for k, v in as_dict(obj).items()}) == obj


# -- bounds are enforced ------------------------------------------------------------------------

BOUNDED = [(cls, info.name) for cls in CLASSES for info in describe(cls)
           if info.type in ("int", "float") and (info.low is not None or info.high is not None)]


@st.composite
def out_of_range(draw):
    cls, name = draw(st.sampled_from(BOUNDED))
    info = next(i for i in describe(cls) if i.name == name)
    low_open = bool(_meta(cls)[name].get("low_open"))
    below, above = [], []
    if info.low is not None:
        below = [st.floats(max_value=info.low, exclude_max=not low_open, allow_nan=False,
                           allow_infinity=False)]
    if info.high is not None:
        above = [st.floats(min_value=info.high, exclude_min=True, allow_nan=False,
                           allow_infinity=False)]
    value = draw(st.one_of(*below, *above))
    if info.type == "int":
        value = math.floor(value) if value < (info.low if info.low is not None else 0) else (
            math.ceil(value))
        assume(not in_range(value, info.low, info.high, low_open))
    return cls, name, value


@SETTINGS
@given(case=out_of_range())
def test_values_outside_the_declared_range_are_refused(case):
    cls, name, value = case
    with pytest.raises(UserError) as caught:
        apply_overrides(cls(), {name: str(value)})
    assert_one_line(caught.value)
    assert str(caught.value).startswith(f"--set {name}=")
    assert "must be" in str(caught.value)


def test_every_class_has_bounded_numbers():
    """The generated properties above have something to chew on for each kind of settings."""
    assert {cls for cls, _ in BOUNDED} == set(CLASSES)
