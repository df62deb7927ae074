"""Rich renderables shared by the CLI and the TUI.

Everything here draws with Rich only (no Textual, no Typer, no torch), so ``agentapp watch`` in a
plain terminal and the Textual dashboard show the same pictures.
"""

from agentapp.rendering.grid_text import policy_text_grid, value_text_grid
from agentapp.rendering.gridworld import GridPicture

__all__ = ["GridPicture", "policy_text_grid", "value_text_grid"]
