"""From what the user asked (:class:`RunConfig`) to what will run (:class:`Plan`).

:func:`prepare` resolves the game, the method, the preset, ``--set`` overrides, the budget, the
seed, the device and a ``--resume`` source, and checks all of it before anything is written: every
problem is a :class:`~agentapp.errors.UserError` raised here, so bad input never touches a run
folder. :func:`restore_agent` rebuilds a trained agent from a checkpoint for ``eval``, ``watch`` and
``inspect``.
"""

from __future__ import annotations

import dataclasses
import math
import platform
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentapp import __version__, checkpoints, presets, runs
from agentapp.engine import algorithms
from agentapp.engine.algorithms.base import Algorithm
from agentapp.engine.device import GPU_SETTINGS, gpu_options_on, resolve_device
from agentapp.errors import UserError
from agentapp.games import Game, resolve
from agentapp.params import apply_overrides, as_dict, parse_assignments, split_overrides


@dataclass(frozen=True)
class RunConfig:
    """A training request, as the CLI or the TUI collects it (None = default)."""

    game: str
    algo: str | None = None
    steps: int | None = None
    seed: int | None = None
    envs: int | None = None
    device: str = "auto"
    overrides: Mapping[str, str] = field(default_factory=dict)
    save_every: int | None = None
    eval_every: int | None = None
    eval_episodes: int = 10
    target_return: float | None = None
    threads: int | None = None
    runs_dir: str | None = None
    resume: str | None = None
    keep_checkpoints: int = 3
    live_view: bool = False
    """Emit ``Frame`` events of the training game (a front end's live view; throttled)."""
    workers: int | None = None
    """Ray rollout workers that step the environments and act (None: none, all local)."""
    address: str | None = None
    """The Ray cluster to join (None: a local Ray started in this process when needed)."""
    sweep: str | None = None
    """The name of the sweep this run is a trial of (``agentapp sweep``), else None."""


@dataclass
class Plan:
    """Everything resolved and checked; ``engine.train(plan)`` runs it."""

    game: Game
    game_params: Any
    algo_cls: type[Algorithm]
    hp: Any
    seed: int
    total_steps: int
    schedule_budget: int
    device: str
    device_note: str
    """How the device was chosen, for the user (``auto: no CUDA device, using the CPU``)."""
    envs: int
    save_every: int
    eval_every: int
    eval_episodes: int
    target_return: float | None
    keep_checkpoints: int
    threads: int | None
    runs_root: Path
    preset_source: str
    run_dir: Path | None = None
    """The run folder to continue in place; None for a new run."""
    resume_from: dict[str, Any] | None = None
    """The loaded checkpoint a resumed run starts from."""
    resume_path: Path | None = None
    """Where that checkpoint was read from (its side files, such as replay.pt, lie beside it)."""
    parent: str | None = None
    """The checkpoint a new run was started from (``--resume`` of a file)."""
    live_view: bool = False
    """Emit ``Frame`` events of the training game for a front end's live view."""
    workers: int = 0
    """Ray rollout workers (0: the environments run in this process)."""
    address: str | None = None
    """The Ray cluster the workers join (None: a local Ray)."""
    sweep: str | None = None
    """The sweep this run is a trial of, recorded in config.json."""

    @property
    def start_step(self) -> int:
        return int(self.resume_from["step"]) if self.resume_from else 0

    def config_dict(self) -> dict[str, Any]:
        """The full resolved config, as ``config.json`` stores it."""
        return {
            "game": self.game.id,
            "algo": self.algo_cls.name,
            "steps": self.total_steps,
            "step_unit": self.algo_cls.step_unit,
            "schedule_budget": self.schedule_budget,
            "seed": self.seed,
            "device": self.device,
            "device_note": self.device_note,
            "envs": self.envs,
            "hyperparameters": as_dict(self.hp),
            "game_params": as_dict(self.game_params),
            # how the game is played and scored, in words (Atari: sticky actions or not)
            "protocol": self.game.describe_protocol(self.game_params),
            "save_every": self.save_every,
            "eval_every": self.eval_every,
            "eval_episodes": self.eval_episodes,
            "target_return": self.target_return,
            "keep_checkpoints": self.keep_checkpoints,
            "threads": self.threads,
            "workers": self.workers,
            "address": self.address,
            "sweep": self.sweep,
            "preset": self.preset_source,
            "parent": self.parent,
            "created": time.time(),
            "versions": versions(),
        }


