"""The engine: how a keras-gates layer runs its cell over a sequence.

`choose_path` decides how (step by step, hoisted, with a parallel scan, or
on TensorFlow's compiled LSTM loops) and `run` runs the cell through its
protocol (`keras_gates.GatedCell`) as a `RunOptions` record says.
"""

from keras_gates.engine.paths import FORMS
from keras_gates.engine.paths import PATHS
from keras_gates.engine.paths import Paths
from keras_gates.engine.paths import RunOptions
from keras_gates.engine.paths import choose_form
from keras_gates.engine.paths import choose_path
from keras_gates.engine.paths import run

__all__ = [
    "FORMS",
    "PATHS",
    "Paths",
    "RunOptions",
    "choose_form",
    "choose_path",
    "run",
]
