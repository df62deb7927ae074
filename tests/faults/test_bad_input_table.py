"""Bad input at the interface, as one table: every command and option, each wrong in its own way.

The contract (README, "Exit codes"): bad input is exit code 2 and one clear line on stderr, with no
traceback and no usage dump, and nothing saved is changed. A single table makes the contract easy
to check for every command and every option at once, and makes a missing row easy to see. It runs
against a runs folder holding one real (tiny) finished run, plus a folder that is not a run and a
run whose config.json is broken, so "nothing changed" means something. The out-of-range rows for
hyperparameters and game settings are also generated from the bounds the settings declare, so a
setting added later is covered without a new row.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import tree_digest

# -- the world the rows run in ------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A runs folder with one finished gridworld value-iteration run (40 sweeps, a second or
    two), a folder that is not a run, a run folder whose config.json is broken, a text file and
    a file that is not a checkpoint."""
    from agentapp.cli import app

    root = tmp_path_factory.mktemp("bad-input")
    runs = root / "runs"
    result = CliRunner().invoke(app, ["train", "gridworld", "--algo", "value-iteration",
                                      "--seed", "0", "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    run = Path(result.stdout.strip().splitlines()[-1])
    (runs / "not-a-run").mkdir()
    broken = runs / "broken-run"
    (broken / "checkpoints").mkdir(parents=True)
    (broken / "config.json").write_text("{not json", encoding="utf-8")
    notes = root / "notes.txt"
    notes.write_text("not an agent\n", encoding="utf-8")
    fake = root / "fake.pt"
    fake.write_bytes(b"\x00garbage\xff" * 8)
    return {"root": root, "runs": runs, "run": run, "ckpt": run / "checkpoints" / "latest.pt",
            "empty": runs / "not-a-run", "broken": broken, "notes": notes, "fake": fake,
            "missing": root / "no-such-folder"}


@pytest.fixture
def invoke(world, monkeypatch: pytest.MonkeyPatch):
    """Run the CLI inside the world: its runs folder is the default, no CUDA device exists."""
    import torch

    from agentapp.cli import app

    monkeypatch.setenv("AGENTAPP_RUNS", str(world["runs"]))
    monkeypatch.chdir(world["root"])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # whatever this machine has
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    runner = CliRunner()

    def run(argv: tuple[str, ...]):
        names = {k: str(v) for k, v in world.items()}
        names["name"] = world["run"].name
        return runner.invoke(app, [a.format(**names) for a in argv])

    return run


def everything(root: Path) -> tuple[dict[str, str], list[str]]:
    """Every file's content hash and every path (an empty new folder counts too)."""
    return tree_digest(root), sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# -- the rows -----------------------------------------------------------------------------------
# (id, argv, what the one line must contain). {run}, {name}, {ckpt}, {empty}, {broken}, {notes},
# {fake}, {missing}, {runs} and {root} name the world's paths.

GW = ("train", "gridworld")
QL = ("train", "gridworld", "--algo", "q-learning")
CP_DQN = ("train", "cartpole", "--algo", "dqn")
CP_PPO = ("train", "cartpole", "--algo", "ppo")
CP_A2C = ("train", "cartpole", "--algo", "a2c")
GIB = "would need about"

ROWS: list[tuple[str, tuple[str, ...], str]] = [
    # agentapp itself (with no command and no terminal it prints its help: see the last test)
    ("app-unknown-option", ("--bogus",), "No such option: --bogus"),
    ("app-unknown-command", ("trian", "gridworld"), "Did you mean 'train'"),
    ("app-runs-dir-without-value", ("--runs-dir",), "requires an argument"),
    ("app-runs-dir-is-a-file", ("--runs-dir", "{notes}", "runs"), "is not a folder"),
    ("app-runs-dir-to-train", ("--runs-dir", "{notes}", "train", "gridworld"), "is not a folder"),
    # train GAME
    ("train-no-game", ("train",), "Missing argument"),
    ("train-unknown-game", ("train", "gridwrld"), "did you mean: gridworld"),
    ("train-unknown-map", ("train", "gridworld:mze"), "did you mean: maze"),
    ("train-unknown-gym-id", ("train", "gym:NoSuch-v9", "--algo", "ppo"), "NoSuch-v9"),
    ("train-extra-argument", (*GW, "cartpole"), "unexpected extra argument"),
    ("train-unknown-option", (*GW, "--bogus"), "No such option: --bogus"),
    ("train-misspelt-option", (*GW, "--stesp", "10"), "--steps"),
    # --algo / -a
    ("algo-unknown", (*GW, "--algo", "q-lerning"), "did you mean: q-learning"),
    ("algo-unknown-short", (*GW, "-a", "ppx"), "did you mean: ppo"),
    ("algo-unsuitable", ("train", "cartpole", "--algo", "value-iteration"), "cartpole suits"),
    ("algo-without-value", (*GW, "--algo"), "requires an argument"),
    # --steps
    ("steps-not-a-number", (*GW, "--steps", "abc"), "'--steps'"),
    ("steps-fraction", (*GW, "--steps", "1.5"), "'--steps'"),
    ("steps-zero", (*GW, "--steps", "0"), "--steps 0: must be at least 1"),
    ("steps-negative", (*GW, "--steps", "-5"), "--steps -5: must be at least 1"),
    # --seed
    ("seed-fraction", (*GW, "--seed", "1.5"), "'--seed'"),
    ("seed-negative", (*QL, "--seed", "-1"), "--seed -1: must be in [0, 4294967295]"),
    ("seed-too-large", (*CP_PPO, "--seed", str(2**64)), "must be in [0, 4294967295]"),
    # --envs
    ("envs-zero", (*CP_PPO, "--envs", "0"), "--envs 0: must be at least 1"),
    ("envs-negative", (*CP_PPO, "--envs", "-2"), "--envs -2: must be at least 1"),
    ("envs-not-a-number", (*CP_PPO, "--envs", "many"), "'--envs'"),
    ("envs-for-a-one-env-method", (*QL, "--envs", "4"), "learns from one environment"),
    # --device
    ("device-cuda-without-gpu", (*GW, "--device", "cuda"), "no CUDA device"),
    ("device-cuda-3-without-gpu", (*CP_PPO, "--device", "cuda:3"), "no CUDA device"),
    ("device-unknown", (*GW, "--device", "tpu"), "expected auto, cpu, cuda or cuda:<index>"),
    ("device-bad-index", (*GW, "--device", "cuda:x"), "expected auto, cpu"),
    # --set: the key
    ("set-without-value", (*GW, "--set"), "requires an argument"),
    ("set-no-equals", (*GW, "--set", "gamma"), "expected key=value"),
    ("set-no-key", (*GW, "--set", "=0.9"), "expected key=value"),
    ("set-unknown-key", (*QL, "--set", "alpah=0.1"), "did you mean: alpha"),
    ("set-abbreviated-key", (*CP_PPO, "--set", "lr=3e-4"), "did you mean: learning_rate"),
    ("set-abbreviated-key-wrong-type", (*CP_PPO, "--set", "lr=abc"),
     "did you mean: learning_rate"),
    ("set-unknown-key-lists-all", (*GW, "--set", "zzz=1"), "valid: gamma, theta"),
    ("set-key-of-another-method", (*QL, "--set", "learning_rate=0.1"), "unknown setting"),
    # --set: the type
    ("set-float-not-a-number", (*CP_PPO, "--set", "learning_rate=abc"), "expected float"),
    ("set-float-nan", (*CP_PPO, "--set", "learning_rate=nan"), "expected a finite float"),
    ("set-float-inf", (*CP_PPO, "--set", "learning_rate=inf"), "expected a finite float"),
    ("set-q-init-inf", (*QL, "--set", "q_init=-inf"), "expected a finite float"),
    ("set-bool-maybe", (*CP_DQN, "--set", "double=maybe"), "--set double=maybe: expected bool"),
    ("set-int-fraction", (*CP_DQN, "--set", "batch_size=1.5"), "expected int"),
    ("set-int-word", (*CP_PPO, "--set", "n_epochs=four"), "expected int"),
    ("set-int-overflow", (*CP_PPO, "--set", "n_epochs=1e400"), "expected int"),
    ("set-choice", (*GW, "--set", "obs=pixels"), "must be one of index, walls"),
    ("set-choice-activation", (*CP_PPO, "--set", "activation=gelu"), "must be one of tanh"),
    ("set-hidden-not-sizes", (*CP_PPO, "--set", "hidden=abc"), "expected layer sizes"),
    ("set-hidden-zero", (*CP_DQN, "--set", "hidden=64,0"), "expected layer sizes"),
    ("set-network-for-vectors", (*CP_PPO, "--set", "network=nature"),
     "needs image observations"),
    # --set: the range (hand-written; every declared bound also gets a generated row below)
    ("lr-negative", (*CP_PPO, "--set", "learning_rate=-1"), "--set learning_rate=-1: must be > 0"),
    ("lr-zero", (*CP_DQN, "--set", "learning_rate=0"), "--set learning_rate=0: must be > 0"),
    ("gamma-above-1", (*CP_DQN, "--set", "gamma=1.5"), "--set gamma=1.5: must be in [0, 1]"),
    ("gamma-below-0", (*QL, "--set", "gamma=-0.1"), "--set gamma=-0.1: must be in [0, 1]"),
    ("epsilon-above-1", (*QL, "--set", "epsilon=1.01"), "--set epsilon=1.01: must be in [0, 1]"),
    ("epsilon-end-negative", (*CP_DQN, "--set", "epsilon_end=-0.05"), "must be in [0, 1]"),
    ("clip-range-zero", (*CP_PPO, "--set", "clip_range=0"), "--set clip_range=0: must be > 0"),
    ("clip-range-negative", (*CP_PPO, "--set", "clip_range=-0.2"), "must be > 0"),
    ("batch-size-zero", (*CP_DQN, "--set", "batch_size=0"), "--set batch_size=0: must be >= 1"),
    ("ppo-batch-size-zero", (*CP_PPO, "--set", "batch_size=0"), "must be >= 1"),
    ("n-steps-zero", (*CP_A2C, "--set", "n_steps=0"), "--set n_steps=0: must be >= 1"),
    ("slip-above-1", (*GW, "--set", "slip=1.5"), "--set slip=1.5: must be in [0, 1]"),
    ("max-steps-zero", (*GW, "--set", "max_steps=0"), "must be >= 1"),
    ("episode-cap-zero", (*CP_PPO, "--set", "max_episode_steps=0"), "must be >= 1"),
    ("sticky-above-1", ("train", "pong", "--set", "sticky=2"), "--set sticky=2: must be in"),
    ("schedule-cannot-reach-0", (*QL, "--set", "alpha_schedule=exponential", "--set",
                                 "alpha_end=0"), "positive ends"),
    # --set: sizes that cannot be allocated are refused before a run folder is made
    ("replay-buffer-too-large", (*CP_DQN, "--set", "buffer_size=1e30"), GIB),
    ("rollout-too-large", (*CP_PPO, "--set", "n_steps=1e12"), GIB),
    ("network-too-large", (*CP_A2C, "--set", "hidden=10000000,10000000"), GIB),
    # --resume
    ("resume-missing-run", (*GW, "--resume", "no-such-run"), "no run named 'no-such-run'"),
    ("resume-missing-path", (*GW, "--resume", "{missing}"), "no run named"),
    ("resume-folder-not-a-run", (*GW, "--resume", "{empty}"), "not a run folder"),
    ("resume-name-not-a-run", (*GW, "--resume", "not-a-run"), "not a run folder"),
    ("resume-broken-config", (*GW, "--resume", "{broken}"), "no latest.pt"),
    ("resume-text-file", (*GW, "--resume", "{notes}"), "not a valid agentapp checkpoint"),
    ("resume-garbage-file", (*GW, "--resume", "{fake}"), "not a valid agentapp checkpoint"),
    ("resume-last-none", (*GW, "--algo", "sarsa", "--resume", "last"), "no earlier"),
    ("resume-steps-done", (*GW, "--resume", "{name}", "--steps", "1"), "already done"),
    ("resume-other-game", ("train", "gridworld:cliff", "--resume", "{run}"),
     "not gridworld:cliff"),
    ("resume-other-method", (*QL, "--resume", "{run}"), "trained with value-iteration"),
    ("resume-other-seed", (*GW, "--resume", "{run}", "--seed", "5"), "keeps its seed"),
    ("resume-file-other-game", ("train", "cartpole", "--resume", "{ckpt}"), "not cartpole"),
    # --headless
    ("headless-with-value", (*GW, "--headless=yes"), "does not take a value"),
    # --save-every, --eval-every, --eval-episodes, --target-return, --threads, --keep
    ("save-every-negative", (*GW, "--save-every", "-1"), "--save-every -1: must be at least 1"),
    ("save-every-zero", (*GW, "--save-every", "0"), "--save-every 0: must be at least 1"),
    ("save-every-not-a-number", (*GW, "--save-every", "often"), "'--save-every'"),
    ("eval-every-zero", (*GW, "--eval-every", "0"), "--eval-every 0: must be at least 1"),
    ("eval-episodes-zero", (*GW, "--eval-episodes", "0"), "--eval-episodes 0: must be at least"),
    ("target-return-nan", (*GW, "--target-return", "nan"), "--target-return nan: expected"),
    ("target-return-inf", (*GW, "--target-return", "inf"), "expected a finite number"),
    ("target-return-word", (*GW, "--target-return", "high"), "'--target-return'"),
    ("threads-zero", (*GW, "--threads", "0"), "--threads 0: must be at least 1"),
    ("threads-negative", (*GW, "--threads", "-3"), "--threads -3: must be at least 1"),
    ("keep-zero", (*GW, "--keep", "0"), "--keep 0: must be at least 1"),
    ("keep-not-a-number", (*GW, "--keep", "all"), "'--keep'"),
    # --runs-dir
    ("train-runs-dir-is-a-file", (*GW, "--runs-dir", "{notes}"), "is not a folder"),
    ("train-runs-dir-without-value", (*GW, "--runs-dir"), "requires an argument"),
    # watch [RUN|CHECKPOINT|GAME]
    ("watch-missing-run", ("watch", "no-such-run"), "no run named 'no-such-run'"),
    ("watch-unknown-graphics", ("watch", "{run}", "--graphics", "sixels"),
     "unknown graphics 'sixels'"),
    ("watch-folder-not-a-run", ("watch", "{empty}"), "not a run folder"),
    ("watch-name-not-a-run", ("watch", "not-a-run"), "not a run folder"),
    ("watch-broken-run", ("watch", "{broken}"), "no checkpoint yet"),
    ("watch-text-file", ("watch", "{notes}"), "not a valid agentapp checkpoint"),
    ("watch-game-without-agent", ("watch", "acrobot"), "none ships with agentapp"),
    ("watch-two-refs", ("watch", "{name}", "{name}"), "unexpected extra argument"),
    ("watch-episodes-zero", ("watch", "{name}", "--episodes", "0"), "'--episodes'"),
    ("watch-episodes-word", ("watch", "{name}", "--episodes", "some"), "'--episodes'"),
    ("watch-fps-negative", ("watch", "{name}", "--fps", "-1"), "'--fps'"),
    ("watch-fps-zero", ("watch", "{name}", "--fps", "0"), "'--fps'"),
    ("watch-fps-nan", ("watch", "{name}", "--fps", "nan"), "'--fps'"),
    ("watch-fps-word", ("watch", "{name}", "--fps", "fast"), "'--fps'"),
    ("watch-seed-negative", ("watch", "{name}", "--seed", "-1"), "--seed -1: must be in"),
    ("watch-seed-fraction", ("watch", "{name}", "--seed", "0.5"), "'--seed'"),
    ("watch-stochastic-with-value", ("watch", "{name}", "--stochastic=1"), "does not take"),
    ("watch-record-bad-suffix", ("watch", "{name}", "--record", "{root}/out.xyz"),
     "must end in .gif or .mp4"),
    ("watch-record-missing-folder", ("watch", "{name}", "--record", "{missing}/out.gif"),
     "does not exist"),
    ("watch-game-record-bad-suffix", ("watch", "gridworld", "--record", "{root}/out.txt"),
     "must end in .gif"),
    ("watch-unknown-option", ("watch", "{name}", "--bogus"), "No such option: --bogus"),
    # eval RUN|CHECKPOINT
    ("eval-no-ref", ("eval",), "Missing argument"),
    ("eval-missing-run", ("eval", "no-such-run"), "no run named 'no-such-run'"),
    ("eval-folder-not-a-run", ("eval", "{empty}"), "not a run folder"),
    ("eval-broken-run", ("eval", "broken-run"), "no checkpoint yet"),
    ("eval-garbage-file", ("eval", "{fake}"), "not a valid agentapp checkpoint"),
    ("eval-last-in-empty-root", ("eval", "last", "--runs-dir", "{empty}"), "no runs in"),
    ("eval-episodes-zero", ("eval", "{name}", "--episodes", "0"), "'--episodes'"),
    ("eval-episodes-negative", ("eval", "{name}", "--episodes", "-3"), "'--episodes'"),
    ("eval-seed-negative", ("eval", "{name}", "--seed", "-1"), "--seed -1: must be in"),
    ("eval-seed-too-large", ("eval", "{name}", "--seed", str(2**32)), "must be in [0,"),
    ("eval-seed-fraction", ("eval", "{name}", "--seed", "1.5"), "'--seed'"),
    ("eval-set-unknown", ("eval", "{name}", "--set", "slp=0"), "did you mean: slip"),
    ("eval-set-hyperparameter", ("eval", "{name}", "--set", "gamma=0.5"), "unknown setting"),
    ("eval-set-out-of-range", ("eval", "{name}", "--set", "slip=2"), "must be in [0, 1]"),
    ("eval-set-wrong-type", ("eval", "{name}", "--set", "max_steps=lots"), "expected int"),
    ("eval-set-new-space", ("eval", "{name}", "--set", "obs=walls"), "observation"),
    ("eval-set-no-equals", ("eval", "{name}", "--set", "slip"), "expected key=value"),
    ("eval-json-with-value", ("eval", "{name}", "--json=yes"), "does not take a value"),
    ("eval-stochastic-with-value", ("eval", "{name}", "--stochastic=no"), "does not take"),
    # inspect RUN|CHECKPOINT
    ("inspect-no-ref", ("inspect",), "Missing argument"),
    ("inspect-missing-run", ("inspect", "no-such-run"), "no run named"),
    ("inspect-folder-not-a-run", ("inspect", "{empty}"), "not a run folder"),
    ("inspect-broken-run", ("inspect", "{broken}"), "no checkpoint yet"),
    ("inspect-text-file", ("inspect", "{notes}"), "not a valid agentapp checkpoint"),
    ("inspect-extra-argument", ("inspect", "{name}", "more"), "unexpected extra argument"),
    ("inspect-unknown-option", ("inspect", "{name}", "--set", "slip=0"), "No such option: --set"),
    ("inspect-json-with-value", ("inspect", "{name}", "--json=true"), "does not take a value"),
    ("inspect-runs-dir-elsewhere", ("inspect", "{name}", "--runs-dir", "{empty}"), "no run named"),
    ("watch-runs-dir-elsewhere", ("watch", "--runs-dir", "{empty}"), "no runs in"),
    ("eval-runs-dir-is-a-file", ("eval", "last", "--runs-dir", "{notes}"), "no runs in"),
    # runs, list, models
    ("runs-unknown-option", ("runs", "--bogus"), "No such option: --bogus"),
    ("runs-extra-argument", ("runs", "all"), "unexpected extra argument"),
    ("runs-dir-is-a-file", ("runs", "--runs-dir", "{notes}"), "is not a folder"),
    ("runs-json-with-value", ("runs", "--json=yes"), "does not take a value"),
    ("list-json-with-value", ("list", "--json=yes"), "does not take a value"),
    ("list-runs-dir-without-value", ("list", "--runs-dir"), "requires an argument"),
    ("models-runs-dir-without-value", ("models", "--runs-dir"), "requires an argument"),
    ("list-unknown-option", ("list", "--bogus"), "No such option: --bogus"),
    ("list-extra-argument", ("list", "games"), "unexpected extra argument"),
    ("list-presets-with-value", ("list", "--presets=all"), "does not take a value"),
    ("models-unknown-option", ("models", "--bogus"), "No such option: --bogus"),
    ("models-extra-argument", ("models", "cartpole"), "unexpected extra argument"),
    ("models-json-with-value", ("models", "--json=1"), "does not take a value"),
    # experiment
    ("experiment-unknown", ("experiment", "dqn-ablaton"), "nearest: dqn-ablation"),
    ("experiment-one-seed", ("experiment", "dqn-ablation", "--seeds", "1"), "at least 2 seeds"),
    ("experiment-seeds-not-a-number", ("experiment", "pg-variance", "--seeds", "x"), "'--seeds'"),
    ("experiment-quick-with-value", ("experiment", "pg-variance", "--quick=1"),
     "does not take a value"),
    ("experiment-game-it-cannot-run", ("experiment", "dqn-ablation", "--game", "pong"),
     "runs on cartpole"),
    ("experiment-list-with-value", ("experiment", "--list=yes"), "does not take a value"),
    ("experiment-tiny-with-value", ("experiment", "pg-variance", "--tiny=1"),
     "does not take a value"),
    ("experiment-runs-dir-is-a-file", ("experiment", "pg-variance", "--runs-dir", "{notes}"),
     "is not a folder"),
    # train with Ray rollout workers (the checks that need no Ray)
    ("workers-not-a-number", (*CP_PPO, "--workers", "x"), "'--workers'"),
    ("address-without-workers", (*CP_PPO, "--address", "auto"), "add --workers N"),
]

SWEEP = ("sweep", "cartpole", "--algo", "ppo")
SWEEP_ROWS = [
    ("sweep-no-game", ("sweep",), "give GAME or --games"),
    ("sweep-unknown-algo", ("sweep", "cartpole", "--algo", "dqnn"), "did you mean: dqn"),
    ("sweep-zero-seeds", (*SWEEP, "--seeds", "0"), "--seeds 0: must be at least 1"),
    ("sweep-negative-seed", (*SWEEP, "--seed", "-1"), "--seed -1: must be in"),
    ("sweep-grid-without-values", (*SWEEP, "--grid", "learning_rate"), "expected key=value1"),
    ("sweep-grid-unknown-key", (*SWEEP, "--grid", "learning_rat=1e-3,3e-3"),
     "did you mean"),
    ("sweep-unknown-extra-game", (*SWEEP, "--games", "cartpol"), "did you mean: cartpole"),
    ("sweep-zero-steps", (*SWEEP, "--steps", "0"), "--steps 0: must be at least 1"),
    ("sweep-zero-envs", (*SWEEP, "--envs", "0"), "--envs 0: must be at least 1"),
    ("sweep-unknown-set-key", (*SWEEP, "--set", "foo=1"), "--set foo: unknown setting"),
    ("sweep-zero-concurrent", (*SWEEP, "--max-concurrent", "0"), "must be at least 1"),
    ("sweep-zero-cpus", (*SWEEP, "--cpus-per-run", "0"), "must be more than 0"),
    ("sweep-negative-gpus", (*SWEEP, "--gpus-per-run", "-1"), "must be 0 or more"),
    ("sweep-address-nobody-answers", (*SWEEP, "--address", "127.0.0.1:1"),
     "no Ray cluster answers there"),
    ("sweep-bad-name", (*SWEEP, "--name", "a/b"), "--name 'a/b'"),
    ("sweep-resume-unknown", ("sweep", "--resume", "nosuch"), "no sweep of that name"),
    ("sweep-zero-eval-episodes", (*SWEEP, "--eval-episodes", "0"), "must be at least 1"),
    ("sweep-asha-with-value", (*SWEEP, "--asha=1"), "does not take a value"),
    ("sweep-grace-without-asha", (*SWEEP, "--asha-grace", "100"), "only with --asha"),
    ("sweep-unknown-search", (*SWEEP, "--search", "nosuch"), "unknown search algorithm"),
    ("sweep-samples-without-search", (*SWEEP, "--samples", "3"), "only with --search"),
    ("sweep-json-with-value", (*SWEEP, "--json=1"), "does not take a value"),
    ("sweep-runs-dir-is-a-file", (*SWEEP, "--runs-dir", "{notes}"), "is not a folder"),
]
if importlib.util.find_spec("ray") is None:  # past option parsing, sweep asks for Ray first
    SWEEP_ROWS = [(i, a, says if "with-value" in i else "pip install 'agentapp[ray]'")
                  for i, a, says in SWEEP_ROWS]
ROWS += SWEEP_ROWS


def _outside(low: float | None, high: float | None, low_open: bool, is_int: bool) -> list[str]:
    """Values just outside a declared range, as typed."""
    step = 1 if is_int else 0.5
    values = []
    if low is not None:
        values.append(low if low_open else low - step)
    if high is not None and (not is_int or high < 2**40):
        values.append(high + step)
    return [f"{v:g}" if not is_int else str(int(v)) for v in values]


def _generated_range_rows() -> list[tuple[str, tuple[str, ...], str]]:
    """One row per bound of every numeric hyperparameter of every method, and of every game
    setting: the value just past the bound is refused, naming the key and the value."""
    import dataclasses

    from agentapp.engine import algorithms
    from agentapp.games import resolve
    from agentapp.params import describe

    rows = []
    owners = [(f"{name}", ("train", "gridworld" if name in algorithms.suitable(
        resolve("gridworld")) else "cartpole", "--algo", name), cls.Hyperparameters)
        for name, cls in algorithms.ALGORITHMS.items()]
    owners += [(f"game-{game}", ("train", game), type(resolve(game).params))
               for game in ("gridworld", "cartpole", "pong")]
    for label, argv, cls in owners:
        flags = {f.name: f.metadata.get("low_open", False) for f in dataclasses.fields(cls)}
        for info in describe(cls):
            if info.type not in ("int", "float"):
                continue
            for text in _outside(info.low, info.high, flags[info.name], info.type == "int"):
                rows.append((f"range-{label}-{info.name}={text}",
                             (*argv, "--set", f"{info.name}={text}"),
                             f"--set {info.name}={text}: must be "))
    return rows


GENERATED = _generated_range_rows()


@pytest.mark.parametrize(("argv", "says"), [pytest.param(a, s, id=i) for i, a, s in
                                            ROWS + GENERATED])
def test_bad_input_is_one_line_and_exit_2(invoke, world, argv, says):
    before = everything(world["root"])
    runs_before = tree_digest(world["runs"])
    result = invoke(argv)
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, result.stderr
    line = result.stderr.rstrip("\n")
    assert line.strip() and line.startswith("agentapp: "), line
    assert "Usage:" not in line
    assert says.lower() in line.lower(), line
    assert result.stdout == "", result.stdout
    assert tree_digest(world["runs"]) == runs_before
    assert everything(world["root"]) == before  # nothing written, no folder made, anywhere


def test_the_table_covers_every_option_of_every_command():
    """Each command's options each have a row (or a generated row): a new option needs one."""
    import typer

    from agentapp.cli import app

    group = typer.main.get_command(app)
    missing = []
    for name, command in [("", group), *group.commands.items()]:
        argvs = [argv for _, argv, _ in ROWS + GENERATED
                 if (argv[0] == name if name else argv[0].startswith("-"))]
        if not argvs:
            missing.append(name)
        for param in command.params:
            if param.param_type_name == "option" and not any(
                    arg.split("=")[0] in param.opts for argv in argvs for arg in argv):
                missing.append(f"{name or 'agentapp'} {param.opts[0]}")
    assert not missing, f"commands or options without a bad-input row: {missing}"


def test_no_command_without_a_terminal_prints_help(invoke, world):
    """``agentapp`` alone opens the terminal app; with no terminal it prints its help and exits 0,
    touching nothing."""
    before = everything(world["root"])
    result = invoke(())
    assert result.exit_code == 0, result.output
    assert "Usage" in result.stdout and "train" in result.stdout
    assert result.stderr == ""
    assert everything(world["root"]) == before
