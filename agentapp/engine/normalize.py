"""Running normalisation of observations and rewards, as Stable-Baselines3's ``VecNormalize`` does
and RL Zoo's presets rely on (MountainCar's PPO among them).

Observations are shifted and scaled by the running mean and standard deviation of the training
observations seen so far, then clipped; rewards are divided by the running standard deviation of
the discounted return, so value targets keep a similar scale whatever the game's reward units.
The statistics are learned from training steps only (evaluation reads them and never updates
them) and are saved in checkpoints, so a resumed run normalises exactly as before.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


class RunningMeanStd:
    """Mean and variance of a stream of batches (Chan et al.'s parallel update)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        self.count = 1e-4

    def update(self, batch: np.ndarray) -> None:
        batch = np.asarray(batch, dtype=np.float64)
        b_mean, b_var, b_count = batch.mean(axis=0), batch.var(axis=0), batch.shape[0]
        delta, total = b_mean - self.mean, self.count + b_count
        # M2 = M2_a + M2_b + delta^2 n_a n_b / n   (Chan, Golub & LeVeque 1979)
        m2 = self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / total
        self.mean = np.asarray(self.mean + delta * b_count / total)
        self.var, self.count = np.asarray(m2 / total), total

    def state_dict(self) -> dict[str, Any]:
        return {"mean": torch.from_numpy(self.mean.copy()),
                "var": torch.from_numpy(self.var.copy()), "count": float(self.count)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean = state["mean"].numpy().copy()
        self.var = state["var"].numpy().copy()
        self.count = float(state["count"])


class Normalizer:
    """Observation and reward normalisation for ``n_envs`` training environments."""

    def __init__(self, obs_shape: tuple[int, ...], n_envs: int, gamma: float, *,
                 observations: bool, rewards: bool, clip: float = 10.0,
                 eps: float = 1e-8) -> None:
        self.observations, self.rewards = observations, rewards
        self.gamma, self.clip, self.eps = gamma, clip, eps
        self.obs_rms = RunningMeanStd(obs_shape)
        self.ret_rms = RunningMeanStd(())
        self.returns = np.zeros(n_envs)
        self._scale: tuple[torch.Tensor, torch.Tensor] | None = None

    def update_obs(self, obs: np.ndarray) -> None:
        if self.observations:
            self.obs_rms.update(obs)
            self._scale = None

    def obs(self, obs: torch.Tensor) -> torch.Tensor:
        """(o - mean) / std, clipped to +-clip (unchanged when observations are not normalised)."""
        if not self.observations:
            return obs
        if self._scale is None or self._scale[0].device != obs.device:
            mean = torch.as_tensor(self.obs_rms.mean, dtype=torch.float32, device=obs.device)
            std = torch.as_tensor(np.sqrt(self.obs_rms.var + self.eps), dtype=torch.float32,
                                  device=obs.device)
            self._scale = (mean, std)
        mean, std = self._scale
        return ((obs - mean) / std).clamp(-self.clip, self.clip)

    def reward(self, rewards: np.ndarray, dones: np.ndarray) -> np.ndarray:
        """r / std(discounted return), clipped; the running return restarts at episode ends."""
        if not self.rewards:
            return rewards
        # R <- gamma R + r, the discounted return so far, whose spread sets the scale
        self.returns = self.returns * self.gamma + rewards
        self.ret_rms.update(self.returns)
        scaled = np.clip(rewards / np.sqrt(self.ret_rms.var + self.eps), -self.clip, self.clip)
        self.returns[dones] = 0.0
        return scaled.astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        return {"obs": self.obs_rms.state_dict(), "ret": self.ret_rms.state_dict(),
                "returns": torch.from_numpy(self.returns.copy())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.obs_rms.load_state_dict(state["obs"])
        self.ret_rms.load_state_dict(state["ret"])
        if len(state["returns"]) == len(self.returns):
            self.returns = state["returns"].numpy().copy()
        self._scale = None
