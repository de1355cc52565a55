"""The mLSTM's three forms against each other and against the float64 NumPy
step: masks, initial states, go_backwards, stateful chunks, gradients,
large inputs, long sequences and mixed precision. The cell's numbers on
short sequences run in test_numerics (CASES); its parity with the official
mlstm-kernels in test_peers."""

import keras
import numpy as np
import pytest

import keras_gates as kg
from keras_gates import engine
from tests import reference as ref
from tests.helpers import random_states
from tests.helpers import randomize
from tests.helpers import reference_step
from tests.helpers import to_numpy
from tests.helpers import zero_states

FORMS = ("recurrent", "parallel", "chunkwise")


def _twins(steps, features, chunk_size=7, seed=3, **kwargs):
    """One layer per form, with the same random weights."""
    layers = {}
    for form in FORMS:
        layer = kg.MLSTM(
            8,
            num_heads=2,
            return_sequences=True,
            return_state=True,
            form=form,
            chunk_size=chunk_size,
            **kwargs,
        )
        layer.build((None, steps, features))
        randomize(layer, seed=seed)
        layers[form] = layer
    return layers


def _mixed_mask(batch, steps):
    mask = np.ones((batch, steps), bool)
    mask[0, :9] = False  # left padding
    mask[1, -12:] = False  # right padding
    mask[2, 10:17] = False  # a gap
    return mask


def _close(a, b):
    # float32's floor for this memory: about 1e-5 (see the issue's notes).
    np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_forms_agree_with_masks_and_initial_states(go_backwards):
    """Left, right and inner padding, random initial states, chunks that do
    not divide the length: the parallel and chunkwise forms give the
    recurrent form's outputs and final states."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 40, 5)).astype("float32")
    mask = _mixed_mask(4, 40)
    layers = _twins(40, 5, go_backwards=go_backwards)
    init = random_states(rng, 4, layers["recurrent"].cell)
    want = [to_numpy(t) for t in layers["recurrent"](x, initial_state=init, mask=mask)]
    for form in ("parallel", "chunkwise"):
        got = layers[form](x, initial_state=init, mask=mask)
        for a, b in zip(got, want, strict=True):
            _close(to_numpy(a), b)


def test_forms_train_to_the_same_gradients():
    """Training runs the parallel or chunkwise form: its gradients are the
    recurrent form's."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 30, 5)).astype("float32")
    mask = _mixed_mask(3, 30)
    layers = _twins(30, 5, chunk_size=8)
    grads = {}
    for form, layer in layers.items():
        variables = layer.trainable_variables
        grads[form] = _gradients(layer, x, mask, variables)
    for form in ("parallel", "chunkwise"):
        for a, b in zip(grads[form], grads["recurrent"], strict=True):
            np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)


def _gradients(layer, x, mask, variables):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        out, *states = layer(x, mask=mask)
        loss = keras.ops.sum(out**2) + keras.ops.sum(states[1])
    return [to_numpy(g) for g in tape.gradient(loss, variables)]


@pytest.mark.parametrize("form", FORMS)
def test_stateful_chunks_equal_one_pass(form):
    """A stateful layer fed 5, 11 and 8 steps gives the one pass of 24."""
    x = np.random.default_rng(2).normal(size=(2, 24, 5)).astype("float32")
    whole = _twins(24, 5, chunk_size=4)[form]
    want = [to_numpy(t) for t in whole(x)]
    layer = kg.MLSTM(
        8, num_heads=2, form=form, chunk_size=4, stateful=True, return_sequences=True
    )
    layer.build((2, None, 5))
    layer.set_weights(whole.get_weights())
    got = [to_numpy(layer(x[:, a:b])) for a, b in ((0, 5), (5, 16), (16, 24))]
    _close(np.concatenate(got, axis=1), want[0])
    _close(to_numpy(layer.states[0]), want[1])


