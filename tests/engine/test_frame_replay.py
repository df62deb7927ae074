"""FrameReplayBuffer: stacks rebuilt pixel for pixel against ale-py's own, n-step targets by hand,
the same transitions as ReplayBuffer, the memory bound and exact round trips."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
import torch

from agentapp.engine.buffers import ReplayBatch, ReplayBuffer
from agentapp.engine.frame_replay import FrameReplayBuffer

K = 4


# -- helpers ------------------------------------------------------------------------------------


class StackedEpisodes:
    """A stand-in for a SAME_STEP vector env with stacked frames, as ale-py stacks them: a reset
    gives [0, 0, 0, f0] (newest last). Frame j of env e carries the id 100 * e + j in its first
    pixel (j from 1, counting across episodes), so a stack reads as a list of ids, 0 for padding.
    """

    def __init__(self, n_envs: int, shape: tuple[int, int] = (2, 2)) -> None:
        self.made = np.zeros(n_envs, dtype=np.int64)
        self.stacks = np.zeros((n_envs, K, *shape), dtype=np.uint8)
        for env in range(n_envs):
            self._reset(env)

    def _frame(self, env: int) -> np.ndarray:
        self.made[env] += 1
        frame = np.zeros(self.stacks.shape[2:], dtype=np.uint8)
        frame.flat[0] = 100 * env + self.made[env]
        frame.flat[-1] = 7  # some constant content beside the id, so no frame is all zeros
        return frame

    def _reset(self, env: int) -> None:
        self.stacks[env] = 0
        self.stacks[env, -1] = self._frame(env)

    def step(self, ended: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every env moves one frame on; returns (true next obs, obs after the autoreset)."""
        true_next = np.roll(self.stacks, -1, axis=1)
        for env in range(len(true_next)):
            true_next[env, -1] = self._frame(env)
        self.stacks = true_next.copy()
        for env in np.flatnonzero(ended):
            self._reset(int(env))
        return true_next, self.stacks.copy()


def ids(stack: torch.Tensor) -> list[int]:
    return stack.reshape(K, -1)[:, 0].tolist()


def play(buffers, script, n_envs: int, seed: int = 0) -> StackedEpisodes:
    """Feed every buffer in *buffers* the steps of *script*: rows of (rewards, terminated,
    truncated) per env; the action of step t in env e is 10 * t + e."""
    envs = StackedEpisodes(n_envs)
    for t, (rewards, terminated, truncated) in enumerate(script):
        obs = envs.stacks.copy()
        ended = np.asarray(terminated) | np.asarray(truncated)
        true_next, _ = envs.step(ended)
        actions = 10 * t + np.arange(n_envs)
        for buf in buffers:
            buf.add(obs, actions, rewards, terminated, truncated, true_next)
    return envs


def every_transition(buf: FrameReplayBuffer) -> ReplayBatch:
    """All usable transitions, env by env in time order (white-box: sample() draws them)."""
    spans = list(zip(buf._oldest(), buf.count, strict=True))
    envs = np.concatenate([np.full(int(c - o), e) for e, (o, c) in enumerate(spans)])
    pos = np.concatenate([np.arange(o, c) for o, c in spans])
    usable = buf._windows(envs, pos)[0]
    return buf._batch(envs[usable], pos[usable])


def keys(batch: ReplayBatch) -> list[bytes]:
    """One digest per transition; a terminated transition's next obs is ignored (never used)."""
    out = []
    for i in range(len(batch.actions)):
        done = float(batch.dones[i])
        parts = [batch.obs[i].numpy().tobytes(), int(batch.actions[i]).to_bytes(8, "little"),
                 np.float32(batch.rewards[i]).tobytes(), np.float32(done).tobytes(),
                 np.float32(batch.discounts[i]).tobytes(),
                 b"" if done else batch.next_obs[i].numpy().tobytes()]
        out.append(hashlib.sha1(b"|".join(parts)).digest())
    return out


