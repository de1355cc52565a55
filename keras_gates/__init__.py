"""keras-gates: gated recurrent cells for Keras 3 that Keras does not ship.

Each cell is a `keras.layers.Layer` that wraps in `keras.layers.RNN`; each
layer beside it is used like `keras.layers.LSTM`:

- `PeepholeLSTMCell` / `PeepholeLSTM`: LSTM whose gates see the cell state.
- `CoupledLSTMCell` / `CoupledLSTM`: CIFG, forget gate = 1 - input gate.
- `MinimalGRUCell` / `MinimalGRU`: the one-gate minimal gated unit.
- `SRUCell` / `SRU`: Simple Recurrent Unit, element-wise recurrence.
- `MinGRUCell` / `MinGRU`: minimal GRU, computed parallel in time.
- `MinLSTMCell` / `MinLSTM`: minimal LSTM, computed parallel in time.
- `SLSTMCell` / `SLSTM`: xLSTM's sLSTM, exponential gating and heads.
- `MLSTMCell` / `MLSTM`: xLSTM's mLSTM, a matrix memory in three forms.
- `ClockworkRNNCell` / `ClockworkRNN`: modules at their own clock rates.
- `DepthGatedLSTMCell` / `DepthGatedLSTM`: stacked LSTMs, cells gated in depth.
- `MutantGRUCell` / `MutantGRU`: Jozefowicz et al.'s MUT1, MUT2, MUT3.
- `SlicedRNN(layer, slices)`: any recurrent layer read as a tree of slices
  side by side, parallel over long sequences (the Sliced RNN).

`keras_gates.inspect` reads every gate at every step, as tables and
pictures; `keras_gates.importers` imports trained weights of TF1's LSTMCell,
the official SRU and mingru-pytorch. Importing the package registers every class for Keras serialization, so a
`.keras` file that uses them loads with `keras.saving.load_model` alone;
`keras_gates.saving.load_model` does the same with a clear error for a
truncated or damaged file.
"""

from keras_gates import blocks
from keras_gates import importers
from keras_gates import initializers
from keras_gates import inspect
from keras_gates import sampling
from keras_gates import saving
from keras_gates.cells import ClockworkRNNCell
from keras_gates.cells import CoupledLSTMCell
from keras_gates.cells import DepthGatedLSTMCell
from keras_gates.cells import GatedCell
from keras_gates.cells import MinGRUCell
from keras_gates.cells import MinimalGRUCell
from keras_gates.cells import MinLSTMCell
from keras_gates.cells import MLSTMCell
from keras_gates.cells import MutantGRUCell
from keras_gates.cells import PeepholeLSTMCell
from keras_gates.cells import RecurrentCell
from keras_gates.cells import SLSTMCell
from keras_gates.cells import SRUCell
from keras_gates.layers import MLSTM
from keras_gates.layers import SLSTM
from keras_gates.layers import SRU
from keras_gates.layers import ClockworkRNN
from keras_gates.layers import CoupledLSTM
from keras_gates.layers import DepthGatedLSTM
from keras_gates.layers import GatedRNN
from keras_gates.layers import MinGRU
from keras_gates.layers import MinimalGRU
from keras_gates.layers import MinLSTM
from keras_gates.layers import MutantGRU
from keras_gates.layers import PeepholeLSTM
from keras_gates.layers import SlicedRNN
from keras_gates.version import __version__

__all__ = [
    "ClockworkRNN",
    "ClockworkRNNCell",
    "CoupledLSTM",
    "CoupledLSTMCell",
    "DepthGatedLSTM",
    "DepthGatedLSTMCell",
    "GatedCell",
    "GatedRNN",
    "MLSTM",
    "MLSTMCell",
    "MinGRU",
    "MinGRUCell",
    "MinLSTM",
    "MinLSTMCell",
    "MinimalGRU",
    "MinimalGRUCell",
    "MutantGRU",
    "MutantGRUCell",
    "PeepholeLSTM",
    "PeepholeLSTMCell",
    "RecurrentCell",
    "SLSTM",
    "SLSTMCell",
    "SRU",
    "SRUCell",
    "SlicedRNN",
    "__version__",
    "blocks",
    "importers",
    "initializers",
    "inspect",
    "sampling",
    "saving",
]