@pytest.mark.parametrize("jit_compile", [False, True])
def test_unknown_length_runs_and_trains_in_every_form(jit_compile):
    """A functional model of unknown length, in a graph (and compiled by
    XLA): the chunkwise form pads to whole chunks when it runs, the
    parallel form builds its causal mask then; both train."""
    x = np.random.default_rng(3).normal(size=(2, 13, 5)).astype("float32")
    layers = _twins(13, 5, chunk_size=4)
    want = to_numpy(layers["recurrent"](x)[0])
    for form in ("parallel", "chunkwise"):
        inputs = keras.Input((None, 5))
        model = keras.Model(inputs, layers[form](inputs)[0])
        model.compile(optimizer="sgd", loss="mse", jit_compile=jit_compile)
        _close(model.predict(x, verbose=0), want)
        loss = model.train_on_batch(x, np.zeros_like(want))
        assert np.isfinite(loss)


def _against_float64(layer, x):
    model = keras.Model(inputs := keras.Input(x.shape[1:]), layer(inputs))
    out, *states = model.predict(x, verbose=0)
    want, want_states = ref.run_rnn(
        reference_step(layer.cell), x, zero_states(layer, len(x))
    )
    return out, want, states, want_states


@pytest.mark.parametrize("form", FORMS)
def test_inputs_scaled_by_100_stay_finite_and_exact(form):
    """Gate pre-activations in the hundreds (exp overflows float32 above
    88.7): every form equals the float64 step."""
    x = 100.0 * np.random.default_rng(4).normal(size=(2, 40, 3)).astype("float32")
    layer = _twins(40, 3, chunk_size=16, seed=5)[form]
    kernel = to_numpy(layer.cell.kernel)
    assert np.abs(x @ kernel[:, -4:]).max() > 89.0
    got, want, states, want_states = _against_float64(layer, x)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(states[2], want_states[2], atol=1e-4, rtol=1e-5)  # m


