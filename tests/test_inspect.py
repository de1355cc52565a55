"""keras_gates.inspect: every gate at every step against the NumPy
references' gates, for every layer, cell, Keras' LSTM and GRU, masks,
initial states and Bidirectional. Backend-independent but for the picture."""

import functools

import keras
import numpy as np
import pytest

import keras_gates as kg
from keras_gates import inspect
from tests import reference as ref
from tests.helpers import CASES
from tests.helpers import UNITS
from tests.helpers import built_layer
from tests.helpers import cell_weights
from tests.helpers import encoder_decoder
from tests.helpers import random_states
from tests.helpers import randomize
from tests.helpers import reference_step
from tests.helpers import to_numpy
from tests.helpers import zero_states

BATCH, STEPS = 4, 6
ATOL = 1e-5
GATES = {
    kg.PeepholeLSTM: ["forget", "input", "output"],
    kg.CoupledLSTM: ["forget", "input", "output"],
    kg.MinimalGRU: ["forget"],
    kg.SRU: ["forget", "reset"],
    kg.MinGRU: ["update"],
    kg.MinLSTM: ["forget", "input"],
    kg.SLSTM: ["forget", "input", "m", "n", "output"],
    kg.MLSTM: ["forget", "input", "m"],
    kg.ClockworkRNN: ["active"],
    kg.MutantGRU: ["reset", "update"],
}


def expected_gates(layer):
    """The gate names of `layer`: per layer of a DepthGatedLSTM, whose
    upper layers add the depth gate."""
    if isinstance(layer, kg.DepthGatedLSTM):
        return sorted(
            f"{gate}_{k}"
            for k in range(layer.num_layers)
            for gate in ("input", "forget", "output", *(("depth",) if k else ()))
        )
    if isinstance(layer, kg.PeepholeLSTM):  # Greff's NIG, NFG, NOG
        return [g for g in GATES[kg.PeepholeLSTM] if getattr(layer, f"{g}_gate", True)]
    return GATES[type(layer)]


def make_mask():
    mask = np.ones((BATCH, STEPS), bool)
    mask[1, -2:] = False  # right padding
    mask[2, :2] = False  # left padding
    mask[3, 3] = False  # a gap
    return mask


