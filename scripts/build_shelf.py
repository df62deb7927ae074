"""Rebuild the shelf of trained agents shipped in ``agentapp/models/``, reproducibly.

    python scripts/build_shelf.py [--only FILE ...] [--from-run FILE=RUN ...] [--episodes 20]
                                  [--seed 1000]

For each entry below it runs the entry's ``agentapp train ...`` command as a subprocess, exactly as
written (with ``AGENTAPP_RUNS`` pointing at a temporary folder, so no ``./runs`` is touched), takes
the run's ``best.pt`` (else ``latest.pt``), evaluates it the way ``agentapp eval FILE --episodes N
--seed S`` does (greedy, episode i seeded S+i), checks that it plays at least as well as the entry
demands, and only then copies it into ``agentapp/models/`` and records it in ``manifest.json``:
game, method, steps, the evaluation and its protocol, the sha256, the command and the versions that
trained it. With ``--only`` the other entries of the manifest are kept as they are.

Long entries (Pong: hours on a CPU) are not trained by a plain rebuild: ``--from-run
pong-ppo.pt=RUN`` takes the checkpoint of a run that was trained with the entry's command (its
config must agree on game, method and seed; a run stopped and resumed is the same run), and without
it the old shelf entry is kept. Pixel agents ship as :func:`agentapp.checkpoints.for_playing`
copies, without the optimizer's moments (a third of the size, the same actions).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from agentapp import checkpoints, runs, shelf


@dataclass(frozen=True)
class Entry:
    file: str
    command: str
    minimum: float
    """The agent must evaluate at least this well to be shipped (a rebuild on another machine or
    torch may train differently; it must not ship a weaker agent without anyone noticing)."""
    episodes: int | None = None
    """Evaluation episodes for this entry (whole Atari games are long); else ``--episodes``."""
    long: bool = False
    """Trained only from ``--from-run`` or when named in ``--only``; kept otherwise."""
    for_playing: bool = False
    """Ship :func:`checkpoints.for_playing`'s copy (no optimizer moments, no environments)."""


ENTRIES = [
    # The planners solve the maps with a known model: their greedy policy is optimal.
    Entry("gridworld-classic-value-iteration.pt",
          "agentapp train gridworld:classic --algo value-iteration --seed 0 --headless", 0.5),
    Entry("gridworld-cliff-value-iteration.pt",
          "agentapp train gridworld:cliff --algo value-iteration --seed 0 --headless", -13.5),
    Entry("gridworld-maze-value-iteration.pt",
          "agentapp train gridworld:maze --algo value-iteration --seed 0 --headless", 0.75),
    # The aliased map hides the state (observations are the walls around the agent), so there is
    # no model to plan with, and no deterministic policy finishes from every start: the lesson.
    Entry("gridworld-aliased-q-learning.pt",
          "agentapp train gridworld:aliased --algo q-learning --seed 0 --headless", 0.5),
    Entry("cartpole-ppo.pt",
          "agentapp train cartpole --algo ppo --seed 0 --target-return 500 --eval-every 2000 "
          "--headless", 475.0),
    # The preset's 256x256 Q-network makes a 1.1 MB checkpoint (online and target networks and
    # Adam's two moments); 64x64 solves CartPole as well in a 0.1 MB file.
    Entry("cartpole-dqn.pt",
          "agentapp train cartpole --algo dqn --seed 0 --set hidden=64,64 --target-return 500 "
          "--eval-every 2000 --headless", 475.0),
    # The showcase: the Atari preset's PPO from pixels (4 hours on 2 CPU cores for 2M steps),
    # judged on 10 whole games (40 s); it must beat the built-in player by 10 points a game.
    Entry("pong-ppo.pt",
          "agentapp train pong --algo ppo --seed 0 --eval-every 200000 --target-return 20 "
          "--headless", 10.0, episodes=10, long=True, for_playing=True),
]


def train(entry: Entry, runs_dir: Path) -> Path:
    """Run the entry's command as written; return the checkpoint to ship."""
    argv = shlex.split(entry.command)
    assert argv[0] == "agentapp", entry.command
    env = {**os.environ, runs.ENV_VAR: str(runs_dir)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "agentapp", *argv[1:]], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{entry.command} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    (run,) = [p for p in runs_dir.iterdir() if runs.is_run_dir(p)]
    print(f"  trained in {time.perf_counter() - start:.1f} s: {run.name}", flush=True)
    return runs.checkpoint_of(run, prefer_best=True)


