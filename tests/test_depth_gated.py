"""The Depth-Gated LSTM against what it must reduce to, its cell on its own,
and its clear errors. The NumPy reference and the layer matrix (paths,
masks, stateful, saving, export, Bidirectional, mixed precision) run through
tests/helpers.py's CASES.

Backend-independent: this module also runs with KERAS_BACKEND=jax.
"""

import keras
import numpy as np
import pytest

import keras_gates as kg
from tests.helpers import randomize
from tests.helpers import to_numpy

pytestmark = pytest.mark.numerics

BATCH, STEPS, UNITS, FEATURES = 3, 7, 4, 5
ATOL = 1e-5


def data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(BATCH, STEPS, FEATURES)).astype("float32")


def built(layer, seed=2):
    layer.build((None, STEPS, FEATURES))
    randomize(layer, seed=seed)
    return layer


@pytest.mark.parametrize("coupled", [False, True], ids=["lstm", "cifg"])
def test_one_layer_is_the_peephole_or_coupled_lstm(coupled):
    dg = built(kg.DepthGatedLSTM(UNITS, num_layers=1, coupled=coupled))
    if coupled:
        plain = kg.CoupledLSTM(UNITS, peepholes=["input", "output"])
    else:
        plain = kg.PeepholeLSTM(UNITS)
    plain.build((None, STEPS, FEATURES))
    plain.set_weights(dg.get_weights())
    x = data()
    np.testing.assert_allclose(to_numpy(dg(x)), to_numpy(plain(x)), atol=ATOL)


def test_a_closed_depth_gate_is_a_stack_of_peephole_lstms():
    """With the depth gate shut (its bias at -1e4: σ = 0 in float32), three
    layers compute what three stacked PeepholeLSTM layers compute."""
    dg = built(kg.DepthGatedLSTM(UNITS, num_layers=3, return_sequences=True))
    stack = [kg.PeepholeLSTM(UNITS, return_sequences=True) for _ in range(3)]
    for k, layer in enumerate(stack):
        layer.build((None, STEPS, FEATURES if k == 0 else UNITS))
        weights = dg.cell.layer_weights[k]
        kernel = to_numpy(weights["kernel"])
        bias = to_numpy(weights["bias"])
        if k > 0:
            kernel, bias = kernel[:, : 4 * UNITS], bias[: 4 * UNITS]
            shut = to_numpy(weights["bias"]).copy()
            shut[4 * UNITS :] = -1e4
            weights["bias"].assign(shut)
        peepholes = [to_numpy(weights[g]) for g in ("input", "forget", "output")]
        layer.set_weights(
            [kernel, to_numpy(weights["recurrent_kernel"]), bias, *peepholes]
        )
    x = data()
    want = x
    for layer in stack:
        want = layer(want)
    np.testing.assert_allclose(to_numpy(dg(x)), to_numpy(want), atol=ATOL)


def test_the_cell_on_its_own_in_keras_rnn():
    cell = kg.DepthGatedLSTMCell(UNITS, num_layers=2, coupled=True)
    keras_rnn = keras.layers.RNN(cell, return_sequences=True)
    x = data()
    got = keras_rnn(x)
    randomize(keras_rnn, seed=4)
    got = to_numpy(keras_rnn(x))
    ours = kg.GatedRNN(kg.DepthGatedLSTMCell.from_config(cell.get_config()))
    ours.return_sequences = True
    ours.build(x.shape)
    ours.set_weights(keras_rnn.get_weights())
    np.testing.assert_allclose(got, to_numpy(ours(x)), atol=ATOL)


def test_gates_are_named_by_layer():
    layer = built(kg.DepthGatedLSTM(UNITS, num_layers=3, coupled=True))
    gates = kg.inspect.gate_activations(layer, data())
    assert sorted(gates) == sorted(
        f"{g}_{k}"
        for k in range(3)
        for g in ("input", "forget", "output", *(("depth",) if k else ()))
    )
    np.testing.assert_allclose(gates["forget_2"], 1.0 - gates["input_2"], atol=1e-6)
    assert gates["depth_1"].shape == (BATCH, STEPS, UNITS)


def test_unit_forget_bias_starts_every_forget_gate_at_sigma_one():
    for coupled in (False, True):
        layer = kg.DepthGatedLSTM(UNITS, num_layers=2, coupled=coupled)
        layer.build((None, STEPS, FEATURES))
        for weights in layer.cell.layer_weights:
            bias = to_numpy(weights["bias"])
            block = bias[:UNITS] if coupled else bias[UNITS : 2 * UNITS]
            assert np.all(block == (-1.0 if coupled else 1.0))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_layers": 0}, "num_layers"),
        ({"num_layers": 2.0}, "num_layers"),
        ({"num_layers": True}, "num_layers"),
        ({"coupled": True, "peepholes": "forget"}, "1 - input gate"),
        ({"peepholes": "depth"}, "peephole"),
        ({"chrono_init": 10}, "chrono_init"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    for cls in (kg.DepthGatedLSTM, kg.DepthGatedLSTMCell):
        with pytest.raises(ValueError, match=message):
            cls(UNITS, **kwargs)


def test_num_layers_from_numpy():
    assert kg.DepthGatedLSTM(UNITS, num_layers=np.int64(3)).num_layers == 3
