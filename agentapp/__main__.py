"""Entry point for ``python -m agentapp``."""

from agentapp.cli import main

main()