def _flag(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def trained_run(entry: Entry, run: Path) -> Path:
    """The checkpoint of *run*, after checking that the entry's command trained it."""
    from agentapp.games import resolve

    argv = shlex.split(entry.command)
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    wanted = {"game": resolve(argv[2]).id, "algo": _flag(argv, "--algo"),
              "seed": int(_flag(argv, "--seed"))}
    found = {key: config.get(key) for key in wanted}
    if found != wanted:
        sys.exit(f"{run} was not trained by `{entry.command}`: its config has {found}")
    print(f"  from {run} ({config.get('preset')} preset)", flush=True)
    return runs.checkpoint_of(run, prefer_best=True)


def build(entry: Entry, episodes: int, seed: int, work: Path,
          run: Path | None = None) -> shelf.ShippedAgent:
    """Train (or take *run*'s checkpoint) and evaluate one entry, leaving its file in
    ``work/stage``."""
    runs_dir, stage = work / "runs", work / "stage"
    runs_dir.mkdir()
    stage.mkdir(exist_ok=True)
    staged = stage / entry.file
    source = trained_run(entry, run) if run is not None else train(entry, runs_dir)
    if entry.for_playing:
        checkpoints.save(checkpoints.for_playing(checkpoints.load(source)), staged)
    else:
        shutil.copyfile(source, staged)
    ckpt = checkpoints.load(staged)
    episodes = entry.episodes or episodes
    agent = shelf.ShippedAgent(
        file=entry.file, game=ckpt["game"], algo=ckpt["algo"], steps=int(ckpt["step"]),
        protocol="", eval_mean=0.0, eval_std=0.0, eval_episodes=episodes, eval_seed=seed,
        sha256=shelf.sha256_of(staged), command=entry.command,
        trained_with={k: str(v) for k, v in ckpt["config"].get("versions", {}).items()},
    )
    result = shelf.evaluate(agent, root=stage)
    agent = replace(agent, protocol=result["protocol"], eval_mean=result["mean"],
                    eval_std=result["std"])
    print(f"  {agent.game} {agent.algo}: {agent.eval_mean:.3f} ± {agent.eval_std:.3f} "
          f"({agent.protocol}); {staged.stat().st_size:,} bytes", flush=True)
    if agent.eval_mean < entry.minimum:
        sys.exit(f"{entry.file}: evaluation {agent.eval_mean:.3f} is below the {entry.minimum} "
                 "this entry demands; nothing was changed on the shelf")
    return agent


def write_manifest(agents: list[shelf.ShippedAgent]) -> None:
    data = {"format": shelf.MANIFEST_FORMAT, "agents": [a.as_json() for a in agents]}
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    (shelf.SHELF_DIR / shelf.MANIFEST).write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="FILE", help="rebuild only these entries")
    parser.add_argument("--from-run", nargs="+", default=[], metavar="FILE=RUN",
                        help="take this entry's agent from a run its command trained")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1000)
    args = parser.parse_args()
    if any("=" not in item for item in args.from_run):
        parser.error("--from-run takes FILE=RUN, such as pong-ppo.pt=runs/pong-ppo-...")
    sources = dict(item.split("=", 1) for item in args.from_run)
    wanted = set(args.only or [e.file for e in ENTRIES if not e.long or e.file in sources])
    unknown = (wanted | set(sources)) - {e.file for e in ENTRIES}
    if unknown:
        sys.exit(f"no shelf entry named {', '.join(sorted(unknown))}")
    old = {a.file: a for a in shelf.load_manifest()}
    agents = []
    with tempfile.TemporaryDirectory(prefix="agentapp-shelf-") as tmp:
        work = Path(tmp)
        for i, entry in enumerate(ENTRIES):
            if entry.file not in wanted:
                if entry.file in old:
                    agents.append(old[entry.file])
                continue
            print(f"{entry.file}: {entry.command}", flush=True)
            (work / str(i)).mkdir()
            run = Path(sources[entry.file]) if entry.file in sources else None
            agents.append(build(entry, args.episodes, args.seed, work / str(i), run))
        # every entry passed: only now does the shelf change
        shelf.SHELF_DIR.mkdir(exist_ok=True)
        for i, entry in enumerate(ENTRIES):
            if entry.file in wanted:
                shutil.copyfile(work / str(i) / "stage" / entry.file, shelf.SHELF_DIR / entry.file)
    write_manifest(agents)
    print(f"wrote {shelf.SHELF_DIR / shelf.MANIFEST} ({len(agents)} agents)")


if __name__ == "__main__":
    main()
