"""Classic control (and any other gymnasium environment) in the game registry.

Two families live here. ``classic`` names the well-known benchmarks by the short names people type
(``cartpole``, ``acrobot``, ``mountaincar``, ``lunarlander`` when Box2D is installed, and the two
with continuous actions, ``pendulum`` and ``mountaincar-continuous``, which only the
policy-gradient methods can play: a Gaussian policy); each short name is also an alias, so
``cartpole`` and ``classic:cartpole`` are the same game, whose id is ``cartpole``. ``gym`` takes
any registered gymnasium id (``gym:CartPole-v0``, ``gym:FrozenLake-v1``) whose observations are a
flat Box or Discrete and whose actions are Discrete or a flat Box; anything else is refused with
one line saying what is wrong.

Episodes end where gymnasium's own time limit says, settable with ``--set max_episode_steps=N``.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import gymnasium as gym
from gymnasium import spaces
from gymnasium.envs.registration import parse_env_id

from agentapp.errors import UserError, did_you_mean
from agentapp.games import registry
from agentapp.params import setting


@dataclass(frozen=True)
class ClassicParams:
    """Settings of a gymnasium game (``--set key=value``); defaults come from the gymnasium spec."""

    max_episode_steps: int | None = setting(
        None,
        "steps before an episode is cut off (none: only the game's own end)",
        low=1,
    )


@dataclass(frozen=True)
class _Known:
    env_id: str
    description: str
    observation: str
    actions: tuple[str, ...]
    needs: tuple[str, ...] = ()  # importable modules it needs beyond gymnasium
    default_algo: str = "ppo"  # the method whose preset learns the game (see presets/classic.py)
    continuous: bool = False  # Box actions (a Gaussian policy) instead of a few named ones


KNOWN: dict[str, _Known] = {
    "cartpole": _Known(
        "CartPole-v1",
        "Balance a pole on a cart",
        "Box(4,) cart position, velocity, pole angle, angular velocity",
        ("left", "right"),
    ),
    "acrobot": _Known(
        "Acrobot-v1",
        "Swing a two-link arm above the line",
        "Box(6,) cos and sin of both joint angles, both angular velocities",
        ("-1 torque", "0", "+1 torque"),
    ),
    "mountaincar": _Known(
        "MountainCar-v0",
        "Rock an underpowered car up a hill",
        "Box(2,) position, velocity",
        ("left", "none", "right"),
    ),
    "lunarlander": _Known(
        "LunarLander-v3",
        "Land a lander softly on the pad",
        "Box(8,) position, velocity, angle, angular velocity, leg contacts",
        ("none", "left engine", "main engine", "right engine"),
        needs=("Box2D", "pygame"),
    ),
    "pendulum": _Known(
        "Pendulum-v1",
        "Swing a pendulum up and hold it upright",
        "Box(3,) cos and sin of the angle, angular velocity",
        ("torque in [-2, 2]",),
        continuous=True,
    ),
    "mountaincar-continuous": _Known(
        "MountainCarContinuous-v0",
        "Rock an underpowered car up a hill, paying for fuel",
        "Box(2,) position, velocity",
        ("force in [-1, 1]",),
        continuous=True,
    ),
}
"""Friendly names: what users type, in listing order. A game with continuous actions names its
one action by what it is and its range."""

# Every friendly game has flat Box observations; its actions are Discrete or a flat Box.
_KNOWN_CAPS = frozenset({registry.BOX_OBS, registry.VECTOR_OBS, registry.DISCRETE_ACTIONS})
_KNOWN_CONTINUOUS_CAPS = frozenset({registry.BOX_OBS, registry.VECTOR_OBS,
                                    registry.CONTINUOUS_ACTIONS})
_BY_ENV_ID = {known.env_id: known for known in KNOWN.values()}
_INSTALL_HINT = 'pip install "gymnasium[box2d]"'


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def missing(name: str) -> list[str]:
    """The modules friendly game *name* needs that are not installed (LunarLander needs Box2D)."""
    return [module for module in KNOWN[name].needs if not _importable(module)]


def _make(env_id: str, params: ClassicParams, render_mode: str | None) -> gym.Env:
    try:
        return gym.make(env_id, max_episode_steps=params.max_episode_steps, render_mode=render_mode)
    except (gym.error.DependencyNotInstalled, ImportError) as exc:
        raise UserError(
            f"gym:{env_id} needs a package that is not installed: {_first(exc)}"
        ) from None


def _first(exc: BaseException) -> str:
    """The first line of an exception's message, for a one-line UserError."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _capabilities(obs_space: spaces.Space, action_space: spaces.Space) -> frozenset[str]:
    caps = {registry.VECTOR_OBS}
    caps.add(registry.DISCRETE_OBS if isinstance(obs_space, spaces.Discrete) else registry.BOX_OBS)
    if isinstance(action_space, spaces.Discrete):
        caps.add(registry.DISCRETE_ACTIONS)
    else:
        caps.add(registry.CONTINUOUS_ACTIONS)
    return frozenset(caps)


