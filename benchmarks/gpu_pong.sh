#!/bin/bash
# Pong on one GPU, in one call: training speed, then wall clock to a mean score of 20.
#
# Made for a borrowed GPU machine whose Python has torch with CUDA but not gymnasium, ale-py or
# textual: it installs the wheels found in .whl/ (Python 3.12, manylinux x86-64; fetch them
# beforehand with `pip download --no-deps --only-binary=:all: --python-version 3.12 -d .whl
# gymnasium==1.4.0 farama-notifications ale-py==0.12.1 textual textual-plotext plotext
# platformdirs mdit-py-plugins linkify-it-py uc-micro-py stable-baselines3`) into /tmp/site, then
# runs, from the repository root:
#
#   1. (WHAT=speed) benchmarks/atari_throughput.py --device cuda (PPO, A2C, DQN; SB3 beside
#      them when its wheel came along), THROUGHPUT_S seconds each; benchmarks/cnn_speed.py (the
#      learner alone: eager, bf16, compiled); then our PPO alone with each GPU option, to see
#      which pay: --set precision=bf16, --set compile=reduce-overhead, both;
#   2. (WHAT=solve) benchmarks/pong_solve.py --device cuda: the goal is 20 within 5 minutes on
#      one GPU with 16 CPU cores; the run stops at 20 or after SOLVE_MINUTES.
#
# WHAT=all (the default) does both, which can pass a 10-minute limit on one call: with such a
# limit, run WHAT=speed and WHAT=solve as two calls. Everything is printed and written to $OUT
# (or ./gpu-out): throughput.txt, cnn.txt, options.txt and solve.txt. Settings: THROUGHPUT_S
# (default 20), SOLVE_MINUTES (default 6), ENVS (default 16), EVAL_EVERY (default 250000), and
# SOLVE_SET, extra `--set k=v` words for pong_solve (default: none, the preset).
set -u
cd "$(dirname "$0")/.." || exit 1
out=${OUT:-gpu-out}
mkdir -p "$out"
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1
python3 - <<'PY' || exit 1
import torch
assert torch.cuda.is_available(), "no CUDA device"
print("GPU:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
PY
nproc
what=${WHAT:-all}
if [ "$what" != solve ]; then
  python3 benchmarks/atari_throughput.py --device cuda --seconds "${THROUGHPUT_S:-20}" \
    --warmup 5 2>&1 | tee "$out/throughput.txt"
  # the learner alone: eager, bf16 and compiled (CUDA graphs) side by side
  python3 benchmarks/cnn_speed.py --device cuda --seconds 10 2>&1 | tee "$out/cnn.txt"
  for options in "precision=bf16" "compile=reduce-overhead" \
                 "precision=bf16 compile=reduce-overhead"; do
    sets=()
    for option in $options; do sets+=(--set "$option"); done
    # a longer warm-up: compiling happens in the first iterations
    python3 benchmarks/atari_throughput.py --device cuda --only ppo --no-sb3 --warmup 30 \
      --seconds "${THROUGHPUT_S:-20}" "${sets[@]}" 2>&1 | tee -a "$out/options.txt"
  done
fi
if [ "$what" != speed ]; then
  # shellcheck disable=SC2086  # SOLVE_SET is a list of words on purpose
  python3 benchmarks/pong_solve.py --device cuda --max-minutes "${SOLVE_MINUTES:-6}" \
    --envs "${ENVS:-16}" --eval-every "${EVAL_EVERY:-250000}" --runs-dir /tmp/pong-gpu \
    ${SOLVE_SET:-} 2>&1 | tee "$out/solve.txt"
fi