def rows_of(plain: ReplayBuffer, rows: np.ndarray) -> ReplayBatch:
    return ReplayBatch(*(torch.as_tensor(getattr(plain, f)[rows]) for f in ReplayBatch._fields))


def random_script(rng: np.random.Generator, steps: int, n_envs: int, p_end: float = 0.12):
    ends = rng.random((steps, n_envs))
    return [(rng.integers(-3, 4, n_envs).astype(np.float32), row < p_end / 2,
             (row >= p_end / 2) & (row < p_end)) for row in ends]


# -- hand-built cases ---------------------------------------------------------------------------


def test_one_step_transitions_by_hand():
    buf = FrameReplayBuffer(100, (K, 2, 2), n_envs=2, n_step=1, gamma=0.5, check=True)
    no, yes = False, True
    script = [
        ([1, 10], [no, no], [no, no]),
        ([2, 20], [yes, no], [no, yes]),  # env 0 terminates, env 1 is truncated
        ([3, 30], [no, no], [no, no]),
        ([4, 40], [no, no], [no, no]),
    ]
    play([buf], script, 2)
    b = every_transition(buf)
    assert len(buf) == 8 and b.obs.dtype == torch.uint8 and b.actions.dtype == torch.int64
    assert [ids(o) for o in b.obs] == [
        [0, 0, 0, 1], [0, 0, 1, 2], [0, 0, 0, 4], [0, 0, 4, 5],
        [0, 0, 0, 101], [0, 0, 101, 102], [0, 0, 0, 104], [0, 0, 104, 105],
    ]
    assert b.actions.tolist() == [0, 10, 20, 30, 1, 11, 21, 31]
    assert b.rewards.tolist() == [1, 2, 3, 4, 10, 20, 30, 40]
    assert b.dones.tolist() == [0, 1, 0, 0, 0, 0, 0, 0]  # truncation still bootstraps
    assert b.discounts.tolist() == [0.5] * 8
    live = [i for i in range(8) if i != 1]  # a terminated transition's next obs is never used
    assert [ids(b.next_obs[i]) for i in live] == [
        [0, 0, 1, 2], [0, 0, 4, 5], [0, 4, 5, 6],
        [0, 0, 101, 102], [0, 101, 102, 103], [0, 0, 104, 105], [0, 104, 105, 106],
    ]  # env 1's truncated step bootstraps from its true last frame 103, not the reset's 104


def test_three_step_transitions_by_hand():
    buf = FrameReplayBuffer(100, (K, 2, 2), n_envs=2, n_step=3, gamma=0.5, check=True)
    no, yes = False, True
    ends = {  # step: (terminated, truncated)
        1: ([no, no], [no, yes]),
        4: ([yes, no], [no, no]),
        5: ([no, no], [no, yes]),
    }
    script = [([t + 1, 10 * (t + 1)], *ends.get(t, ([no, no], [no, no]))) for t in range(7)]
    play([buf], script, 2)
    b = every_transition(buf)
    # env 0: steps 0-4 then terminated, 5-6 still open; env 1: 0-1 truncated, 2-5 truncated,
    # 6 open. Open windows (fewer than 3 steps and no end yet) are not sampled.
    assert len(buf) == 11 and len(b.actions) == 11
    assert b.actions.tolist() == [0, 10, 20, 30, 40, 1, 11, 21, 31, 41, 51]
    assert b.rewards.tolist() == [
        1 + 2 / 2 + 3 / 4, 2 + 3 / 2 + 4 / 4, 3 + 4 / 2 + 5 / 4, 4 + 5 / 2, 5,
        10 + 20 / 2, 20, 30 + 40 / 2 + 50 / 4, 40 + 50 / 2 + 60 / 4, 50 + 60 / 2, 60,
    ]
    assert b.dones.tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert b.discounts.tolist() == [1 / 8, 1 / 8, 1 / 8, 1 / 4, 1 / 2,
                                    1 / 4, 1 / 2, 1 / 8, 1 / 8, 1 / 4, 1 / 2]
    assert [ids(o) for o in b.obs] == [
        [0, 0, 0, 1], [0, 0, 1, 2], [0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5],
        [0, 0, 0, 101], [0, 0, 101, 102], [0, 0, 0, 104], [0, 0, 104, 105], [0, 104, 105, 106],
        [104, 105, 106, 107],
    ]
    assert [ids(o) for o in b.next_obs[[0, 1, 5, 6, 7, 8, 9, 10]]] == [
        [1, 2, 3, 4], [2, 3, 4, 5],
        [0, 101, 102, 103], [0, 101, 102, 103],  # the truncated episode's true last obs
        [104, 105, 106, 107], [105, 106, 107, 108], [105, 106, 107, 108], [105, 106, 107, 108],
    ]


