"""Chrono initialization: every layer's memory gate starts with timescales
between 2 and T steps, the other blocks as `bias_initializer` says; Keras'
LSTM and GRU take it as their bias initializer."""

import keras
import numpy as np
import pytest

import keras_gates as kg
from keras_gates.initializers import LAYOUTS
from keras_gates.initializers import Chrono
from keras_gates.initializers import timescales
from tests.helpers import to_numpy

pytestmark = pytest.mark.numerics
UNITS, T = 64, 100

# layer class, its layout, and the retention per step that a bias b gives.
KEEP = {
    kg.PeepholeLSTM: ("lstm", 1, +1),  # f block keeps
    kg.CoupledLSTM: ("coupled_lstm", 0, -1),  # forget = 1 - i
    kg.MinimalGRU: ("minimal_gru", 0, -1),  # f takes the candidate
    kg.SRU: ("sru", 0, +1),
    kg.MinGRU: ("min_gru", 0, -1),
}


def bias_of(layer):
    return to_numpy(layer.cell.bias)


@pytest.mark.parametrize("cls", list(KEEP), ids=lambda c: c.__name__)
def test_layers_start_with_memories_of_2_to_T_steps(cls):
    layout, block, sign = KEEP[cls]
    layer = cls(UNITS, chrono_init=T, bias_initializer="ones", seed=3)
    layer.build((None, 5, 3))
    bias = bias_of(layer)
    blocks, _ = LAYOUTS[layout]
    assert bias.shape == (blocks * UNITS,)
    gate = bias[block * UNITS : (block + 1) * UNITS]
    retention = 1.0 / (1.0 + np.exp(-sign * gate))  # kept per step
    timescale = 1.0 / (1.0 - retention)
    assert timescale.min() >= 2.0 - 1e-4 and timescale.max() <= T + 1e-3
    assert timescale.max() > T / 3  # spread over the range, not all short
    np.testing.assert_allclose(
        timescales(layer.cell.bias, layout), timescale, rtol=1e-4
    )
    if cls is kg.PeepholeLSTM:  # chrono's input gate: -b_f
        np.testing.assert_allclose(bias[:UNITS], -gate)
        untouched = bias[2 * UNITS :]
    else:
        untouched = np.delete(bias, np.s_[block * UNITS : (block + 1) * UNITS])
    np.testing.assert_array_equal(untouched, 1.0)  # bias_initializer="ones"
    # Same seed, same draw; the config round trip keeps it.
    twin = cls.from_config(layer.get_config())
    twin.build((None, 5, 3))
    np.testing.assert_array_equal(bias_of(twin), bias)
    assert twin.chrono_init == T


def test_keras_lstm_and_gru_take_it_as_their_bias_initializer():
    lstm = keras.layers.LSTM(
        UNITS, unit_forget_bias=False, bias_initializer=Chrono(T, "lstm", seed=1)
    )
    lstm.build((None, 5, 3))
    bias = bias_of(lstm)
    forget = bias[UNITS : 2 * UNITS]
    assert np.all((forget >= 0) & (forget <= np.log(T - 1) + 1e-6))
    np.testing.assert_allclose(bias[:UNITS], -forget)
    np.testing.assert_array_equal(bias[2 * UNITS :], 0.0)
    for reset_after in (True, False):
        gru = keras.layers.GRU(
            UNITS, reset_after=reset_after, bias_initializer=Chrono(T, "gru", seed=1)
        )
        gru.build((None, 5, 3))
        bias = bias_of(gru)
        update = bias[0, :UNITS] if reset_after else bias[:UNITS]
        np.testing.assert_allclose(update, forget, rtol=1e-6)  # z keeps: +log u
        rest = bias[:, UNITS:] if reset_after else bias[UNITS:]
        np.testing.assert_array_equal(rest, 0.0)
        if reset_after:
            np.testing.assert_array_equal(bias[1], 0.0)


def test_keras_unit_forget_bias_is_still_recognized():
    """Chrono finds Keras' unit-forget-bias wrapper by the name Keras gives
    it (`bias_initializer`, a closure in `LSTMCell.build`; Keras offers no
    public sign of it). This fails if a Keras release renames it, and the
    refusal would silently stop working."""
    layer = keras.layers.LSTM(4, bias_initializer=Chrono(10, "lstm"))
    with pytest.raises(ValueError, match="unit_forget_bias=True"):
        layer.build((None, 5, 3))


def test_refusals():
    with pytest.raises(ValueError, match="max_timescale"):
        Chrono(2, "lstm")
    with pytest.raises(ValueError, match="layout"):
        Chrono(10, "lstn")
    with pytest.raises(ValueError, match="unit_forget_bias=False"):
        Chrono(10, "lstm")((6,))  # a bias that is not 4 blocks
    restored = keras.initializers.deserialize(
        keras.initializers.serialize(Chrono(10, "gru", seed=4))
    )
    assert isinstance(restored, Chrono) and restored.get_config()["layout"] == "gru"


# Chrono on a Keras LSTM -----------------------------------------------------


@pytest.mark.numerics
def test_chrono_refuses_keras_lstm_unit_forget_bias_and_works_without_it():
    layer = keras.layers.LSTM(64, bias_initializer=Chrono(100, "lstm"))
    with pytest.raises(ValueError, match="unit_forget_bias=False"):
        layer.build((None, 10, 3))
    layer = keras.layers.LSTM(
        64, unit_forget_bias=False, bias_initializer=Chrono(100, "lstm", seed=0)
    )
    layer.build((None, 10, 3))
    memory = timescales(layer.cell.bias, "lstm")
    assert min(memory) >= 2.0 - 1e-4 and max(memory) > 50, (min(memory), max(memory))
    assert Chrono(np.int64(50), "gru").max_timescale == 50  # NumPy integers too


# The SRU's highway bias under chrono_init -----------------------------------


@pytest.mark.numerics
def test_sru_keeps_its_highway_bias_under_chrono_init():
    layer = kg.SRU(8, highway_bias=-2.0, chrono_init=50)
    layer.build((None, 5, 8))
    bias = to_numpy(layer.cell.bias)
    np.testing.assert_array_equal(bias[8:], -2.0)  # the reset gate's
    assert max(timescales(bias, "sru")) > 10  # the forget gate's, chrono
