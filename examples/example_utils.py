"""Shared by the example scripts: the `--cell` choices."""

import keras

import keras_gates

# `--cell` name -> layer class; the last two are Keras' own baselines.
CELLS = {
    "peephole": keras_gates.PeepholeLSTM,
    "coupled": keras_gates.CoupledLSTM,
    "minimal_gru": keras_gates.MinimalGRU,
    "sru": keras_gates.SRU,
    "mingru": keras_gates.MinGRU,
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
}


def recurrent_layer(cell, units, bidirectional=False, **kwargs):
    """The `--cell` layer with `units`, wrapped in Bidirectional if asked."""
    layer = CELLS[cell](units, **kwargs)
    return keras.layers.Bidirectional(layer) if bidirectional else layer
