from keras_gates.layers.coupled_lstm import CoupledLSTM
from keras_gates.layers.minimal_gru import MinimalGRU
from keras_gates.layers.peephole_lstm import PeepholeLSTM
from keras_gates.layers.sru import SRU

__all__ = ["CoupledLSTM", "MinimalGRU", "PeepholeLSTM", "SRU"]