def versions() -> dict[str, str]:
    import gymnasium
    import numpy
    import torch

    return {
        "agentapp": __version__,
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "gymnasium": gymnasium.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
    }


def spaces_of(game: Game, params: Any) -> dict[str, str]:
    """Observation and action spaces, as text, for checking that a checkpoint fits a game."""
    env = game.make(params)
    try:
        return {"observation": str(env.observation_space), "action": str(env.action_space)}
    finally:
        env.close()


SEED_MAX = 2**32 - 1
"""Seeds are 0..2**32-1: what numpy, torch and gymnasium all accept (and Stable-Baselines3 uses)."""


def _positive(name: str, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise UserError(f"{name} {value}: must be at least 1")
    return value


def check_seed(seed: int | None, flag: str = "--seed") -> int | None:
    """*seed* when it is None or within 0..SEED_MAX; UserError otherwise (numpy refuses a
    negative seed, torch one past 2**64, and both only once a run or an episode has begun)."""
    if seed is not None and not 0 <= seed <= SEED_MAX:
        raise UserError(f"{flag} {seed}: must be in [0, {SEED_MAX}]")
    return seed


def _settings(cls: type, values: Mapping[str, Any]) -> Any:
    """Rebuild a settings dataclass from plain data, ignoring fields this version lacks."""
    known = {f.name for f in dataclasses.fields(cls)}
    return apply_overrides(cls(), {k: v for k, v in values.items() if k in known})


def _resume_source(config: RunConfig, root: Path, game: Game) -> tuple[Path, Path | None]:
    """``(checkpoint file, run folder to continue in place or None)`` for ``--resume``."""
    ref = config.resume or ""
    if ref == "last":
        algo = algorithms.get(config.algo or game.default_algo).name
        run = runs.newest_run(root, game.id, algo)
        return run / runs.CHECKPOINTS / "latest.pt", run
    as_path = Path(ref)
    if runs.names_a_file(as_path):
        return as_path, None
    run = runs.find_run(ref, root)
    latest = run / runs.CHECKPOINTS / "latest.pt"
    if not latest.is_file():
        raise UserError(f"--resume {ref}: the run has no latest.pt checkpoint")
    return latest, run


def _check_loadable(algo_cls: type[Algorithm], game: Game, game_params: Any, hp: Any,
                    ckpt: Mapping[str, Any], envs: int, changed: Mapping[str, Any]) -> None:
    """Refuse ``--set`` changes on resume that the saved agent cannot be loaded into (a network
    shape, a critic added or dropped): build the agent as the run would and load it."""
    saved = ckpt["config"]
    agent = algo_cls(game, game_params, hp, seed=int(saved["seed"]),
                     budget=int(saved["schedule_budget"]), device="cpu", n_envs=envs)
    try:
        agent.load_state_dict(ckpt["algorithm"])
    except (RuntimeError, KeyError, ValueError):
        keys = ", ".join(f"{k}={v}" for k, v in changed.items())
        raise UserError(f"--set {keys}: that change does not fit the network the checkpoint "
                        f"was trained with") from None
    finally:
        agent.close()


def preset_settings(game: Game, algo_cls: type[Algorithm]) -> tuple[presets.Preset, Any]:
    """The preset of (*game*, method) and the hyperparameters a new run starts from before any
    ``--set``: the method's defaults with the preset's values applied. The TUI's form shows them."""
    preset = presets.lookup(game.id, game.family, algo_cls.name)
    return preset, apply_overrides(algo_cls.Hyperparameters(), preset.hyperparameters)


def _check_workers(config: RunConfig, algo_cls: type[Algorithm], hp: Any, envs: int) -> None:
    """Refuse ``--workers`` / ``--address`` where Ray rollout workers cannot play the run."""
    workers = config.workers
    if config.address and not workers:
        raise UserError(f"--address {config.address}: it names the Ray cluster for rollout "
                        "workers; add --workers N")
    if not workers:
        return
    if not algo_cls.supports_workers:
        able = ", ".join(n for n, c in algorithms.ALGORITHMS.items() if c.supports_workers)
        raise UserError(f"--workers: {algo_cls.name} cannot use rollout workers; {able} can")
    if workers > envs:
        raise UserError(f"--workers {workers} needs at least {workers} environments: "
                        f"add --envs {workers}")
    if getattr(hp, "normalize_obs", False) or getattr(hp, "normalize_reward", False):
        raise UserError("--workers: normalize_obs and normalize_reward keep running statistics "
                        "in one process, which workers cannot share; --set them to false")


def _check_gpu_options(hp: Any, device: str) -> None:
    """Refuse the GPU-only settings for a run that trains on the CPU (they would do nothing)."""
    chosen = gpu_options_on(hp)
    if chosen and device == "cpu":
        offs = " ".join(f"--set {name}={off}" for name, off in GPU_SETTINGS
                        if any(item.startswith(f"{name}=") for item in chosen))
        raise UserError(f"--set {chosen[0]}: a GPU option, and this run trains on the CPU "
                        f"({offs}, or --device cuda)")


def prepare(config: RunConfig) -> Plan:
    """Resolve and validate *config*; raise UserError on any bad input."""
    root = runs.check_root(runs.runs_root(config.runs_dir))
    game = resolve(config.game)
    check_seed(config.seed)
    if config.target_return is not None and not math.isfinite(config.target_return):
        raise UserError(f"--target-return {config.target_return}: expected a finite number")
    for name, value in (
        ("--steps", config.steps), ("--envs", config.envs), ("--save-every", config.save_every),
        ("--eval-every", config.eval_every), ("--eval-episodes", config.eval_episodes),
        ("--threads", config.threads), ("--keep", config.keep_checkpoints),
        ("--workers", config.workers),
    ):
        _positive(name, value)

    ckpt, run_dir, parent, path = None, None, None, None
    if config.resume:
        path, run_dir = _resume_source(config, root, game)
        ckpt = checkpoints.load(path)
        parent = None if run_dir else str(path.resolve())
        if ckpt["game"] != game.id:
            raise UserError(f"--resume: {path} is a {ckpt['game']} agent, not {game.id}")
        if config.algo and algorithms.get(config.algo).name != ckpt["algo"]:
            raise UserError(f"--resume: {path} was trained with {ckpt['algo']}, not {config.algo}")

    algo_cls = algorithms.get(ckpt["algo"] if ckpt else (config.algo or game.default_algo))
    preset, preset_hp = preset_settings(game, algo_cls)
    hp_over, game_over = split_overrides(
        parse_assignments([f"{k}={v}" for k, v in config.overrides.items()]),
        ("hyperparameters", algo_cls.Hyperparameters), ("game", type(game.params)),
    )
    if ckpt:
        saved = ckpt["config"]
        hp = _settings(algo_cls.Hyperparameters, saved["hyperparameters"])
        saved_params = _settings(type(game.params), saved["game_params"])
    else:
        hp = preset_hp
        saved_params = game.params
    hp = apply_overrides(hp, hp_over)
    game_params = apply_overrides(saved_params, game_over)

    reason = algorithms.unsuitable_reason(algo_cls, game, game_params)
    if reason:
        fits = ", ".join(algorithms.suitable(game, game_params)) or "none"
        raise UserError(f"{reason}; {game.id} suits: {fits}")
    if config.envs not in (None, 1) and not algo_cls.supports_envs:
        parallel = algo_cls.parallel_hint
        raise UserError(f"--envs {config.envs}: {algo_cls.name} learns from one environment"
                        + (f"; {parallel}" if parallel else ""))
    envs = config.envs or (int(ckpt["config"].get("envs", 1)) if ckpt else preset.env_count)
    algo_cls.check_settings(hp, game, game_params, n_envs=envs)
    _check_workers(config, algo_cls, hp, envs)

    if ckpt:
        saved = ckpt["config"]
        done = int(ckpt["step"])
        total = config.steps or int(saved["steps"])
        if total <= done:
            raise UserError(
                f"--steps {total}: the run has already done {done} {algo_cls.step_unit}; "
                f"give a larger budget to extend it"
            )
        if config.seed is not None and config.seed != saved["seed"]:
            raise UserError(f"--seed {config.seed}: a resumed run keeps its seed {saved['seed']}")
        check_spaces(game, game_params, saved_params, ckpt)
        seed, schedule_budget = int(saved["seed"]), int(saved["schedule_budget"])
        if hp_over:
            _check_loadable(algo_cls, game, game_params, hp, ckpt, envs, hp_over)
        save_every = config.save_every or int(saved["save_every"])
        eval_every = config.eval_every or int(saved["eval_every"])
    else:
        total = config.steps or preset.budget(algo_cls.step_unit)
        seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
        schedule_budget = total
        save_every = config.save_every or preset.save_every or max(1, total // 10)
        eval_every = config.eval_every or preset.eval_every or max(1, total // 10)

    device = resolve_device(config.device)
    _check_gpu_options(hp, device)
    if config.workers:  # last: Ray missing or a cluster out of reach is bad input too
        from agentapp.engine.ray_cluster import connect

        connect("--workers", config.address)
    requested = (config.device or "auto").strip().lower()
    device_note = ""
    if requested == "auto":
        device_note = ("auto: CUDA device found" if device != "cpu"
                       else "auto: no CUDA device, using the CPU")
    return Plan(
        game=game, game_params=game_params, algo_cls=algo_cls, hp=hp, seed=seed,
        total_steps=total, schedule_budget=schedule_budget, device=device,
        device_note=device_note,
        envs=envs, save_every=save_every, eval_every=eval_every,
        eval_episodes=config.eval_episodes, target_return=config.target_return,
        keep_checkpoints=config.keep_checkpoints, threads=config.threads, runs_root=root,
        preset_source=preset.source, run_dir=run_dir, resume_from=ckpt, parent=parent,
        resume_path=path if ckpt else None, live_view=config.live_view,
        workers=config.workers or 0, address=config.address,
        # a trial resumed in place (by the sweep, `train --resume`, the TUI) stays in its sweep
        sweep=config.sweep or (ckpt["config"].get("sweep") if ckpt and run_dir else None),
    )


def restore_agent(ckpt: Mapping[str, Any], overrides: Mapping[str, str] | None = None):
    """Rebuild the agent stored in a loaded checkpoint: ``(agent, game, game_params)``.

    *overrides* may change game settings for evaluation (``--set slip=0``) when the observation and
    action spaces stay those the agent was trained on.
    """
    game, algo_cls = _saved_game(ckpt), _saved_algo(ckpt)
    saved = ckpt["config"]
    hp = _settings(algo_cls.Hyperparameters, saved["hyperparameters"])
    saved_params = game_params = _settings(type(game.params), saved["game_params"])
    if overrides:
        (game_over,) = split_overrides(dict(overrides), ("game", type(game.params)))
        game_params = apply_overrides(game_params, game_over)
    check_spaces(game, game_params, saved_params, ckpt)
    agent = algo_cls(
        game, game_params, hp, seed=int(saved["seed"]),
        budget=int(saved["schedule_budget"]), device="cpu", n_envs=int(saved.get("envs", 1)),
    )
    try:
        agent.load_state_dict(ckpt["algorithm"])
    except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
        agent.close()
        reason = " ".join(str(exc).split())[:140] or type(exc).__name__
        raise UserError(f"the checkpoint's {algo_cls.name} state does not fit a {algo_cls.name} "
                        f"agent for {game.id} ({reason})") from None
    return agent, game, game_params


def _saved_game(ckpt: Mapping[str, Any]) -> Game:
    try:
        return resolve(ckpt["game"])
    except UserError as exc:
        raise UserError(f"cannot play the checkpoint's game {ckpt['game']!r}: {exc}") from None


def _saved_algo(ckpt: Mapping[str, Any]) -> type[Algorithm]:
    try:
        return algorithms.get(ckpt["algo"])
    except UserError as exc:
        raise UserError(f"cannot rebuild the checkpoint's agent: {exc}") from None


def check_spaces(game: Game, params: Any, saved_params: Any, ckpt: Mapping[str, Any]) -> None:
    """Refuse to run a checkpoint's agent on a game whose observation or action space is not the
    one it was trained on: the checkpoint was made for another game (or an edited map), or a
    ``--set`` changed the game (*params* differ from the *saved_params*)."""
    expected = ckpt.get("spaces")
    spaces = spaces_of(game, params)
    if expected is None or spaces == expected:
        return
    if params != saved_params and spaces_of(game, saved_params) == expected:
        raise UserError("--set: that change alters the observation or action space the agent "
                        "was trained on")
    raise UserError(f"the checkpoint's agent does not fit {game.id}: it was trained on "
                    f"{_brief(expected)}, and {game.id} has {_brief(spaces)}")


def _brief(spaces: Mapping[str, Any]) -> str:
    """``observations Box(4,) and actions Discrete(2)``: spaces without their bounds."""
    def short(text: Any) -> str:
        found = re.match(r"Box\(.*(\([\d, ]*\)), \w+\)$", str(text))
        return f"Box{found.group(1)}" if found else str(text)[:60]

    observation, action = short(spaces.get("observation")), short(spaces.get("action"))
    return f"observations {observation} and actions {action}"