@pytest.mark.parametrize("n_step", [1, 2, 3, 5])
def test_same_transitions_as_replay_buffer(n_step):
    """Without wrap-around, both buffers hold exactly the same multiset of transitions."""
    n_envs, steps = 3, 300
    rng = np.random.default_rng(n_step)
    frames = FrameReplayBuffer(10_000, (K, 2, 2), n_envs, n_step, gamma=0.9, check=True)
    plain = ReplayBuffer(10_000, (K, 2, 2), np.uint8, n_envs, n_step, gamma=0.9)
    play([frames, plain], random_script(rng, steps, n_envs), n_envs)
    assert len(frames) == len(plain) > 0
    reference = rows_of(plain, np.arange(len(plain)))
    assert sorted(keys(every_transition(frames))) == sorted(keys(reference))


def test_wrap_around_keeps_only_complete_recent_transitions():
    n_envs, n_step, capacity = 2, 3, 60
    rng = np.random.default_rng(5)
    buf = FrameReplayBuffer(capacity, (K, 2, 2), n_envs, n_step, gamma=0.9, check=True)
    plain = ReplayBuffer(100_000, (K, 2, 2), np.uint8, n_envs, n_step, gamma=0.9)
    play([buf, plain], random_script(rng, 500, n_envs), n_envs)
    assert buf.count.min() > 5 * buf.slots  # the rings went round several times
    seen = every_transition(buf)
    assert len(seen.actions) == len(buf)
    assert capacity * 0.8 <= len(buf) <= capacity
    everything = set(keys(rows_of(plain, np.arange(len(plain)))))
    assert set(keys(seen)) <= everything
    # the newest actions are there, the old ones were overwritten
    actions = set(seen.actions.tolist())
    assert 10 * 490 in actions and 0 not in actions


def test_sample_is_uniform_over_usable_transitions():
    buf = FrameReplayBuffer(1000, (K, 2, 2), n_envs=2, n_step=2, gamma=0.9)
    rng = np.random.default_rng(0)
    play([buf], random_script(rng, 120, 2, p_end=0.2), 2)
    usable = len(buf)
    batch = buf.sample(20_000, np.random.default_rng(1))
    assert batch.obs.shape == (20_000, K, 2, 2)
    _, counts = np.unique(np.stack([batch.actions.numpy(), batch.rewards.numpy()]), axis=1,
                          return_counts=True)
    assert len(counts) == usable  # every usable transition is drawn (action ids are unique)
    assert counts.min() > 0.6 * 20_000 / usable and counts.max() < 1.4 * 20_000 / usable


def test_empty_buffer_refuses_to_sample():
    buf = FrameReplayBuffer(10, (K, 2, 2), n_envs=2, n_step=2)
    assert len(buf) == 0
    with pytest.raises(ValueError, match="cannot sample"):
        buf.sample(4, np.random.default_rng(0))
    play([buf], [([1.0, 1.0], [False, False], [False, False])], 2)  # steps, but windows open
    assert len(buf) == 0
    with pytest.raises(ValueError, match="cannot sample"):
        buf.sample(4, np.random.default_rng(0))


