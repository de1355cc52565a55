"""The engine: how a keras-gates layer runs its cell over a sequence.

`choose_path` decides how (step by step, hoisted, or with a parallel scan)
and `run` runs the cell through its protocol (`keras_gates.GatedCell`).
"""

from keras_gates.engine.paths import PATHS
from keras_gates.engine.paths import choose_path
from keras_gates.engine.paths import run

__all__ = ["PATHS", "choose_path", "run"]
