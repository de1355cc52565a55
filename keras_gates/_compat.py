"""The only module of keras-gates that reaches into `keras.src`.

`keras.layers.RNN` creates the per-sequence dropout masks before its loop
(which keeps the loop stateless, as JAX requires) only for cells that inherit
from Keras' `DropoutRNNCell` mixin. That mixin is not part of the public API,
so it is imported here, in one place, where a Keras upgrade that moves it
shows up as one clear error.
"""

try:
    from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell
except ImportError as e:  # pragma: no cover - depends on the Keras release
    raise ImportError(
        "keras-gates needs `DropoutRNNCell` from "
        "`keras.src.layers.rnn.dropout_rnn_cell`, which this Keras release "
        "does not have. Install a Keras version supported by keras-gates "
        "(see pyproject.toml)."
    ) from e

__all__ = ["DropoutRNNCell"]
