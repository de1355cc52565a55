from keras_gates.cells.clockwork_cell import ClockworkRNNCell
from keras_gates.cells.coupled_lstm_cell import CoupledLSTMCell
from keras_gates.cells.depth_gated_lstm_cell import DepthGatedLSTMCell
from keras_gates.cells.gated_cell import GatedCell
from keras_gates.cells.min_gru_cell import MinGRUCell
from keras_gates.cells.min_lstm_cell import MinLSTMCell
from keras_gates.cells.minimal_gru_cell import MinimalGRUCell
from keras_gates.cells.mlstm_cell import MLSTMCell
from keras_gates.cells.mutant_gru_cell import MutantGRUCell
from keras_gates.cells.peephole_lstm_cell import PeepholeLSTMCell
from keras_gates.cells.recurrent_cell import RecurrentCell
from keras_gates.cells.slstm_cell import SLSTMCell
from keras_gates.cells.sru_cell import SRUCell

__all__ = [
    "MLSTMCell",
    "SLSTMCell",
    "MutantGRUCell",
    "DepthGatedLSTMCell",
    "ClockworkRNNCell",
    "CoupledLSTMCell",
    "GatedCell",
    "MinGRUCell",
    "MinLSTMCell",
    "MinimalGRUCell",
    "PeepholeLSTMCell",
    "RecurrentCell",
    "SRUCell",
]
