"""The Atari family: names, listing, settings, and above all that the game an agent is evaluated
on shows it exactly the pixels that training showed it (ale-py's C++ vector env)."""

from __future__ import annotations

import contextlib
import dataclasses

import numpy as np
import pytest
from ale_py import ALEInterface, roms
from ale_py.vector_env import AtariVectorEnv
from gymnasium import spaces

from agentapp.errors import UserError
from agentapp.games import atari, catalogue, registry, resolve
from agentapp.games.atari import AtariParams, describe_protocol
from agentapp.params import apply_overrides, describe

PONG_ACTIONS = ("NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE")


# -- names and listing ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("names", "game_id"),
    [
        (["pong", "atari:pong", "atari:Pong", "atari:ALE/Pong-v5", "atari:PongNoFrameskip-v4",
          " PONG ", "atari:PongDeterministic-v4"], "pong"),
        (["space-invaders", "atari:space-invaders", "atari:space_invaders",
          "atari:SpaceInvaders", "atari:ALE/SpaceInvaders-v5"], "space-invaders"),
        (["ms-pacman", "atari:MsPacmanNoFrameskip-v4", "atari:ms_pacman"], "ms-pacman"),
    ],
)
def test_every_spelling_names_one_game(names, game_id):
    games = {resolve(name) for name in names}
    assert len(games) == 1
    assert games.pop().id == game_id


def test_a_game_describes_itself():
    pong = resolve("pong")
    assert pong.family == "atari" and pong.slug == "pong"
    assert pong.description == (
        "Atari 2600 Pong: beat the computer at table tennis, first to 21 points (ale-py)"
    )
    assert resolve("alien").description == "Atari 2600 Alien (ale-py)"
    assert pong.default_algo == "ppo"
    assert pong.observation == "4 stacked 84x84 grayscale frames (uint8)"
    assert pong.actions == PONG_ACTIONS
    assert resolve("breakout").actions == ("NOOP", "FIRE", "RIGHT", "LEFT")
    assert pong.capabilities() == {registry.PIXELS, registry.DISCRETE_ACTIONS}
    assert pong.params == AtariParams()
    assert pong.make_vector is not None


def test_bad_names_are_one_clear_line():
    with pytest.raises(UserError, match=r"unknown Atari game 'pongg' \(did you mean: pong"):
        resolve("atari:pongg")
    with pytest.raises(UserError, match="name a game"):
        resolve("atari:")
    # ale-py ships a few multiplayer ROMs it cannot load alone: refused, not a crash
    with pytest.raises(UserError, match="cannot play it single-player"):
        resolve("atari:combat")
    with pytest.raises(UserError, match="did you mean: breakout"):
        resolve("breakot")


def test_names_clash_with_no_other_game():
    atari_ids = {game.id for game in atari.listing()}
    assert len({atari._key(rom) for rom in atari.rom_ids()}) == len(atari.rom_ids())
    others = [game.id for game in catalogue() if game.family != "atari"]
    others += ["cartpole", "acrobot", "mountaincar", "lunarlander", "classic", "cliff", "maze"]
    assert not atari_ids & (set(others) | {"gridworld", "classic", "gym", "atari"})
    for name in others:
        with contextlib.suppress(UserError):  # lunarlander without Box2D
            assert resolve(name).family != "atari"
    assert all(resolve(game_id).family == "atari" for game_id in ("pong", "hero", "et"))


def test_listing_shows_every_playable_rom_without_loading_one(monkeypatch):
    monkeypatch.setattr(atari, "ale_actions", lambda rom: pytest.fail(f"loaded {rom}"))
    atari.minimal_actions.cache_clear()
    games = {game.id: game for game in catalogue() if game.family == "atari"}
    assert {"pong", "breakout", "space-invaders", "ms-pacman"} <= set(games)
    assert games["pong"].actions == PONG_ACTIONS
    assert "combat" not in games and "joust" not in games
    assert len(games) == len(atari.rom_ids()) >= 100


