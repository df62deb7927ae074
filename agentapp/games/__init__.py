"""Games: gymnasium environments and the registry that names them. No UI code lives here."""

from agentapp.games.registry import Game, catalogue, resolve

__all__ = ["Game", "catalogue", "resolve"]
