"""Presets for every Atari game, after the published tuned settings (RL Zoo's ``atari`` entries
of ``hyperparams/ppo.yml``, ``a2c.yml`` and ``dqn.yml``, which follow the original papers).

Keys are ``(family, method)``: one setting per method serves all the games, as in the papers.
The budget is the papers' 10M agent steps (40M frames); ``--steps`` shortens it (schedules anneal
over whatever budget the run starts with). ``benchmarks/pong_solve.py`` measures how fast they
learn Pong, ``benchmarks/atari_throughput.py`` how many steps per second they train at.
"""

from __future__ import annotations

from typing import Any

ATARI: dict[tuple[str, str], dict[str, Any]] = {
    # PPO (Schulman et al. 2017, Atari settings; RL Zoo, CleanRL ppo_atari.py)
    ("atari", "ppo"): {
        "steps": 10_000_000, "envs": 8, "n_steps": 128, "n_epochs": 4, "batch_size": 256,
        "learning_rate": 2.5e-4, "anneal_lr": True, "clip_range": 0.1, "anneal_clip": True,
        "ent_coef": 0.01, "vf_coef": 0.5, "gae_lambda": 0.95, "gamma": 0.99,
        "max_grad_norm": 0.5, "eval_every": 250_000, "save_every": 250_000,
    },
    # A2C (Mnih et al. 2016 synchronous variant; RL Zoo): 16 environments and RMSprop with
    # TensorFlow's epsilon, without which it does not learn Pong.
    ("atari", "a2c"): {
        "steps": 10_000_000, "envs": 16, "n_steps": 5, "learning_rate": 7e-4,
        "optimizer": "rmsprop-tf", "rms_alpha": 0.99, "eps": 1e-5, "ent_coef": 0.01,
        "vf_coef": 0.25, "gae_lambda": 1.0, "gamma": 0.99, "max_grad_norm": 0.5,
        "eval_every": 250_000, "save_every": 250_000,
    },
    # A3C (Mnih et al. 2016: t_max 5, RMSprop statistics shared by the workers, entropy 0.01);
    # the rest as A2C above, so that the two compare on equal terms. Workers: the CPU count (the
    # paper used 16). Not yet measured on Atari here.
    ("atari", "a3c"): {
        "steps": 10_000_000, "n_steps": 5, "learning_rate": 7e-4, "optimizer": "rmsprop",
        "rms_alpha": 0.99, "eps": 1e-5, "ent_coef": 0.01, "vf_coef": 0.25, "gae_lambda": 1.0,
        "gamma": 0.99, "max_grad_norm": 0.5, "eval_every": 250_000, "save_every": 250_000,
    },
    # DQN (Mnih et al. 2015 with Adam, as RL Zoo tunes it)
    ("atari", "dqn"): {
        "steps": 10_000_000, "buffer_size": 100_000, "learning_rate": 1e-4, "batch_size": 32,
        "learning_starts": 100_000, "target_update_interval": 1_000, "train_freq": 4,
        "gradient_steps": 1, "exploration_fraction": 0.1, "epsilon_end": 0.01, "gamma": 0.99,
        "max_grad_norm": 10.0, "eval_every": 250_000, "save_every": 250_000,
    },
}