def test_check_catches_an_episode_start_that_is_not_zero_padded():
    buf = FrameReplayBuffer(10, (K, 2, 2), n_envs=1, check=True)
    envs = StackedEpisodes(1)
    obs = envs.stacks.copy()
    true_next, _ = envs.step(np.array([True]))
    buf.add(obs, [0], [1.0], [True], [False], true_next)
    wrong = np.repeat(true_next[:, -1:], K, axis=1)  # a start padded by repeating f0
    with pytest.raises(ValueError, match="obs of env"):
        buf.add(wrong, [0], [1.0], [False], [False], true_next)


# -- the real thing: ale-py ---------------------------------------------------------------------


@pytest.mark.parametrize(("game", "n_envs", "max_frames", "n_step"),
                         [("pong", 2, 400, 1), ("breakout", 3, 800, 3)])
def test_stacks_match_ale_py_pixel_for_pixel(game, n_envs, max_frames, n_step):
    """Random play with short time limits (truncations) and breakout's lost games
    (terminations); the buffer wraps around. check=True compares every obs and next_obs the env
    gave with the stack the buffer rebuilds; every usable transition must be one that
    ReplayBuffer, fed the same steps, made."""
    ale_py = pytest.importorskip("ale_py.vector_env")
    env = ale_py.AtariVectorEnv(game, n_envs, autoreset_mode="SameStep",
                                max_num_frames_per_episode=max_frames, noop_max=5)
    steps, capacity = 900, 900
    buf = FrameReplayBuffer(capacity, (K, 84, 84), n_envs, n_step, gamma=0.99, check=True)
    # the reference keeps its last few emitted rows only: each add's new rows are digested
    plain = ReplayBuffer(2 * n_envs * n_step + 1, (K, 84, 84), np.uint8, n_envs, n_step, 0.99)
    rng = np.random.default_rng(0)
    made: dict[bytes, int] = {}
    obs, _ = env.reset(seed=1)
    assert not obs[:, :-1].any() and obs[:, -1].any()  # a reset is [0, 0, 0, f0]
    terminations = truncations = 0
    for t in range(steps):
        actions = rng.integers(0, env.single_action_space.n, n_envs)
        next_obs, rewards, terminated, truncated, infos = env.step(actions)
        true_next = next_obs.copy()
        if (terminated | truncated).any():
            ended = terminated | truncated
            true_next[ended] = infos["final_obs"][ended]  # ale-py: all envs, no mask
            assert not next_obs[ended, :-1].any()  # the next episode starts zero-padded
        terminations += int(terminated.sum())
        truncations += int((truncated & ~terminated).sum())
        before = plain.pos
        for b in (buf, plain):
            b.add(obs, actions, rewards, terminated, truncated, true_next)
        rows = np.arange(before, before + (plain.pos - before) % plain.capacity) % plain.capacity
        made.update(dict.fromkeys(keys(rows_of(plain, rows)), t))
        obs = next_obs
    assert truncations > 0 and (game != "breakout" or terminations > 0)
    assert buf.count.min() > buf.slots  # wrapped
    seen = []
    lo = buf._oldest()
    for env_index in range(n_envs):
        pos = np.arange(lo[env_index], buf.count[env_index])
        envs = np.full(len(pos), env_index)
        usable = buf._windows(envs, pos)[0]
        for chunk in np.array_split(np.flatnonzero(usable), 8):
            seen += keys(buf._batch(envs[chunk], pos[chunk]))
    assert len(seen) == len(buf) > 0.9 * capacity
    assert all(key in made for key in seen)
    # and the recent ones are all there: every transition made in the last steps
    recent = {key for key, t in made.items() if t >= steps - capacity // n_envs // 2}
    assert recent <= set(seen)
    sample = buf.sample(256, np.random.default_rng(2))
    assert sample.obs.shape == (256, K, 84, 84) and all(key in made for key in keys(sample))


# -- memory and checkpoints ---------------------------------------------------------------------


@pytest.mark.parametrize(("n_envs", "n_step"), [(1, 1), (8, 3)])
def test_memory_is_one_frame_per_transition(n_envs, n_step):
    capacity = 10_000
    buf = FrameReplayBuffer(capacity, (K, 84, 84), n_envs=n_envs, n_step=n_step)
    assert buf.nbytes() <= 1.05 * 7056 * capacity + 16 * capacity


def checkpoint(buf: FrameReplayBuffer) -> dict:
    data = io.BytesIO()
    torch.save(buf.state_dict(), data)
    data.seek(0)
    return torch.load(data, weights_only=True)


def assert_same(a: ReplayBatch, b: ReplayBatch) -> None:
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype and torch.equal(x, y)


@pytest.mark.parametrize("steps", [40, 400])  # partly filled, and wrapped around
def test_state_dict_round_trip_gives_identical_samples(steps):
    n_envs, n_step = 3, 3
    script = random_script(np.random.default_rng(3), steps + 30, n_envs)
    buf = FrameReplayBuffer(200, (K, 2, 2), n_envs, n_step, gamma=0.9)
    envs = play([buf], script[:steps], n_envs)
    copy = FrameReplayBuffer(200, (K, 2, 2), n_envs, n_step, gamma=0.9, check=True)
    copy.load_state_dict(checkpoint(buf))
    assert len(copy) == len(buf)
    assert_same(copy.sample(64, np.random.default_rng(9)), buf.sample(64, np.random.default_rng(9)))
    # both go on alike from the same environments
    for t, (rewards, terminated, truncated) in enumerate(script[steps:]):
        obs = envs.stacks.copy()
        true_next, _ = envs.step(terminated | truncated)
        for b in (buf, copy):
            b.add(obs, np.full(n_envs, t), rewards, terminated, truncated, true_next)
    assert_same(copy.sample(64, np.random.default_rng(4)), buf.sample(64, np.random.default_rng(4)))


def test_an_environment_that_did_not_continue_after_a_load_starts_afresh():
    n_envs, n_step = 2, 3
    no = [False, False]
    buf = FrameReplayBuffer(200, (K, 2, 2), n_envs, n_step, gamma=0.9)
    envs = play([buf], [([1.0, 1.0], no, no)] * 10, n_envs)  # 8 complete windows, 2 open
    copy = FrameReplayBuffer(200, (K, 2, 2), n_envs, n_step, gamma=0.9, check=True)
    copy.load_state_dict(checkpoint(buf))
    assert len(copy) == 16
    envs._reset(0)  # env 0 was reset instead of restored; env 1 goes on where it was
    for _ in range(5):
        obs = envs.stacks.copy()
        true_next, _ = envs.step(np.array(no))
        copy.add(obs, np.zeros(n_envs), [1.0, 1.0], no, no, true_next)  # check=True: exact
    # env 0 dropped its 2 open windows (obs 9, 10) and made 3 from its new start (frame 12);
    # env 1 closed its 2 and made 3 more
    newest = [ids(o)[-1] for o in every_transition(copy).obs]
    assert newest == [*range(1, 9), 12, 13, 14, *range(101, 114)]
    assert len(copy) == len(newest)


def test_load_refuses_a_different_shape():
    buf = FrameReplayBuffer(200, (K, 2, 2), 2, 3)
    with pytest.raises(ValueError, match="n_step"):
        FrameReplayBuffer(200, (K, 2, 2), 2, 1).load_state_dict(checkpoint(buf))
    with pytest.raises(ValueError, match="obs_shape"):
        FrameReplayBuffer(200, (K, 3, 2), 2, 3).load_state_dict(checkpoint(buf))
