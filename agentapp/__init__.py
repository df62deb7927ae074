"""agentapp: train reinforcement-learning agents on games and watch them play, in the terminal."""

__version__ = "0.1.0"
