"""The weight importers' former import path: `keras_gates.importers` now."""

from keras_gates.importers import from_mingru_pytorch
from keras_gates.importers import from_sru
from keras_gates.importers import from_tf1_checkpoint
from keras_gates.importers import from_tf1_lstm_cell

__all__ = [
    "from_tf1_lstm_cell",
    "from_tf1_checkpoint",
    "from_sru",
    "from_mingru_pytorch",
]
