#!/usr/bin/env bash
# Set up agentapp in a virtual environment, then run the demo or the tests.
#
#   bash scripts/bootstrap.sh demo    install, train an agent on the cliff gridworld, say how to watch it
#   bash scripts/bootstrap.sh test    install with the test extras, run the test suite
#   bash scripts/bootstrap.sh slow    install with the test extras, run the slow learning checks
#
# Torch is chosen before anything else so that no other requirement pulls the multi-GB CUDA build
# onto a machine without a GPU:
#   1. a torch already in the environment is kept;
#   2. a torch wheel pip can find without an index (a local wheelhouse or --find-links directory,
#      such as a CPU build provided by the machine) is installed from there, with no download;
#   3. Linux without an NVIDIA GPU gets the CPU build from the PyTorch CPU index (about 200 MB),
#      falling back to PyPI when that index cannot be reached;
#   4. everything else (a machine with an NVIDIA GPU, macOS) gets torch from PyPI as usual, which
#      is the CUDA build on Linux.
# Environment: PYTHON (interpreter, default python3), AGENTAPP_VENV (default .venv),
# TORCH_SPEC (default "torch>=2.4").
set -euo pipefail

cd "$(dirname "$0")/.."
task="${1:-demo}"
python="${PYTHON:-python3}"
venv="${AGENTAPP_VENV:-.venv}"
torch_spec="${TORCH_SPEC:-torch>=2.4}"

if [ ! -x "$venv/bin/python" ]; then
  echo "creating virtual environment $venv"
  "$python" -m venv "$venv"
fi
py="$venv/bin/python"
pip=("$py" -m pip --disable-pip-version-check)

if "$py" -c "import torch" 2>/dev/null; then
  echo "torch $("$py" -c 'import torch; print(torch.__version__)') is already installed"
elif "${pip[@]}" install --quiet --no-index --no-deps "$torch_spec" 2>/dev/null; then
  echo "installed torch from a local wheel (no download)"
elif [ "$(uname -s)" = "Linux" ] && ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "no NVIDIA GPU found: installing the CPU build of torch"
  "${pip[@]}" install --quiet "$torch_spec" --index-url https://download.pytorch.org/whl/cpu \
    || "${pip[@]}" install --quiet "$torch_spec"
else
  echo "installing torch from PyPI"
  "${pip[@]}" install --quiet "$torch_spec"
fi

case "$task" in
  demo)
    "${pip[@]}" install --quiet -e .
    "$venv/bin/agentapp" train gridworld:cliff --algo q-learning
    echo
    echo "Watch the agent:   $venv/bin/agentapp watch last"
    echo "See what it knows: $venv/bin/agentapp inspect last"
    ;;
  test)
    # Box2D (LunarLander) and Ray (sweeps, --workers) where wheels exist for this platform, in
    # one resolve; where one is missing, each is tried alone and its tests skip without it
    if ! "${pip[@]}" install --quiet -e ".[test,box2d,ray]" 2>/dev/null; then
      "${pip[@]}" install --quiet -e ".[test]"
      "${pip[@]}" install --quiet -e ".[test,box2d]" 2>/dev/null \
        || echo "Box2D is not installable here: the LunarLander tests will be skipped"
      "${pip[@]}" install --quiet -e ".[test,ray]" 2>/dev/null \
        || echo "Ray is not installable here: the sweep and --workers tests will be skipped"
    fi
    "$py" -m ruff check agentapp tests benchmarks
    # the slow-marked learning checks (presets solving CartPole, ...) run with `slow`; two test
    # processes (pytest-xdist), each taking whole files, so a module's shared fixtures (a trained
    # agent, a local Ray) are built once
    "$py" -m pytest -q -m "not slow" -n 2 --dist loadfile
    ;;
  slow)
    "${pip[@]}" install --quiet -e ".[test]"
    "${pip[@]}" install --quiet -e ".[test,ray]" 2>/dev/null \
      || echo "Ray is not installable here: the slow sweep and --workers checks will be skipped"
    "$py" -m pytest -q -m slow
    ;;
  *)
    echo "usage: bash scripts/bootstrap.sh demo|test|slow" >&2
    exit 2
    ;;
esac
