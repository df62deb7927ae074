"""The Atari 2600 games bundled with ale-py, in the game registry.

Every ROM ale-py ships is a game named after it with dashes (``pong``, ``space-invaders``,
``ms-pacman``); each name is also an alias, so ``pong`` and ``atari:pong`` are one game, and
``atari:`` takes the other spellings people copy from papers and code (``atari:Pong``,
``atari:ALE/Pong-v5``, ``atari:PongNoFrameskip-v4``, ``atari:space_invaders``).

Games are played with the standard preprocessing (Mnih et al. 2015; Machado et al. 2018): the
action repeated for 4 frames, the last two max-pooled, 84x84 grayscale, 4 frames stacked, up to 30
random no-ops at the start of a game, FIRE pressed where a game waits for it, cut off after 108,000
frames. Training learns from clipped rewards with a lost life as the end of an episode; evaluating
and watching always see the whole game and its real score. ``atari_env`` holds the environments.

Listing a game needs its action names, and ale-py only tells them by loading the ROM (about a
tenth of a second each, 11 s for all), so they come from ``atari_actions.json``, a table made by
:func:`write_action_table` (``python -m agentapp.games.atari``) and checked against ale-py by the
tests; a ROM the table does not know is asked directly.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentapp.errors import UserError, did_you_mean
from agentapp.games import registry
from agentapp.params import setting

MACHADO_STICKY = 0.25
"""The sticky-action probability of Machado et al. (2018), ale-py's v5 environments."""


@dataclass(frozen=True)
class AtariParams:
    """Settings of an Atari game (``--set key=value``)."""

    sticky: float = setting(
        0.0,
        "probability that the emulator repeats the previous action instead of the chosen one "
        f"(repeat_action_probability); {MACHADO_STICKY} is the Machado et al. (2018) v5 protocol",
        low=0.0,
        high=1.0,
    )
    noop_max: int = setting(
        30, "up to this many random no-op actions at the start of each game (0: off)", low=0
    )
    frame_skip: int = setting(4, "emulator frames each action is repeated for", low=1, high=64)
    stack: int = setting(4, "frames stacked into one observation", low=1, high=64)
    max_frames: int = setting(
        108_000,
        "emulator frames per game before it is cut off (truncated)",
        low=1,
        high=2**30,
    )
    fire_reset: bool = setting(
        True, "press FIRE at the start of a game where the game has a FIRE action"
    )
    full_action_space: bool = setting(
        False, "offer all 18 joystick actions instead of the game's own minimal set"
    )
    life_loss_terminal: bool = setting(
        True,
        "training only: treat the loss of a life as the end of an episode for learning (the "
        "game itself goes on); evaluation always plays whole games",
    )
    clip_rewards: bool = setting(
        True,
        "training only: learn from the sign of each reward (-1, 0, +1); evaluation and the "
        "reward panel always show the real score",
    )


def describe_protocol(params: AtariParams) -> str:
    """How the game is played and scored, for evaluation reports."""
    if params.sticky == 0:
        sticky = "no sticky actions"
    elif params.sticky == MACHADO_STICKY:
        sticky = f"sticky actions {MACHADO_STICKY:g} (Machado et al. 2018 v5 protocol)"
    else:
        sticky = f"sticky actions {params.sticky:g}"
    noops = f"up to {params.noop_max} no-op starts" if params.noop_max else "no no-op starts"
    parts = [sticky, noops, "full game score"]
    if params.max_frames != AtariParams.max_frames:
        parts.append(f"games cut off after {params.max_frames} frames")
    return ", ".join(parts)


# -- names ---------------------------------------------------------------------------------------
_TITLES = {
    "atlantis2": "Atlantis II",
    "et": "E.T.",
    "hero": "H.E.R.O.",
    "jamesbond": "James Bond 007",
    "koolaid": "Kool-Aid Man",
    "kung_fu_master": "Kung-Fu Master",
    "mario_bros": "Mario Bros.",
    "montezuma_revenge": "Montezuma's Revenge",
    "mr_do": "Mr. Do!",
    "ms_pacman": "Ms. Pac-Man",
    "pacman": "Pac-Man",
    "pitfall2": "Pitfall II",
    "qbert": "Q*bert",
    "tic_tac_toe_3d": "3-D Tic-Tac-Toe",
    "trondead": "Tron: Deadly Discs",
    "up_n_down": "Up 'n Down",
    "wizard_of_wor": "Wizard of Wor",
    "yars_revenge": "Yars' Revenge",
}
_ABOUT = {
    "pong": "beat the computer at table tennis, first to 21 points",
    "breakout": "knock out a wall of bricks with a ball and paddle",
    "space_invaders": "shoot down the waves of descending aliens",
    "ms_pacman": "eat every pellet in the maze and keep away from the ghosts",
    "seaquest": "rescue divers by submarine and surface before the air runs out",
    "qbert": "hop on every cube of the pyramid to change its colour",
    "beam_rider": "destroy the enemy saucers along a grid of beams",
    "enduro": "overtake cars in a day-and-night endurance race",
    "montezuma_revenge": "explore a pyramid of rooms; rewards are rare",
    "freeway": "get a chicken across ten lanes of traffic",
    "asteroids": "blast drifting rocks and flying saucers",
}
"""A hand-written line for the best-known games."""


def friendly(rom_id: str) -> str:
    """The game id for a ROM: ``space_invaders`` -> ``space-invaders``."""
    return rom_id.replace("_", "-")


def title(rom_id: str) -> str:
    return _TITLES.get(rom_id) or rom_id.replace("_", " ").title()


def describe(rom_id: str) -> str:
    about = _ABOUT.get(rom_id)
    return f"Atari 2600 {title(rom_id)}{': ' + about if about else ''} (ale-py)"


