"""Does a long training session in the terminal app keep its memory flat?

Starts ``agentapp train cartpole --algo ppo`` on a pseudo terminal, so the dashboard opens as it
does for a user (live plots, statistics, event log), drains what it draws, and records the
resident memory of the app's process every ``--every`` seconds for ``--minutes`` minutes. Then
Ctrl+C: the app saves a checkpoint and exits 130. Target: after ``--warmup`` minutes, memory grows
by no more than 5%.

    python benchmarks/soak.py [--minutes 30] [--every 60] [--warmup 5]

CartPole's episodes are short, so a run of half an hour sends the dashboard hundreds of thousands
of episodes and metrics: the bounded history (it halves its resolution when full), the event log
(500 lines kept) and the plots must not grow with them.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time

from _common import load_average, load_warning, machine, machine_line

GROWTH_LIMIT = 0.05


def rss_mib(pid: int) -> float:
    """Resident memory of *pid* in MiB (Linux ``/proc``)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def drain(fd: int, seconds: float) -> None:
    """Read (and drop) what the app draws for *seconds*, so it never blocks on a full terminal."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if select.select([fd], [], [], min(left, 0.5))[0]:
            try:
                os.read(fd, 1 << 16)
            except OSError:
                return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=5.0, help="minutes before the baseline")
    args = parser.parse_args()
    load = load_average()
    print(machine_line(machine()))
    if load_warning(load):
        print(load_warning(load))
    master, slave = os.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
    with tempfile.TemporaryDirectory() as runs:
        env = {**os.environ, "TERM": "xterm-256color", "AGENTAPP_RUNS": runs}
        app = subprocess.Popen(
            [sys.executable, "-m", "agentapp", "train", "cartpole", "--algo", "ppo",
             "--steps", "1000000000", "--seed", "0"],
            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        began, samples = time.monotonic(), []
        try:
            while (minute := (time.monotonic() - began) / 60) <= args.minutes:
                drain(master, min(args.every, 5.0) if not samples else args.every)
                if app.poll() is not None:
                    print(f"the app exited early with {app.returncode}")
                    return 1
                minute = (time.monotonic() - began) / 60
                samples.append((minute, rss_mib(app.pid)))
                print(f"{minute:6.1f} min  {samples[-1][1]:8.1f} MiB", flush=True)
        finally:
            app.send_signal(signal.SIGINT)
            drain(master, 5.0)
            try:
                code = app.wait(timeout=60)
            except subprocess.TimeoutExpired:
                app.kill()
                code = app.wait()
            os.close(master)
            os.close(slave)
    after = [(m, r) for m, r in samples if m >= args.warmup]
    if len(after) < 2:
        print("too short to judge: raise --minutes above --warmup")
        return 0
    base, last, peak = after[0][1], after[-1][1], max(r for _, r in after)
    growth = (peak - base) / base
    verdict = "met" if growth <= GROWTH_LIMIT else "NOT met"
    print(f"after {args.warmup:g} min of warm-up: {base:.1f} MiB -> {last:.1f} MiB at the end, "
          f"peak {peak:.1f} MiB: growth {growth:+.1%} (target at most {GROWTH_LIMIT:.0%}: "
          f"{verdict}); the app exited {code} on Ctrl+C")
    return 0


if __name__ == "__main__":
    sys.exit(main())
