"""The engine's former import path: `keras_gates.engine` now."""

from keras_gates.engine import PATHS
from keras_gates.engine import choose_path
from keras_gates.engine import run

__all__ = ["PATHS", "choose_path", "run"]