def _key(text: str) -> str:
    """What is left of a name once case, separators and gymnasium's decorations are gone:
    ``ALE/SpaceInvaders-v5``, ``SpaceInvadersNoFrameskip-v4`` and ``space_invaders`` agree."""
    text = text.strip()
    text = re.sub(r"^ALE/", "", text, flags=re.IGNORECASE)
    text = re.sub(r"-v\d+$", "", text, flags=re.IGNORECASE)
    text = re.sub(r"(NoFrameskip|Deterministic)$", "", text, flags=re.IGNORECASE)
    return re.sub(r"[^a-z0-9]", "", text.lower())


@functools.cache
def rom_ids() -> tuple[str, ...]:
    """The ROMs bundled with ale-py that it can play. It also ships a few multiplayer ROMs
    (Combat, Joust, ...) that it cannot play alone; loading one ends the process, so they are
    checked for without loading anything and left out."""
    from ale_py import ALEInterface, roms

    table = action_table()
    return tuple(
        rom for rom in roms.get_all_rom_ids()
        if rom in table or ALEInterface.isSupportedROM(roms.get_rom_path(rom))
    )


def find_rom(arg: str) -> str:
    """The ROM id that *arg* names (any of the spellings above), or UserError."""
    from ale_py import roms

    name = arg.strip()
    if not name:
        raise UserError("atari: name a game, e.g. atari:pong; see `agentapp list`")
    playable = {_key(rom): rom for rom in rom_ids()}
    rom = playable.get(_key(name))
    if rom is not None:
        return rom
    if any(_key(other) == _key(name) for other in roms.get_all_rom_ids()):
        raise UserError(f"atari:{name}: ale-py ships this ROM but cannot play it single-player")
    hint = did_you_mean(friendly(name.lower()), [friendly(rom) for rom in playable.values()])
    raise UserError(f"unknown Atari game {name!r}{hint}; see `agentapp list`")


# -- action sets ---------------------------------------------------------------------------------
ACTION_TABLE = Path(__file__).with_name("atari_actions.json")


@functools.lru_cache(maxsize=1)
def action_table() -> dict[str, tuple[str, ...]]:
    """The shipped table of minimal action sets, ROM id -> action names (empty if missing)."""
    try:
        data = json.loads(ACTION_TABLE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {rom: tuple(names) for rom, names in data.items()}


def ale_actions(rom_id: str) -> tuple[str, ...]:
    """The minimal action set of *rom_id* as ale-py reports it, by loading the ROM."""
    from ale_py import ALEInterface, LoggerMode, roms

    ALEInterface.setLoggerMode(LoggerMode.Error)
    ale = ALEInterface()
    ale.loadROM(roms.get_rom_path(rom_id))
    return tuple(action.name for action in ale.getMinimalActionSet())


@functools.cache
def minimal_actions(rom_id: str) -> tuple[str, ...]:
    """Action names of *rom_id*'s minimal action set, in action-index order."""
    return action_table().get(rom_id) or ale_actions(rom_id)


def full_actions() -> tuple[str, ...]:
    """All 18 joystick actions in ALE's order (its legal action set)."""
    from ale_py import Action

    return tuple(Action.__members__)


def write_action_table(path: Path = ACTION_TABLE) -> None:
    """Regenerate ``atari_actions.json`` from ale-py (after upgrading it): one ROM a line."""
    from ale_py import ALEInterface, roms

    supported = [
        rom for rom in roms.get_all_rom_ids() if ALEInterface.isSupportedROM(roms.get_rom_path(rom))
    ]
    lines = [f"  {json.dumps(rom)}: {json.dumps(list(ale_actions(rom)))}" for rom in supported]
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    for cached in (action_table, minimal_actions, rom_ids):
        cached.cache_clear()


# -- games ---------------------------------------------------------------------------------------
_CAPS = frozenset({registry.PIXELS, registry.DISCRETE_ACTIONS})


def _actions_for(rom_id: str, params: AtariParams) -> tuple[str, ...]:
    return full_actions() if params.full_action_space else minimal_actions(rom_id)


def _game(rom_id: str) -> registry.Game:
    def make_env(params: AtariParams, render_mode: str | None = None) -> Any:
        from agentapp.games.atari_env import AtariEnv

        return AtariEnv(rom_id, params, _actions_for(rom_id, params), render_mode=render_mode)

    def make_vector(params: AtariParams, n_envs: int, seed: int | None, threads: int) -> Any:
        from agentapp.games.atari_env import AtariVector

        if n_envs < 1:
            raise UserError(f"--envs {n_envs}: must be at least 1")
        return AtariVector(rom_id, params, n_envs, seed, threads)

    params = AtariParams()
    return registry.Game(
        id=friendly(rom_id),
        family="atari",
        description=describe(rom_id),
        params=params,
        make_env=make_env,
        capabilities_of=lambda params: _CAPS,
        default_algo="ppo",
        observation=f"{params.stack} stacked 84x84 grayscale frames (uint8)",
        actions=minimal_actions(rom_id),
        make_vector=make_vector,
        describe_protocol=describe_protocol,
    )


def atari_game(arg: str) -> registry.Game:
    """The game for ``atari:<name>`` (and the plain aliases ``pong``, ``space-invaders``, ...)."""
    return _game(find_rom(arg))


def listing() -> list[registry.Game]:
    return [_game(rom) for rom in rom_ids()]


def _aliases() -> dict[str, str]:
    """``pong`` -> ``atari:pong`` for every game, without loading any ROM."""
    return {friendly(rom): f"atari:{friendly(rom)}" for rom in rom_ids()}


registry.register_family("atari", atari_game, listing, aliases=_aliases())

if __name__ == "__main__":
    write_action_table()
