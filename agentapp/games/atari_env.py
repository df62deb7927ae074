"""The two Atari environments: one game played whole for evaluation and watching, and the batched
games that training steps.

Training runs on ale-py's C++ ``AtariVectorEnv`` (frame skip, max-pooling, resizing and frame
stacking in threads, far faster than Python wrappers). :class:`AtariVector` puts the learning
signal on top of it (clipped rewards, a lost life as the end of an episode, our own frame cap with
the true last observation) with the interface of a gymnasium vector env in same-step autoreset
mode, and reports the real game score and the real ends of games beside it.

:class:`AtariEnv` plays one game through ``ale_py.ALEInterface`` with the same preprocessing
written out here, step for step as ale-py 0.12's ``preprocessed_env.cpp`` does it (quirks
included), so that an agent is evaluated on exactly the pixels it was trained on: the same seed
and the same actions give the same observations in both (``tests/games/test_atari.py`` checks it).
It plays the whole game: raw score, every life, cut off only at ``max_frames``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import cv2
import gymnasium as gym
import numpy as np
from ale_py import Action, ALEInterface, LoggerMode, roms
from ale_py.vector_env import AtariVectorEnv
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

if TYPE_CHECKING:
    from agentapp.games.atari import AtariParams

OBS_SIZE = 84
"""Observations are 84x84 (Mnih et al. 2015), what the C++ vector env makes by default."""
_SEED_MASK = 0x7FFFFFFF  # ALE and the C++ env take seeds as a C int; larger seeds wrap into it


def ale_seed(seed: int) -> int:
    """*seed* as both environments use it: the C++ side takes a non-negative 32-bit int."""
    return int(seed) & _SEED_MASK


def _quiet_ale() -> ALEInterface:
    ALEInterface.setLoggerMode(LoggerMode.Error)  # no ROM banner on every load
    return ALEInterface()


def noop_draw(rng: np.random.RandomState, noop_max: int) -> int:
    """One draw of ``std::uniform_int_distribution<int>(0, noop_max - 1)`` from ``std::mt19937``
    as libstdc++ makes it (Lemire's multiply-shift with rejection), from *rng*, a
    ``RandomState`` seeded with the same integer: it produces the same 32-bit MT19937 stream.
    Matching it makes the random no-op starts of both environments agree for a seed."""
    span = max(noop_max, 1)  # C++: (0, noop_max > 0 ? noop_max - 1 : 0)
    threshold = (2**32 - span) % span
    while True:
        product = int(rng.randint(0, 2**32, dtype=np.uint32)) * span
        if product & 0xFFFFFFFF >= threshold:
            return product >> 32


class AtariEnv(gym.Env):
    """One Atari game, played whole, seeing what training saw.

    Observations: ``stack`` grayscale 84x84 frames (uint8), newest last, zero-filled at the start
    of a game. Each step repeats the action for ``frame_skip`` frames and max-pools the last two
    screens. A reset with a seed reseeds the emulator (sticky actions) and the no-op generator,
    as ale-py's vector env does; a reset without one goes on with both.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 15}  # noqa: RUF012

    def __init__(
        self,
        rom_id: str,
        params: AtariParams,
        actions: tuple[str, ...],
        render_mode: str | None = None,
    ) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode {render_mode!r}: only 'rgb_array' is supported")
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": 60 / params.frame_skip}
        self.params = params
        self._rom_path = roms.get_rom_path(rom_id)
        self._ale = _quiet_ale()
        # the ROM is loaded by the first reset (which loads it again anyway when seeded): making
        # an env just to read its spaces stays cheap
        self._loaded = False
        self._actions = [Action[name] for name in actions]
        self._fire = params.fire_reset and Action.FIRE in self._actions
        self._noops: np.random.RandomState | None = None
        self._raw: np.ndarray | None = None  # the C++ env's two persistent raw frame buffers
        self._stack = np.zeros((params.stack, OBS_SIZE, OBS_SIZE), dtype=np.uint8)
        self._frames = 0  # emulator frames of agent steps since the game began
        self.keep_frames = False
        """Keep every emulated frame in colour (for watching: the agent acts on every
        ``frame_skip``-th frame, a person sees all 60 a second); :meth:`take_frames` hands them
        over. Off for evaluation, which needs no pictures."""
        self._kept: list[np.ndarray] = []
        self.observation_space = spaces.Box(0, 255, self._stack.shape, dtype=np.uint8)
        self.action_space = spaces.Discrete(len(self._actions))

    # -- the game ------------------------------------------------------------------------------
    def _load(self, seed: int) -> None:
        self._ale.setInt("random_seed", seed)
        self._ale.setFloat("repeat_action_probability", self.params.sticky)
        self._ale.loadROM(self._rom_path)
        self._noops = np.random.RandomState(seed)
        if not self._loaded:
            height, width = self._ale.getScreenDims()
            self._raw = np.zeros((2, height, width), dtype=np.uint8)
            self._loaded = True

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self._load(ale_seed(seed))
        elif not self._loaded:  # unseeded first game: fresh entropy, as the C++ env's
            self._load(ale_seed(int(np.random.SeedSequence().generate_state(1)[0])))
        ale = self._ale
        ale.reset_game()
        if self._fire:  # games that wait for FIRE to serve would otherwise idle
            ale.act(Action.FIRE, 1.0)
        # the C++ env counts the FIRE press as one of the random no-ops
        for _ in range(noop_draw(self._noops, self.params.noop_max) - int(self._fire)):
            ale.act(Action.NOOP, 1.0)
            if ale.game_over():
                ale.reset_game()
        self._stack[:] = 0
        ale.getScreenGrayscale(self._raw[0])
        self._raw[1] = 0
        self._push_frame()
        self._frames = 0
        return self._stack.copy(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        ale, act = self._ale, self._actions[int(action)]
        reward = 0
        for left in range(self.params.frame_skip, 0, -1):
            reward += ale.act(act, 1.0)
            if self.keep_frames:
                self._kept.append(ale.getScreenRGB())
            # at game over the C++ loop stops before capturing the screen: what gets pooled then
            # is the buffers' previous contents, which this copies
            if ale.game_over():
                break
            if left <= 2:  # the last two frames of the skip, into buffers 1 then 0
                ale.getScreenGrayscale(self._raw[left - 1])
        self._push_frame()
        self._frames += self.params.frame_skip
        terminated = ale.game_over()
        truncated = not terminated and self._frames >= self.params.max_frames
        return self._stack.copy(), float(reward), terminated, truncated, self._info()

    def _push_frame(self) -> None:
        raw = self._raw
        np.maximum(raw[0], raw[1], out=raw[0])  # in place, as the C++ does: it persists
        frame = cv2.resize(raw[0], (OBS_SIZE, OBS_SIZE), interpolation=cv2.INTER_AREA)
        self._stack[:-1] = self._stack[1:]
        self._stack[-1] = frame

    def _info(self) -> dict[str, Any]:
        return {
            "lives": self._ale.lives(),
            "episode_frame_number": self._ale.getEpisodeFrameNumber(),
        }

    def render(self) -> np.ndarray | None:
        """The last emulated frame in full colour (210x160x3), what a person watches."""
        if self.render_mode != "rgb_array":
            return None
        if not self._loaded:
            return np.zeros((210, 160, 3), dtype=np.uint8)
        return self._ale.getScreenRGB()

    def take_frames(self) -> list[np.ndarray]:
        """The colour frames emulated since the last call (with :attr:`keep_frames`), oldest
        first: the ``frame_skip`` frames of a step, fewer when the game ended within it."""
        kept, self._kept = self._kept, []
        return kept

    def close(self) -> None:
        self._ale = None


class AtariVector:
    """Many Atari games stepped as one batch for training, in gymnasium's ``SAME_STEP`` autoreset
    convention (see ``agentapp.engine.vector``).

    ``step`` returns what learning uses: rewards clipped to their sign when ``clip_rewards``,
    ``terminated`` at game over and, when ``life_loss_terminal``, at every lost life (the game
    goes on), ``truncated`` when a game reaches ``max_frames``. ``infos`` carries the real game
    beside it: ``score`` (raw rewards), ``game_over`` (the real game ended: over or cut off) and
    ``lives``. There is no ``call``: the C++ games cannot be snapshotted, so a resumed run starts
    new games.
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.SAME_STEP}  # noqa: RUF012

    def __init__(
        self, rom_id: str, params: AtariParams, n_envs: int, seed: int | None, threads: int
    ) -> None:
        self.params = params
        self.num_envs = n_envs
        self._envs = AtariVectorEnv(
            rom_id,
            n_envs,
            num_threads=threads or 0,
            autoreset_mode=AutoresetMode.SAME_STEP,
            episodic_life=False,  # a lost life is ours to report; the game goes on in C++
            life_loss_info=False,
            reward_clipping=False,  # the raw score is reported too, so clip here
            repeat_action_probability=params.sticky,
            noop_max=params.noop_max,
            frameskip=params.frame_skip,
            stack_num=params.stack,
            use_fire_reset=params.fire_reset,
            full_action_space=params.full_action_space,
            # the cap is ours (with the true last observation); the C++ one must never come first
            max_num_frames_per_episode=params.max_frames + params.frame_skip,
        )
        self.single_observation_space = self._envs.single_observation_space
        self.single_action_space = self._envs.single_action_space
        self.observation_space = batch_space(self.single_observation_space, n_envs)
        self.action_space = batch_space(self.single_action_space, n_envs)
        if seed is not None:
            self.action_space.seed(seed)
            self.observation_space.seed(seed)
        self._frames = np.zeros(n_envs, dtype=np.int64)
        self._lives = np.zeros(n_envs, dtype=np.int64)

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new game everywhere; game ``i`` gets ``seed[i]`` (a list) or ``seed + i``."""
        if seed is None:
            obs, info = self._envs.reset()
        else:
            if isinstance(seed, int | np.integer):
                seeds = [int(seed) + i for i in range(self.num_envs)]
            else:
                seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"{len(seeds)} seeds for {self.num_envs} environments")
            obs, info = self._envs.reset(seed=np.array([ale_seed(s) for s in seeds]))
        self._frames[:] = 0
        self._lives[:] = info["lives"]
        return obs, {"lives": info["lives"], "episode_frame_number": info["episode_frame_number"]}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        actions = np.asarray(actions, dtype=np.int64).reshape(self.num_envs)
        obs, raw, over, _, info = self._envs.step(actions)
        over = np.asarray(over, dtype=bool)
        lives = np.asarray(info["lives"], dtype=np.int64)
        # a game that ended was already restarted in C++: its lives are the new game's
        life_lost = (lives < self._lives) & ~over
        self._frames += self.params.frame_skip
        self._frames[over] = 0
        cut = (self._frames >= self.params.max_frames) & ~over
        infos: dict[str, Any] = {"score": np.asarray(raw, dtype=np.float64)}
        if cut.any():
            obs, lives = self._restart(cut, obs, lives, infos)
        self._lives = lives
        terminated = over | life_lost if self.params.life_loss_terminal else over
        infos["game_over"] = over | cut
        infos["lives"] = lives
        raw = np.asarray(raw, dtype=np.float32)
        rewards = np.sign(raw) if self.params.clip_rewards else raw
        return obs, rewards, terminated, cut, infos

    def _restart(
        self, cut: np.ndarray, obs: np.ndarray, lives: np.ndarray, infos: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        """New games where *cut*, keeping each cut game's last observation in ``final_obs``."""
        final = np.full(self.num_envs, None, dtype=object)
        for i in np.flatnonzero(cut):
            final[i] = obs[i].copy()
        infos["final_obs"], infos["_final_obs"] = final, cut.copy()
        new_obs, new_info = self._envs.reset(options={"reset_mask": cut})
        obs = np.array(obs, copy=True)
        obs[cut] = new_obs[cut]
        lives = lives.copy()
        lives[cut] = np.asarray(new_info["lives"])[cut]
        self._frames[cut] = 0
        return obs, lives

    def close(self) -> None:
        if self._envs is not None:
            self._envs.close()
            self._envs = None
