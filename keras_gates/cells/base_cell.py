"""The base classes' former import path: `keras_gates.cells.gated_cell` and
`keras_gates.cells.recurrent_cell` now (or `keras_gates.GatedCell` and
`keras_gates.RecurrentCell`)."""

from keras_gates.cells.gated_cell import GatedCell
from keras_gates.cells.gated_cell import masked
from keras_gates.cells.gated_cell import run_under_policy
from keras_gates.cells.normalization import layer_normalize
from keras_gates.cells.recurrent_cell import RecurrentCell

__all__ = [
    "GatedCell",
    "RecurrentCell",
    "layer_normalize",
    "masked",
    "run_under_policy",
]