def test_the_action_table_is_what_ale_py_reports():
    table = atari.action_table()
    supported = [
        rom for rom in roms.get_all_rom_ids() if ALEInterface.isSupportedROM(roms.get_rom_path(rom))
    ]
    assert sorted(table) == sorted(supported)
    for rom in ("pong", "breakout", "space_invaders"):
        assert table[rom] == atari.ale_actions(rom)


@pytest.mark.slow
def test_the_whole_action_table_is_what_ale_py_reports():
    table = atari.action_table()
    assert {rom: atari.ale_actions(rom) for rom in table} == table


def test_the_full_action_space_is_the_legal_set():
    ale = ALEInterface()
    ale.loadROM(roms.get_rom_path("pong"))
    assert atari.full_actions() == tuple(a.name for a in ale.getLegalActionSet())
    env = resolve("pong").make(AtariParams(full_action_space=True))
    assert env.action_space == spaces.Discrete(18)


# -- settings ------------------------------------------------------------------------------------
def test_settings_are_documented_and_validated():
    helps = {info.name: info.help for info in describe(AtariParams)}
    assert "0.25 is the Machado et al. (2018) v5 protocol" in helps["sticky"]
    assert set(helps) == {
        "sticky", "noop_max", "frame_skip", "stack", "max_frames", "fire_reset",
        "full_action_space", "life_loss_terminal", "clip_rewards",
    }
    params = apply_overrides(AtariParams(), {"sticky": "0.25", "noop_max": "0"})
    assert params.sticky == 0.25 and params.noop_max == 0
    with pytest.raises(UserError, match=r"sticky=1\.5"):
        apply_overrides(AtariParams(), {"sticky": "1.5"})
    with pytest.raises(UserError, match="frame_skip=0"):
        apply_overrides(AtariParams(), {"frame_skip": "0"})


def test_the_protocol_in_words():
    game = resolve("pong")
    assert game.describe_protocol(game.params) == (
        "no sticky actions, up to 30 no-op starts, full game score"
    )
    assert describe_protocol(AtariParams(sticky=0.25)) == (
        "sticky actions 0.25 (Machado et al. 2018 v5 protocol), up to 30 no-op starts, "
        "full game score"
    )
    assert describe_protocol(AtariParams(sticky=0.1, noop_max=0)) == (
        "sticky actions 0.1, no no-op starts, full game score"
    )
    assert describe_protocol(AtariParams(max_frames=4000)).endswith(
        "games cut off after 4000 frames"
    )


# -- the evaluation env sees what training saw -----------------------------------------------------
def _cpp(rom: str, params: AtariParams, n_envs: int = 1) -> AtariVectorEnv:
    """ale-py's own vector env with *params*, raw rewards and no life-loss signal."""
    return AtariVectorEnv(
        rom, n_envs, autoreset_mode="SameStep", reward_clipping=False, episodic_life=False,
        repeat_action_probability=params.sticky, noop_max=params.noop_max,
        frameskip=params.frame_skip, stack_num=params.stack, use_fire_reset=params.fire_reset,
        full_action_space=params.full_action_space, max_num_frames_per_episode=10**7,
    )


@pytest.mark.parametrize(
    ("name", "seed", "steps", "changes"),
    [
        ("breakout", 1, 500, {}),
        ("breakout", 2, 400, {"sticky": 0.25}),
        ("pong", 3, 250, {"frame_skip": 3, "stack": 2}),
    ],
)
def test_the_single_env_sees_pixel_for_pixel_what_training_saw(name, seed, steps, changes):
    game = resolve(name)
    params = dataclasses.replace(game.params, **changes)
    cpp, env = _cpp(atari.find_rom(name), params), game.make(params)
    cpp_obs, cpp_info = cpp.reset(seed=np.array([seed]))
    obs, info = env.reset(seed=seed)
    assert np.array_equal(cpp_obs[0], obs)
    assert info["episode_frame_number"] == cpp_info["episode_frame_number"][0] > 0
    rng = np.random.default_rng(seed)
    lives_lost = games = 0
    for _ in range(steps):
        action = int(rng.integers(env.action_space.n))
        cpp_obs, cpp_reward, cpp_over, _, cpp_info = cpp.step(np.array([action]))
        lives = info["lives"]
        obs, reward, terminated, truncated, info = env.step(action)
        assert reward == cpp_reward[0] and terminated == cpp_over[0] and not truncated
        if terminated:  # the game's last frame (pooled from stale buffers), then a new game
            assert np.array_equal(cpp_info["final_obs"][0], obs)
            games += 1
            obs, info = env.reset()
        else:
            lives_lost += info["lives"] < lives
        assert np.array_equal(cpp_obs[0], obs)
        assert info["lives"] == cpp_info["lives"][0]
        assert info["episode_frame_number"] == cpp_info["episode_frame_number"][0]
    if name == "breakout":  # the runs cross what they are meant to
        assert lives_lost and games
    cpp.close()


