"""The only module of keras-gates that reaches into `keras.src`.

- `DropoutRNNCell`: `keras.layers.RNN` creates the per-sequence dropout masks before its loop
(which keeps the loop stateless, as JAX requires) only for cells that inherit
from Keras' `DropoutRNNCell` mixin. That mixin is not part of the public API,
so it is imported here.
- `backend_rnn`: the backend's loop over time (`keras.src.backend.rnn`), which
  the layers call directly to carry the previous output (see
  `keras_gates/layers/base_rnn.py`).

Both live here, in one place, where a Keras upgrade that moves them shows up
as one clear error.
"""

try:
    from keras.src.backend import rnn as backend_rnn
    from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell
except ImportError as e:  # pragma: no cover - depends on the Keras release
    raise ImportError(
        "keras-gates needs `keras.src.backend.rnn` and `DropoutRNNCell` "
        "from `keras.src.layers.rnn.dropout_rnn_cell`, which this Keras "
        "release does not have. Install a Keras version supported by keras-gates "
        "(see pyproject.toml)."
    ) from e

__all__ = ["DropoutRNNCell", "backend_rnn"]
