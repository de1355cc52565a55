"""The "Write your own cell" guide's example (docs/guides/own-cell.md), run
exactly as printed: a cell written against the protocol gets every feature
of the five layers."""

import pathlib
import re

import keras
import numpy as np
import pytest

import keras_gates as kg
from keras_gates import inspect
from keras_gates.testing import run_layer_test
from tests import reference as ref
from tests.helpers import randomize
from tests.helpers import to_numpy

GUIDE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "guides" / "own-cell.md"
BATCH, STEPS, FEATURES, UNITS = 4, 7, 3, 5
ATOL = 1e-5


def guide_example():
    """The Python block after the `own-cell-example` marker, run once."""
    text = GUIDE.read_text()
    block = re.search(r"<!-- own-cell-example -->\n```python\n(.*?)```", text, re.S)
    assert block, "the guide lost its own-cell example"
    namespace = {}
    exec(compile(block.group(1), str(GUIDE), "exec"), namespace)  # noqa: S102
    return namespace


EXAMPLE = guide_example()
JANETCell = EXAMPLE["JANETCell"]


def janet_step(x, states, w, beta=1.0, x_mask=None, state_mask=None):
    """JANET from the paper's equations, float64."""
    (c,) = states
    xin = x if x_mask is None else x * x_mask
    cin = c if state_mask is None else c * state_mask
    z = xin @ w["kernel"] + cin @ w["recurrent_kernel"] + w["bias"]
    s, z_c = np.split(z, 2, axis=-1)
    f = ref.sigmoid(s)
    c_new = f * c + (1.0 - ref.sigmoid(s - beta)) * np.tanh(z_c)
    return c_new, [c_new], {"forget": f}


def weights(layer):
    cell = layer.cell
    return {
        name: to_numpy(getattr(cell, name)).astype(np.float64)
        for name in ("kernel", "recurrent_kernel", "bias")
    }


def make_layer(**kwargs):
    layer = kg.GatedRNN(JANETCell(UNITS, beta=0.5), return_sequences=True, **kwargs)
    layer.build((None, STEPS, FEATURES))
    randomize(layer)
    return layer


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, STEPS, FEATURES)).astype("float32")
    mask = np.ones((BATCH, STEPS), bool)
    mask[1, -3:] = False
    mask[2, :2] = False
    mask[3, 4] = False
    return x, mask


def test_the_example_builds_a_layer():
    layer = EXAMPLE["layer"]
    assert isinstance(layer, kg.GatedRNN) and layer.return_sequences
    out = layer(np.zeros((2, 3, 4), "float32"))
    assert tuple(out.shape) == (2, 3, 32)


@pytest.mark.numerics
@pytest.mark.parametrize("fast_path", [False, True], ids=["steps", "hoisted"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_matches_numpy_janet(fast_path, go_backwards):
    layer = make_layer(fast_path=fast_path, go_backwards=go_backwards)
    assert layer.run_paths.inference == ("hoisted" if fast_path else "steps")
    x, mask = data()
    step = lambda x_t, s: janet_step(x_t, s, weights(layer), beta=0.5)  # noqa: E731
    want, _ = ref.run_rnn(
        step, x, [np.zeros((BATCH, UNITS))], mask=mask, go_backwards=go_backwards
    )
    np.testing.assert_allclose(to_numpy(layer(x, mask=mask)), want, atol=ATOL)


@pytest.mark.numerics
def test_dropout_one_mask_per_sequence():
    layer = kg.GatedRNN(
        JANETCell(UNITS, dropout=0.4, recurrent_dropout=0.3, seed=3),
        return_sequences=True,
    )
    layer.build((None, STEPS, FEATURES))
    randomize(layer)
    x, _ = data()
    generator = keras.random.SeedGenerator(3)
    x_mask = keras.random.dropout(
        keras.ops.ones((BATCH, FEATURES)), 0.4, seed=generator
    )
    s_mask = keras.random.dropout(keras.ops.ones((BATCH, UNITS)), 0.3, seed=generator)
    w = weights(layer)

    def step(x_t, s):
        return janet_step(
            x_t, s, w, x_mask=to_numpy(x_mask), state_mask=to_numpy(s_mask)
        )

    want, _ = ref.run_rnn(step, x, [np.zeros((BATCH, UNITS))])
    np.testing.assert_allclose(to_numpy(layer(x, training=True)), want, atol=ATOL)


@pytest.mark.numerics
def test_bidirectional_stateful_and_gates():
    x, mask = data(1)
    bi = keras.layers.Bidirectional(
        kg.GatedRNN(JANETCell(UNITS), return_sequences=True)
    )
    bi.build((None, STEPS, FEATURES))
    randomize(bi)
    forward, _ = ref.run_rnn(
        lambda x_t, s: janet_step(x_t, s, weights(bi.forward_layer)),
        x,
        [np.zeros((BATCH, UNITS))],
        mask=mask,
        zero_output_for_mask=True,  # what Bidirectional sets for sequences
    )
    got = to_numpy(bi(x, mask=mask))
    np.testing.assert_allclose(got[..., :UNITS], forward, atol=ATOL)
    gates = inspect.gate_activations(bi, x, mask=mask)
    assert sorted(gates) == ["backward_forget", "forward_forget"]
    assert np.isnan(gates["forward_forget"][2, :2]).all()

    layer = make_layer()
    stateful = kg.GatedRNN.from_config(
        {**layer.get_config(), "stateful": True, "name": "stateful"}
    )
    stateful.build((BATCH, STEPS, FEATURES))
    stateful.set_weights(layer.get_weights())
    want = to_numpy(layer(x, mask=mask))
    chunks = [
        to_numpy(stateful(x[:, t : t + 3], mask=mask[:, t : t + 3]))
        for t in range(0, STEPS, 3)
    ]
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), want, atol=ATOL)