def test_unseeded_resets_go_on_with_the_same_no_op_starts():
    params = AtariParams()
    cpp, env = _cpp("pong", params), resolve("pong").make(params)
    cpp_obs, cpp_info = cpp.reset(seed=np.array([7]))
    obs, info = env.reset(seed=7)
    starts = []
    for _ in range(12):
        cpp_obs, cpp_info = cpp.reset()
        obs, info = env.reset()
        assert info["episode_frame_number"] == cpp_info["episode_frame_number"][0]
        assert np.array_equal(cpp_obs[0], obs)
        starts.append(info["episode_frame_number"])
    assert len(set(starts)) > 5 and max(starts) <= 30
    cpp.close()


def test_the_single_env_plays_the_whole_game_and_renders_colour():
    env = resolve("pong").make(AtariParams(max_frames=40), render_mode="rgb_array")
    assert env.metadata["render_fps"] == 15 and "rgb_array" in env.metadata["render_modes"]
    assert env.observation_space == spaces.Box(0, 255, (4, 84, 84), np.uint8)
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.uint8 and obs.shape == (4, 84, 84)
    assert not obs[:3].any() and obs[3].any()  # zero-filled, newest frame last
    assert set(info) >= {"lives", "episode_frame_number"}
    frame = env.render()
    assert frame.shape == (210, 160, 3) and frame.dtype == np.uint8
    ends = [env.step(0)[2:4] for _ in range(10)]
    assert ends == [(False, False)] * 9 + [(False, True)]  # 10 steps of 4 frames


# -- the training vector env ---------------------------------------------------------------------
def _vector(name: str, n_envs: int, **changes):
    game = resolve(name)
    return game.make_vector(dataclasses.replace(game.params, **changes), n_envs, 0, 1)


def test_the_vector_env_has_the_gymnasium_shape():
    envs = _vector("breakout", 3)
    assert envs.num_envs == 3
    assert envs.single_observation_space == spaces.Box(0, 255, (4, 84, 84), np.uint8)
    assert envs.single_action_space == spaces.Discrete(4)
    assert envs.observation_space.shape == (3, 4, 84, 84)
    assert envs.action_space.shape == (3,)
    assert not hasattr(envs, "call")  # C++ games cannot be snapshotted: restarted on resume
    obs, info = envs.reset(seed=[5, 6, 7])
    assert obs.shape == (3, 4, 84, 84) and list(info["lives"]) == [5, 5, 5]
    envs.close()
    envs.close()


def test_seeds_reproduce_and_match_the_single_env():
    a, b = _vector("pong", 2), _vector("pong", 2)
    obs_a, _ = a.reset(seed=10)
    obs_b, _ = b.reset(seed=[10, 11])
    assert np.array_equal(obs_a, obs_b)
    single = resolve("pong").make()
    assert np.array_equal(single.reset(seed=11)[0], obs_a[1])
    rng = np.random.default_rng(0)
    for _ in range(30):
        actions = rng.integers(6, size=2)
        step_a, step_b = a.step(actions), b.step(actions)
        assert np.array_equal(step_a[0], step_b[0]) and np.array_equal(step_a[1], step_b[1])
        assert np.array_equal(single.step(actions[1])[0], step_a[0][1])
    a.close()
    b.close()


