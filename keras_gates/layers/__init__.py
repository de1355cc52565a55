from keras_gates.layers.clockwork_rnn import ClockworkRNN
from keras_gates.layers.coupled_lstm import CoupledLSTM
from keras_gates.layers.depth_gated_lstm import DepthGatedLSTM
from keras_gates.layers.gated_rnn import GatedRNN
from keras_gates.layers.min_gru import MinGRU
from keras_gates.layers.min_lstm import MinLSTM
from keras_gates.layers.minimal_gru import MinimalGRU
from keras_gates.layers.mlstm import MLSTM
from keras_gates.layers.mutant_gru import MutantGRU
from keras_gates.layers.peephole_lstm import PeepholeLSTM
from keras_gates.layers.sliced_rnn import SlicedRNN
from keras_gates.layers.slstm import SLSTM
from keras_gates.layers.sru import SRU

__all__ = [
    "MLSTM",
    "SLSTM",
    "MutantGRU",
    "DepthGatedLSTM",
    "ClockworkRNN",
    "CoupledLSTM",
    "GatedRNN",
    "MinGRU",
    "MinLSTM",
    "MinimalGRU",
    "PeepholeLSTM",
    "SRU",
    "SlicedRNN",
]
