"""REINFORCE: the Monte-Carlo policy gradient (Williams 1992), with the lecture's choices.

Why it is here: it is the first policy-gradient method of the lectures, and each of its options is
one of their steps: the total return of the episode or the reward-to-go (causality), no baseline,
the batch mean, or a learned value function as the baseline (variance reduction), discounting, an
entropy bonus, and batches of several episodes per update.

One training iteration plays until ``batch_episodes`` episodes have ended, then makes one gradient
step: grad J = 1/B sum_episodes sum_t grad log pi(a_t|s_t) (G - b). It learns from whole episodes of
the current policy only: with several environments, episodes still running at the update are cut
(their steps count towards the budget but are not learned from) and those environments start anew.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from agentapp.engine.algorithms.base import Iteration
from agentapp.engine.algorithms.deep import (
    DeepAlgorithm,
    DeepSettings,
    adam,
    parse_hidden,
    policy_insight,
    sample_from,
)
from agentapp.engine.insight import Insight
from agentapp.engine.networks import ActorCritic
from agentapp.engine.returns import discounted_returns
from agentapp.games.registry import CONTINUOUS_ACTIONS, DISCRETE_ACTIONS
from agentapp.params import setting


@dataclass(frozen=True)
class ReinforceSettings(DeepSettings):
    """Settings of REINFORCE."""

    learning_rate: float = setting(1e-3, "Adam step size.", low=0.0, low_open=True)
    gamma: float = setting(0.99, "Discount factor.", low=0.0, high=1.0)
    returns: str = setting("reward_to_go", "Weight each step by the episode's total return or by "
                           "the return that follows it.", choices=("reward_to_go", "total"))
    baseline: str = setting("value", "Subtracted from the return: nothing, the batch mean, or "
                            "a learned V(s).", choices=("none", "mean", "value"))
    batch_episodes: int = setting(4, "Episodes per update.", low=1)
    ent_coef: float = setting(0.0, "Weight of the entropy bonus.", low=0.0)
    vf_coef: float = setting(0.5, "Weight of the value loss (baseline=value).", low=0.0)
    max_grad_norm: float = setting(0.0, "Clip the gradient norm to this (0: no clipping).",
                                   low=0.0)
    hidden: str = setting("64,64", "Hidden layer sizes.")
    activation: str = setting("tanh", "Hidden activation.", choices=("tanh", "relu"))
    log_std_init: float = setting(0.0, "Initial log standard deviation of the Gaussian policy "
                                  "(continuous actions; 0: std 1).", low=-20.0, high=2.0)


class Reinforce(DeepAlgorithm):
    """Monte-Carlo policy gradient over whole episodes."""

    name = "reinforce"
    title = "REINFORCE"
    summary = "Monte-Carlo policy gradient: grad log pi(a|s) times the return, minus a baseline."
    Hyperparameters = ReinforceSettings
    action_kinds = frozenset({DISCRETE_ACTIONS, CONTINUOUS_ACTIONS})  # categorical or Gaussian

    def __init__(self, game, game_params, hp, **kwargs) -> None:
        super().__init__(game, game_params, hp, **kwargs)
        self.model = ActorCritic(
            self.observation_space, self.action_space, hidden=parse_hidden(hp.hidden),
            activation=hp.activation, value=hp.baseline == "value", network=hp.network,
            log_std_init=hp.log_std_init,
        ).to(self.torch_device)
        self.use_gpu_options(self.model)
        self.params = list(self.model.parameters())
        self.optimizer = adam(self.params, lr=hp.learning_rate)

    def policy_actions(self, obs: torch.Tensor, greedy: bool) -> torch.Tensor:
        return self.model.act(obs, greedy)

    def sample_with(self, obs: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
        return sample_from(self.model.distribution(obs), rng)

    def batch_insight(self, obs: torch.Tensor) -> Insight | None:
        """The policy's probabilities; V(s) only with the learned baseline (``baseline=value``)."""
        return policy_insight(self.model, obs)

    @torch.no_grad()
    def _play(self) -> tuple[list[dict[str, Any]], list[tuple[float, int]]]:
        """Play until ``batch_episodes`` episodes end; return them and their (return, length)."""
        hp = self.hp
        self.start_envs()
        running = [{"obs": [], "actions": [], "rewards": []} for _ in range(self.n_envs)]
        done_episodes, finished = [], []
        while len(done_episodes) < hp.batch_episodes:
            actions = self.model.act(self.as_tensor(self.obs), greedy=False).cpu().numpy()
            next_obs, rewards, terminated, truncated, infos, ended = self.step_envs(actions)
            for i in range(self.n_envs):
                running[i]["obs"].append(self.obs[i])
                running[i]["actions"].append(actions[i])
                running[i]["rewards"].append(float(rewards[i]))
            # a time limit is not an end: bootstrap V(s_T) (unless the game ended there too)
            for i, last_obs in self.final_observations(infos, truncated & ~terminated):
                if hp.baseline == "value":
                    running[i]["rewards"][-1] += hp.gamma * float(
                        self.model.value(self.as_tensor(last_obs[None]))[0])
            for i in np.flatnonzero(terminated | truncated):
                done_episodes.append(running[i])
                running[i] = {"obs": [], "actions": [], "rewards": []}
            self.obs = next_obs
            finished.extend(ended)
        cut = np.array([len(r["obs"]) > 0 for r in running])
        if cut.any():  # episodes of the old policy must not be continued by the new one
            self.obs = self.envs.reset(options={"reset_mask": cut})[0]
            self.ep_return[cut], self.ep_length[cut] = 0.0, 0
        return done_episodes, finished

    def episode_tensors(self, episodes: list[dict[str, Any]]):
        """Observations, actions and the return that weighs each step, of *episodes* joined."""
        obs = self.as_tensor(np.concatenate([np.asarray(e["obs"]) for e in episodes]))
        actions = torch.as_tensor(np.concatenate([np.asarray(e["actions"]) for e in episodes]),
                                  device=self.torch_device)
        returns = []
        for e in episodes:
            # G_t = sum_k gamma^k r_{t+k}   (reward-to-go), or G_0 for every step (total)
            g = discounted_returns(torch.tensor(e["rewards"], dtype=torch.float32),
                                   self.hp.gamma)
            returns.append(g if self.hp.returns == "reward_to_go" else g[:1].expand(len(g)))
        return obs, actions, torch.cat(returns).to(self.torch_device)

    def train_iteration(self, max_steps: int) -> Iteration:
        start = self.steps
        episodes, finished = self._play()
        obs, actions, returns = self.episode_tensors(episodes)
        dist, value = self.model(obs)
        weights = self.weights(returns, value)
        # grad J ~ 1/B sum_i sum_t grad log pi(a_t|s_t) (G_t - b)   (Williams 1992)
        policy_loss = -(dist.log_prob(actions) * weights).sum() / len(episodes)
        metrics = self.descend(policy_loss, dist, value, returns)
        return Iteration(steps=self.steps - start, metrics=metrics, episodes=finished)

    def weights(self, returns: torch.Tensor, value: torch.Tensor | None) -> torch.Tensor:
        """What multiplies grad log pi: the return, less the baseline the settings choose (the
        batch mean, or the learned V(s_t), held fixed here: the baseline learns by regression)."""
        if self.hp.baseline == "mean":
            return returns - returns.mean()
        if self.hp.baseline == "value":
            return returns - value.detach()
        return returns

    def descend(self, policy_loss: torch.Tensor, dist, value: torch.Tensor | None,
                returns: torch.Tensor) -> dict[str, float]:
        """One optimizer step on *policy_loss* minus the entropy bonus, plus the baseline's
        regression on *returns* when there is a learned V; returns the losses and the gradient
        norm (before any clipping) as metrics."""
        hp = self.hp
        entropy = dist.entropy().mean()
        loss = policy_loss - hp.ent_coef * entropy
        metrics = {"losses/policy_loss": float(policy_loss.detach()),
                   "losses/entropy": float(entropy.detach())}
        if value is not None:
            value_loss = (returns - value).pow(2).mean()
            loss = loss + hp.vf_coef * value_loss
            metrics["losses/value_loss"] = float(value_loss.detach())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if hp.max_grad_norm:
            grad_norm = nn.utils.clip_grad_norm_(self.params, hp.max_grad_norm)
        else:
            grad_norm = nn.utils.get_total_norm([p.grad for p in self.params
                                                 if p.grad is not None])
        self.optimizer.step()
        metrics["charts/grad_norm"] = float(grad_norm)
        return metrics

    def state_dict(self) -> dict[str, Any]:
        return {**self.common_state(), "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.load_common_state(state)