def inputs(input_dim, seed=1, cell=None):
    """Inputs, and initial states of `cell` (of an LSTM without one)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, STEPS, input_dim)).astype("float32")
    cell = cell or keras.layers.LSTMCell(UNITS)
    return x, random_states(rng, BATCH, cell)


def assert_gates_equal(got, want):
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name].dtype == np.float32 and got[name].shape == want[name].shape
        np.testing.assert_array_equal(np.isnan(got[name]), np.isnan(want[name]), name)
        np.testing.assert_allclose(got[name], want[name], atol=ATOL, err_msg=name)


def reference_gates(cell, x, states, mask=None, go_backwards=False):
    _, _, gates = ref.run_rnn(
        reference_step(cell),
        x,
        states,
        mask=mask,
        go_backwards=go_backwards,
        return_gates=True,
    )
    if isinstance(cell, kg.CoupledLSTMCell):
        assert np.allclose(gates["forget"], 1.0 - gates["input"], equal_nan=True)
    return gates


@pytest.mark.numerics
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(
    "masked, backwards",
    # The plain run, and masks with go_backwards together (where reversed,
    # padded steps are hardest to report); the outputs run all four
    # combinations in tests/test_numerics.py.
    [(False, False), (True, True)],
    ids=["forward-nomask", "backward-mask"],
)
def test_layer_gates_match_reference(case, masked, backwards):
    layer, input_dim = built_layer(case, STEPS, go_backwards=backwards)
    x, states = inputs(input_dim, cell=layer.cell)
    mask = make_mask() if masked else None
    got = inspect.gate_activations(layer, x, mask=mask, initial_state=states)
    want = reference_gates(layer.cell, x, states, mask, backwards)
    assert sorted(want) == expected_gates(layer)
    assert_gates_equal(got, want)
    if masked:
        assert np.isnan(got[sorted(got)[0]][2, :2]).all()


@pytest.mark.numerics
@pytest.mark.parametrize(
    "case", ["peephole", "coupled", "mgu", "sru_projected", "mingru"]
)
def test_cells_in_keras_rnn(case):
    layer, input_dim = built_layer(case, STEPS)
    rnn = keras.layers.RNN(type(layer.cell).from_config(layer.cell.get_config()))
    rnn.build((None, STEPS, input_dim))
    rnn.set_weights(layer.get_weights())
    x, _ = inputs(input_dim)
    zeros = zero_states(layer, BATCH)
    mask = make_mask()
    got = inspect.gate_activations(rnn, x, mask=mask)
    assert_gates_equal(got, reference_gates(layer.cell, x, zeros, mask))


@pytest.mark.numerics
def test_keras_lstm_and_gru():
    x, states = inputs(3)
    mask = make_mask()
    lstm = keras.layers.LSTM(UNITS)
    lstm.build(x.shape)
    randomize(lstm, seed=2)
    want = reference_gates_of(ref.peephole_lstm_step, lstm.cell, x, states, mask)
    assert_gates_equal(
        inspect.gate_activations(lstm, x, mask=mask, initial_state=states), want
    )
    for reset_after in (True, False):
        gru = keras.layers.GRU(UNITS, reset_after=reset_after)
        gru.build(x.shape)
        randomize(gru, seed=3)
        step = functools.partial(ref.keras_gru_step, reset_after=reset_after)
        want = reference_gates_of(step, gru.cell, x, states[:1], mask)
        got = inspect.gate_activations(gru, x, mask=mask, initial_state=states[:1])
        assert_gates_equal(got, want)


def reference_gates_of(step, cell, x, states, mask):
    w = cell_weights(cell)
    _, _, gates = ref.run_rnn(
        lambda x_t, s: step(x_t, s, w), x, states, mask=mask, return_gates=True
    )
    return gates


@pytest.mark.numerics
@pytest.mark.parametrize("case", ["peephole", "sru_projected", "mingru"])
def test_bidirectional_gates_on_the_input_time_axis(case):
    cls, kwargs, input_dim = CASES[case]
    bi = keras.layers.Bidirectional(cls(UNITS, **kwargs))
    bi.build((None, STEPS, input_dim))
    randomize(bi)
    x, _ = inputs(input_dim)
    mask = make_mask()
    zeros = zero_states(bi.forward_layer, BATCH)
    got = inspect.gate_activations(bi, x, mask=mask)
    want = {}
    for prefix, direction, backwards in (
        ("forward_", bi.forward_layer, False),
        ("backward_", bi.backward_layer, True),
    ):
        gates = reference_gates(direction.cell, x, zeros, mask, backwards)
        want.update({prefix + name: values for name, values in gates.items()})
    assert_gates_equal(got, want)


@pytest.mark.numerics
def test_model_input_and_its_propagated_mask(tmp_path):
    """Given the model and a layer name, the model runs up to the layer and
    its mask (Embedding(mask_zero=True)) marks the padded steps; a Sequential
    loaded from .keras too."""
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(9, 3, mask_zero=True),
            kg.PeepholeLSTM(UNITS, return_sequences=True, name="first"),
            kg.MinimalGRU(UNITS, name="second"),
        ]
    )
    randomize(model)
    tokens = np.array([[1, 2, 3, 0, 0], [0, 4, 5, 6, 7]], "int32")
    embedded = to_numpy(model.layers[0](tokens))
    hidden = to_numpy(model.layers[1](embedded, mask=tokens != 0))
    for m in (model, _reloaded(model, tmp_path)):
        got = inspect.gate_activations("second", tokens, model=m)
        want = reference_gates(
            m.get_layer("second").cell, hidden, [np.zeros((2, UNITS))], tokens != 0
        )
        assert_gates_equal(got, want)
        assert (
            np.isnan(got["forget"][0, 3:]).all() and np.isnan(got["forget"][1, 0]).all()
        )


def _reloaded(model, tmp_path):
    model.save(tmp_path / "m.keras")
    return keras.saving.load_model(tmp_path / "m.keras")


@pytest.mark.numerics
def test_refusals():
    simple = keras.layers.SimpleRNN(UNITS)
    simple.build((None, STEPS, 3))
    with pytest.raises(ValueError, match="SimpleRNN has no gate"):
        inspect.gate_activations(simple, np.zeros((1, STEPS, 3), "float32"))
    with pytest.raises(ValueError, match="not built"):
        inspect.gate_activations(kg.SRU(UNITS), np.zeros((1, STEPS, 3), "float32"))
    dense = keras.layers.Dense(2)
    dense.build((None, 3))
    with pytest.raises(TypeError, match="recurrent layers"):
        inspect.gate_activations(dense, np.zeros((1, STEPS, 3), "float32"))


def test_table_and_picture(tmp_path):
    layer, input_dim = built_layer("coupled", STEPS)
    x, _ = inputs(input_dim)
    mask = make_mask()
    gates = inspect.gate_activations(layer, x, mask=mask)
    words = ["the", "cat", "which", "ate", "was", "full"]
    table = inspect.gate_table(gates, words, sequence=2)
    rows = table.splitlines()
    assert rows[0].split() == ["token", "input", "output", "forget"]
    assert len(rows) == 2 + STEPS
    assert rows[2].split() == ["the", "-", "-", "-"]  # masked: no gate
    mean = float(np.mean(gates["input"][2, 3]))
    assert rows[5].split()[:2] == ["ate", f"{mean:.2f}"]
    path = tmp_path / "gates.png"
    figure = inspect.plot_gates(gates, words, sequence=2, path=path, title="CIFG")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(figure.axes) == 2 * 3  # a panel and a colour bar per gate


# inspect reads the initial_state a model feeds ------------------------------


@pytest.mark.numerics
@pytest.mark.parametrize("steps", [4, 6], ids=["units_equal_steps", "other_steps"])
def test_gates_of_a_layer_fed_initial_state_by_the_model(steps):
    units = 4
    model = encoder_decoder(
        units, lambda: kg.PeepholeLSTM(units, return_sequences=True, name="decoder")
    )
    rng = np.random.default_rng(1)
    tokens = rng.integers(1, 20, (2, steps)).astype("int32")
    h0, c0 = (rng.normal(size=(2, units)).astype("float32") for _ in range(2))
    got = inspect.gate_activations("decoder", [tokens, h0, c0], model=model)

    layer = model.get_layer("decoder")
    embedded = model.layers[1](tokens)
    want = inspect.gate_activations(layer, embedded, initial_state=[h0, c0])
    zero_start = inspect.gate_activations(layer, embedded)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], atol=1e-6)
        assert np.abs(got[name] - zero_start[name]).max() > 1e-3


@pytest.mark.numerics
def test_keras_drops_the_propagated_mask_of_a_layer_called_with_initial_state():
    """Keras' own behaviour, shown with Keras alone: a layer called with a
    tensor besides its inputs (here `initial_state`) gets no propagated
    mask, so padding runs through it as real steps. `inspect` shows what
    the model computes, so its gates have no NaN there."""
    units, tokens = 4, np.array([[3, 5, 7, 0, 0]], "int32")
    model = encoder_decoder(
        units, lambda: keras.layers.LSTM(units, return_sequences=True, name="lstm")
    )
    zeros = np.zeros((1, units), "float32")
    embedded = model.layers[1](tokens)
    lstm = model.get_layer("lstm")
    in_model = to_numpy(model([tokens, zeros, zeros]))
    unmasked = to_numpy(lstm(embedded, initial_state=[zeros, zeros]))
    masked = to_numpy(lstm(embedded, initial_state=[zeros, zeros], mask=tokens != 0))
    np.testing.assert_allclose(in_model, unmasked, atol=1e-6)
    assert np.abs(in_model - masked).max() > 1e-3
    gates = inspect.gate_activations("lstm", [tokens, zeros, zeros], model=model)
    assert not np.isnan(gates["forget"]).any()


# inspect: mixed precision, bad shapes, tables -------------------------------


@pytest.mark.numerics
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_gates_of_mixed_precision_layers(policy):
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    for make in (lambda: kg.PeepholeLSTM(4), lambda: keras.layers.LSTM(4)):
        keras.config.set_dtype_policy("float32")
        reference = make()
        reference.build(x.shape)
        randomize(reference)
        keras.config.set_dtype_policy(policy)
        layer = make()
        layer.build(x.shape)
        layer.set_weights(reference.get_weights())
        got = inspect.gate_activations(layer, x)
        want = inspect.gate_activations(reference, x)
        for name in want:
            assert got[name].dtype == np.float32
            np.testing.assert_allclose(got[name], want[name], atol=3e-2)


@pytest.mark.numerics
def test_gate_activations_bad_shapes_say_what_was_expected():
    layer = kg.PeepholeLSTM(4, name="peep")
    layer.build((None, 5, 3))
    keras_lstm = keras.layers.LSTM(4, name="klstm")
    keras_lstm.build((None, 5, 3))
    x = np.zeros((2, 5, 3), "float32")
    for target in (layer, keras_lstm):
        with pytest.raises(ValueError, match="built for inputs with 3 features"):
            inspect.gate_activations(target, np.zeros((2, 5, 7), "float32"))
        with pytest.raises(ValueError, match="mask of shape"):
            inspect.gate_activations(target, x, mask=np.ones((2, 4), bool))
        with pytest.raises(ValueError, match="list of 2 tensors"):
            inspect.gate_activations(target, x, initial_state=[np.zeros((2, 4))])
    bidirectional = keras.layers.Bidirectional(kg.SRU(4))
    bidirectional.build((None, 5, 3))
    with pytest.raises(ValueError, match="list of 2 tensors"):
        inspect.gate_activations(bidirectional, x, initial_state=[np.zeros((2, 4))])


def test_gate_table_refuses_what_it_cannot_show():
    gates = {"forget": np.full((2, 3, 4), 0.5, np.float32)}
    assert "0.50" in inspect.gate_table(gates, ["a", "b", "c"])
    with pytest.raises(ValueError, match="one label per step: 3"):
        inspect.gate_table(gates, ["a", "b"])
    with pytest.raises(ValueError, match="non-empty dict"):
        inspect.gate_table({})
    with pytest.raises(ValueError, match="batch of 2"):
        inspect.gate_table(gates, sequence=2)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        inspect.gate_table(gates, steps=[0, 5])


def test_slstm_picture_draws_its_states_over_their_own_range(tmp_path):
    """The sLSTM reports its states n (at least 1) and m beside its gates:
    their panels take their own colour range, the gates' stay 0 to 1."""
    layer, input_dim = built_layer("slstm", STEPS)
    x, _ = inputs(input_dim)
    gates = inspect.gate_activations(layer, x)
    assert gates["n"][~np.isnan(gates["n"])].min() >= 1.0 - 1e-6
    figure = inspect.plot_gates(gates, sequence=0, path=tmp_path / "g.png")
    panels = {a.get_ylabel().split(":")[0]: a for a in figure.axes if a.get_ylabel()}
    assert panels["input gate"].images[0].get_clim() == (0.0, 1.0)
    low, high = panels["n state"].images[0].get_clim()
    assert low >= 1.0 - 1e-6 and high > low
