"""`GatedRNN`'s former import path: `keras_gates.layers.gated_rnn` now (or
`keras_gates.GatedRNN`)."""

from keras_gates.layers.gated_rnn import GatedRNN

__all__ = ["GatedRNN"]
