"""How training reports a failure it cannot go on from.

Its own module, below the algorithms and the loop: the loop catches it, and parts of methods that
run machinery of their own (A3C's worker processes) raise it without importing the algorithm
registry.
"""

from __future__ import annotations


class TrainingBroken(Exception):
    """Training cannot go on without losing or spoiling what is saved: a parameter is no longer
    a finite number, a checkpoint cannot be written (disk full, read-only folder), or a method's
    own machinery failed (an asynchronous worker died). The run ends as failed with this
    one-line message; the previous checkpoint is left as it was."""