def _play(envs, steps: int, seed: int):
    """Random play; yields each step's results with the lives before it."""
    rng = np.random.default_rng(seed)
    _, info = envs.reset(seed=seed)
    lives = info["lives"]
    for _ in range(steps):
        _, rewards, terminated, truncated, infos = envs.step(rng.integers(4, size=envs.num_envs))
        yield lives, rewards, terminated, truncated, infos
        lives = infos["lives"]


def test_training_learns_from_clipped_rewards_and_lost_lives():
    envs = _vector("breakout", 2)
    seen = {"life": 0, "game": 0}
    for lives, rewards, terminated, truncated, infos in _play(envs, 350, seed=1):
        assert rewards.dtype == np.float32 and infos["score"].dtype == np.float64
        assert np.array_equal(rewards, np.sign(infos["score"]))
        assert not truncated.any() and "final_obs" not in infos
        game_over = infos["game_over"]
        lost = terminated & ~game_over
        # a lost life ends the learning episode; the game goes on with one life fewer
        assert np.array_equal(infos["lives"][lost], lives[lost] - 1)
        assert np.array_equal(terminated, game_over | (infos["lives"] < lives))
        assert (infos["lives"][game_over] == 5).all()  # a new game started in the same step
        seen["life"] += lost.sum()
        seen["game"] += game_over.sum()
    assert seen["life"] and seen["game"]
    envs.close()


def test_without_the_training_signals_learning_sees_the_real_game():
    envs = _vector("breakout", 2, life_loss_terminal=False, clip_rewards=False)
    games = 0
    for _, rewards, terminated, _, infos in _play(envs, 300, seed=1):
        assert np.array_equal(rewards, infos["score"].astype(np.float32))
        assert np.array_equal(terminated, infos["game_over"])
        games += terminated.sum()
    assert games
    envs.close()


def test_a_game_cut_off_at_max_frames_keeps_its_last_observation():
    envs = _vector("pong", 1, max_frames=40)
    single = resolve("pong").make(AtariParams(max_frames=40))
    obs, _ = envs.reset(seed=[3])
    assert np.array_equal(obs[0], single.reset(seed=3)[0])
    for round_ in range(2):  # the count starts again with the new game
        for step in range(1, 11):
            action = (step + round_) % 6
            obs, _, terminated, truncated, infos = envs.step(np.array([action]))
            single_obs, _, _, single_truncated, _ = single.step(action)
            assert not terminated[0] and truncated[0] == single_truncated == (step == 10)
            assert infos["game_over"][0] == (step == 10)
            if step < 10:
                assert np.array_equal(obs[0], single_obs) and "_final_obs" not in infos
        assert infos["_final_obs"].tolist() == [True] and infos["final_obs"].dtype == object
        assert np.array_equal(infos["final_obs"][0], single_obs)
        assert np.array_equal(obs[0], single.reset()[0])  # the next game, already started
    envs.close()


def test_watching_keeps_every_emulated_frame_without_changing_what_the_agent_sees():
    game = resolve("pong")
    plain = game.make(game.params, render_mode="rgb_array")
    watched = game.make(game.params, render_mode="rgb_array")
    watched.unwrapped.keep_frames = True
    obs_a, _ = plain.reset(seed=5)
    obs_b, _ = watched.reset(seed=5)
    assert watched.unwrapped.take_frames() == []  # the reset's no-ops are not shown
    rng = np.random.default_rng(0)
    for _ in range(50):
        action = int(rng.integers(plain.action_space.n))
        obs_a, reward_a, *_ = plain.step(action)
        obs_b, reward_b, *_ = watched.step(action)
        frames = watched.unwrapped.take_frames()
        assert np.array_equal(obs_a, obs_b) and reward_a == reward_b
        assert len(frames) == game.params.frame_skip  # 60 pictures a second for 15 decisions
        assert all(f.shape == (210, 160, 3) and f.dtype == np.uint8 for f in frames)
        assert np.array_equal(frames[-1], watched.render())
    assert not np.array_equal(frames[0], frames[-1])  # the frames between decisions differ
    assert plain.unwrapped.take_frames() == []