def _check_spaces(env_id: str, obs_space: spaces.Space, action_space: spaces.Space) -> None:
    """Raise UserError unless the spaces are ones the methods here can take."""
    where = f"gym:{env_id}"
    for role, space in (("observation", obs_space), ("action", action_space)):
        if isinstance(space, spaces.Discrete):
            if int(space.start) != 0:
                raise UserError(f"{where}: {role} space {space} does not start at 0")
        elif isinstance(space, spaces.Box):
            if len(space.shape) != 1:
                raise UserError(
                    f"{where}: {role} space Box{space.shape} is not flat; "
                    "only 1-D Box spaces are supported"
                )
        else:
            kind = "Discrete or a 1-D Box" if role == "action" else "a 1-D Box or Discrete"
            raise UserError(
                f"{where}: {role} space {type(space).__name__} is not supported (expected {kind})"
            )


def _space_summary(space: spaces.Space) -> str:
    if isinstance(space, spaces.Box):
        return f"Box({space.shape[0]},) {space.dtype}"
    return str(space)


def _game(
    game_id: str,
    env_id: str,
    caps: frozenset[str],
    *,
    description: str,
    observation: str,
    actions: tuple[str, ...],
    default_algo: str = "ppo",
) -> registry.Game:
    def make_env(params: ClassicParams, render_mode: str | None = None) -> gym.Env:
        return _make(env_id, params, render_mode)

    return registry.Game(
        id=game_id,
        family="classic",
        description=description,
        params=ClassicParams(max_episode_steps=gym.spec(env_id).max_episode_steps),
        make_env=make_env,
        capabilities_of=lambda params: caps,
        default_algo=default_algo,
        observation=observation,
        actions=actions,
    )


def _known_game(name: str) -> registry.Game:
    known = KNOWN[name]
    return _game(
        name,
        known.env_id,
        _KNOWN_CONTINUOUS_CAPS if known.continuous else _KNOWN_CAPS,
        description=f"{known.description} (gymnasium {known.env_id})",
        observation=known.observation,
        actions=known.actions,
        default_algo=known.default_algo,
    )


def classic_game(arg: str) -> registry.Game:
    """The game for ``classic:<name>`` (and the plain aliases ``cartpole``, ...)."""
    name = arg.strip().lower()
    if name not in KNOWN:
        names = ", ".join(KNOWN)
        if not name:
            raise UserError(f"classic: name a game, one of {names}")
        raise UserError(f"unknown classic game {arg!r}{did_you_mean(name, KNOWN)}; one of {names}")
    absent = missing(name)
    if absent:
        raise UserError(f"{name} needs {', '.join(absent)}, not installed: {_INSTALL_HINT}")
    return _known_game(name)


def _find_env_id(text: str) -> str:
    """The registered gymnasium id that *text* names: exact, else case-insensitive, else the
    newest version of a versionless name; UserError with the nearest ids otherwise."""
    if text in gym.registry:
        return text
    lowered = {env_id.lower(): env_id for env_id in gym.registry}
    if text.lower() in lowered:
        return lowered[text.lower()]
    try:
        namespace, name, version = parse_env_id(text)
    except gym.error.Error:
        namespace, name, version = None, text, None
    if version is None:
        versions = []
        for env_id, spec in gym.registry.items():
            same_ns = (spec.namespace or "").lower() == (namespace or "").lower()
            if same_ns and spec.name.lower() == name.lower() and spec.version is not None:
                versions.append((spec.version, env_id))
        if versions:
            return max(versions)[1]
    hint = did_you_mean(text, gym.registry)
    raise UserError(f"unknown gymnasium id {text!r}{hint}; see gymnasium's registry")


def _spaces_of(env_id: str) -> tuple[spaces.Space, spaces.Space]:
    """Build *env_id* once to read its spaces (a spec does not hold them)."""
    try:
        env = _make(env_id, ClassicParams(), None)
    except UserError:
        raise
    except Exception as exc:  # a third-party environment may fail in any way
        raise UserError(
            f"gym:{env_id} could not be built: {type(exc).__name__}: {_first(exc)}"
        ) from None
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()


def gym_game(arg: str) -> registry.Game:
    """The game for ``gym:<gymnasium id>``: any registered environment with supported spaces."""
    text = arg.strip()
    if not text:
        raise UserError("gym: name a gymnasium id, e.g. gym:CartPole-v1")
    env_id = _find_env_id(text)
    obs_space, action_space = _spaces_of(env_id)
    _check_spaces(env_id, obs_space, action_space)
    known = _BY_ENV_ID.get(env_id)
    if known is not None:
        description, observation = f"{known.description} (gymnasium {env_id})", known.observation
        actions = known.actions
    else:
        description, observation = f"gymnasium {env_id}", _space_summary(obs_space)
        discrete = isinstance(action_space, spaces.Discrete)
        actions = tuple(str(i) for i in range(int(action_space.n))) if discrete else ()
    return _game(
        f"gym:{env_id}",
        env_id,
        _capabilities(obs_space, action_space),
        description=description,
        observation=observation,
        actions=actions,
    )


def listing() -> list[registry.Game]:
    return [_known_game(name) for name in KNOWN if not missing(name)]


registry.register_family(
    "classic", classic_game, listing, aliases={name: f"classic:{name}" for name in KNOWN}
)
registry.register_family("gym", gym_game, list)