def test_ten_thousand_steps_in_chunks_stay_exact():
    """10,000 steps in the chunkwise form (the long-sequence form): the
    outputs and final states stay the float64 step's."""
    x = np.random.default_rng(6).normal(size=(2, 10_000, 3)).astype("float32")
    layer = _twins(10_000, 3, chunk_size=64, seed=7)["chunkwise"]
    got, want, states, want_states = _against_float64(layer, x)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
    for a, b in zip(states, want_states, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("form", FORMS)
def test_mixed_float16_stays_finite_and_close(form):
    """Under mixed_float16 the projections run in float16 and the memory in
    float32: inputs scaled by 10 (exp would overflow float16) give finite
    outputs within float16's resolution of the float64 step."""
    x = 10.0 * np.random.default_rng(8).normal(size=(2, 60, 3)).astype("float32")
    layer = _twins(60, 3, chunk_size=16, seed=9, dtype="mixed_float16")[form]
    got, want, _, _ = _against_float64(layer, x)
    assert got.dtype == np.float16 and np.isfinite(got).all()
    np.testing.assert_allclose(got.astype("float64"), want, atol=2e-2, rtol=2e-2)


def test_auto_chooses_by_length():
    layer = kg.MLSTM(8, num_heads=2)
    assert layer.form_for(1) == "recurrent"
    assert layer.form_for(engine.paths.PARALLEL_STEPS_CPU) == "parallel"
    assert layer.form_for(engine.paths.PARALLEL_STEPS_CPU + 1) == "chunkwise"
    assert layer.form_for(None) == "chunkwise"
    assert kg.MLSTM(8, num_heads=2, unroll=True).form_for(100) == "recurrent"
    assert kg.MLSTM(8, num_heads=2, form="parallel").form_for(10_000) == "parallel"


def test_without_input_projection_the_inputs_are_q_k_v_and_gates():
    """`input_projection=False`: no weights, no output gate; the inputs are
    q, k, v, i~ and f~ side by side, as the official kernels take them."""
    layer = kg.MLSTM(8, num_heads=2, key_units=4, input_projection=False)
    out = layer(np.zeros((1, 3, 4 + 4 + 8 + 2 + 2), "float32"))
    assert tuple(out.shape) == (1, 8) and not layer.weights
    with pytest.raises(ValueError, match="28 features"):
        kg.MLSTM(8, num_heads=2, input_projection=False)(np.zeros((1, 3, 5)))


def test_refuses_bad_arguments():
    with pytest.raises(ValueError, match="`form` must be one of"):
        kg.MLSTM(8, form="quadratic")
    with pytest.raises(ValueError, match="`chunk_size` must be a positive"):
        kg.MLSTM(8, chunk_size=0)
    with pytest.raises(ValueError, match="must divide `units`"):
        kg.MLSTM(6, num_heads=4)
    with pytest.raises(ValueError, match="must divide `key_units`"):
        kg.MLSTM(8, num_heads=4, key_units=6)
    with pytest.raises(ValueError, match="forget_bias_range"):
        kg.MLSTM(8, forget_bias_range=3.0)


def test_forget_bias_starts_spread_over_the_heads():
    layer = kg.MLSTM(8, num_heads=4)
    layer.build((None, 3, 5))
    bias = to_numpy(layer.cell.bias)
    np.testing.assert_allclose(bias[-4:], [3.0, 4.0, 5.0, 6.0])
    assert not bias[:-4].any()


# ---------------------------------------------------------------- the block


def _block(**kwargs):
    block = kg.blocks.MLSTMBlock(2, inner_units=16, return_state=True, **kwargs)
    block.build((None, None, 8))
    randomize(block, seed=11, scale=0.3)
    return block


def test_block_masks_left_and_right_padding_exactly():
    """Padding on either side gives the unpadded rows' outputs and final
    states (the convolution's too)."""
    rng = np.random.default_rng(12)
    x = rng.normal(size=(1, 9, 8)).astype("float32")
    block = _block(residual=True)
    want, *want_states = (to_numpy(t) for t in block(x))
    pad = np.zeros((1, 4, 8), "float32")
    right = np.concatenate([x, pad], axis=1)
    mask = np.arange(13)[None] < 9
    got, *states = (to_numpy(t) for t in block(right, mask=mask))
    _close(got[:, :9], want)
    for a, b in zip(states, want_states, strict=True):
        _close(a, b)
    left = np.concatenate([pad, x], axis=1)
    got, *states = (to_numpy(t) for t in block(left, mask=mask[:, ::-1]))
    _close(got[:, 4:], want)
    for a, b in zip(states, want_states, strict=True):
        _close(a, b)


def test_block_continues_from_its_states():
    """Two calls carrying every state (memory and convolution) equal one."""
    x = np.random.default_rng(13).normal(size=(2, 20, 8)).astype("float32")
    block = _block(form="chunkwise", chunk_size=4)
    want = to_numpy(block(x)[0])
    first, *states = block(x[:, :7])
    second = block(x[:, 7:], initial_state=states)[0]
    _close(np.concatenate([to_numpy(first), to_numpy(second)], axis=1), want)


def test_block_trains_saves_and_trains_under_mixed_float16(tmp_path):
    keras.utils.set_random_seed(14)
    model = keras.Sequential(
        [
            keras.Input((None, 8)),
            kg.blocks.MLSTMBlock(2, inner_units=16, residual=True),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1, dtype="float32"),
        ]
    )
    x = np.random.default_rng(15).normal(size=(8, 30, 8)).astype("float32")
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, np.ones((8, 1)), epochs=2, verbose=0)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0))
    half = kg.blocks.MLSTMBlock(2, inner_units=16, dtype="mixed_float16")
    out = half(x)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    assert np.isfinite(to_numpy(out)).all()
    model = keras.Sequential(
        [
            keras.Input((None, 8)),
            half,
            keras.layers.GlobalAveragePooling1D(dtype="float32"),
            keras.layers.Dense(1, dtype="float32"),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, np.ones((8, 1)), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_block_refuses_bad_arguments_and_states():
    with pytest.raises(ValueError, match="`form` must be one of"):
        kg.blocks.MLSTMBlock(form="fast")
    with pytest.raises(ValueError, match="must divide them"):
        kg.blocks.MLSTMBlock(3, inner_units=16)(np.zeros((1, 2, 8), "float32"))
    block = _block()
    with pytest.raises(ValueError, match="list of 4 tensors"):
        block(np.zeros((1, 3, 8), "float32"), initial_state=[np.zeros((1, 2))])