def test_run_layer_test_and_saving(tmp_path):
    run_layer_test(
        kg.GatedRNN,
        {"cell": JANETCell(4), "return_sequences": True},
        input_shape=(2, 5, 3),
        expected_output_shape=(2, 5, 4),
        expected_num_trainable_weights=3,
        tmp_dir=str(tmp_path),
    )


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="export writes TensorFlow graphs"
)
def test_exports(tmp_path):
    import tensorflow as tf

    from keras_gates import export
    from keras_gates.export import litert

    inputs = keras.Input((None, FEATURES), name="frames")
    outputs = kg.GatedRNN(JANETCell(UNITS), name="janet")(inputs)
    model = keras.Model(inputs, outputs)
    randomize(model)
    x, _ = data(2)
    want = to_numpy(model(x))
    export.to_saved_model(model, tmp_path / "sm")
    serving = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    np.testing.assert_allclose(serving(frames=x)["janet"], want, atol=ATOL)
    content = export.to_tflite(model, batch_size=BATCH)
    got = litert.run_sequence_model(content, {"frames": x})["janet"]
    np.testing.assert_allclose(got, want, atol=ATOL)
    step = export.to_tflite(model, streaming=True, batch_size=BATCH)
    np.testing.assert_allclose(litert.run_step_model(step, x)[:, -1], want, atol=ATOL)


# Own cells: mistakes named before the loop ----------------------------------


class _OneState(kg.RecurrentCell):
    GATES = ()

    def __init__(self, units, declared=None, bare=False, **kwargs):
        super().__init__(units, **kwargs)
        self.state_size = [declared or units]
        self.output_size = units
        self.bare = bare

    def build(self, input_shape):
        self.kernel = self.add_kernel(input_shape[-1], 1)
        self.recurrent_kernel = self.add_recurrent_kernel((self.units, self.units))

    def input_side(self, inputs, constants=(), dropout_mask=None):
        return keras.ops.matmul(inputs, self.kernel)

    def recurrent_step(self, projected, states, constants=(), recurrent_mask=None):
        h = keras.ops.tanh(
            projected + keras.ops.matmul(states[0], self.recurrent_kernel)
        )
        return h, (h if self.bare else [h]), {}


class _NoStep(_OneState):
    recurrent_step = kg.RecurrentCell.recurrent_step


@pytest.mark.numerics
def test_own_cell_mistakes_are_named():
    x = np.zeros((2, 3, 5), "float32")
    assert tuple(kg.GatedRNN(_OneState(4))(x).shape) == (2, 4)
    with pytest.raises(
        NotImplementedError, match="_NoStep does not implement `recurrent_step"
    ):
        kg.GatedRNN(_NoStep(4))(x)
    with pytest.raises(ValueError, match=r"declared state_size \[6\]"):
        kg.GatedRNN(_OneState(4, declared=6))(x)
    with pytest.raises(ValueError, match="new states as a list"):
        kg.GatedRNN(_OneState(4, bare=True))(x)


def test_a_subclass_that_replaces_the_step_is_checked_again():
    """A built-in cell's declaration that its protocol is tested holds for
    its own step: a subclass that writes another step (here one that
    returns the new state list with a state missing) is checked when its
    layer builds, as any own cell."""

    class Broken(kg.MinimalGRUCell):
        def recurrent_step(self, z_x, states, constants=(), recurrent_mask=None):
            output, _, gates = super().recurrent_step(
                z_x, states, constants, recurrent_mask
            )
            return output, [], gates

    class Unchanged(kg.MinimalGRUCell):
        pass

    keras.Sequential([keras.Input((4, 3)), kg.GatedRNN(Unchanged(2))])
    with pytest.raises(ValueError, match="returned 0 states"):
        keras.Sequential([keras.Input((4, 3)), kg.GatedRNN(Broken(2))])
