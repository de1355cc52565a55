"""The sLSTM's stabiliser where plain exponentials overflow, and the
`SLSTMBlock` around it. The cell's numbers against the NumPy step run in
test_numerics (CASES); its parity with the official package in test_peers."""

import keras
import numpy as np
import pytest

import keras_gates as kg
from tests import reference as ref
from tests.helpers import randomize
from tests.helpers import reference_step
from tests.helpers import to_numpy
from tests.helpers import zero_states


def _layer(steps, features, **kwargs):
    layer = kg.SLSTM(8, num_heads=2, return_sequences=True, return_state=True, **kwargs)
    layer.build((None, steps, features))
    randomize(layer, seed=3)
    return layer


def _against_float64(layer, x):
    # Through a compiled predict: an eager call steps in Python.
    model = keras.Model(inputs := keras.Input(x.shape[1:]), layer(inputs))
    out, *states = model.predict(x, verbose=0)
    want, want_states = ref.run_rnn(
        reference_step(layer.cell), x, zero_states(layer, len(x))
    )
    return out, want, states, want_states


def test_inputs_scaled_by_100_stay_finite_and_exact():
    """Pre-activations in the hundreds: exp(i~) alone overflows float32
    (above 88.7); the stabilised step equals the float64 reference."""
    x = 100.0 * np.random.default_rng(0).normal(size=(2, 50, 3)).astype("float32")
    layer = _layer(50, 3)
    kernel = to_numpy(layer.cell.kernel)
    assert np.abs(x @ kernel[:, :8]).max() > 89.0  # exp would overflow
    got, want, states, want_states = _against_float64(layer, x)
    assert np.isfinite(got).all()
    # float32 carries 100-sized pre-activations to about 1e-5 relative.
    np.testing.assert_allclose(got, want, atol=2e-4, rtol=0)
    np.testing.assert_allclose(states[3], want_states[3], rtol=1e-5)  # m


def test_ten_thousand_steps_stay_finite_and_exact():
    """A 10,000-step sequence: n grows with the sequence, m follows the
    log forget gates down; the outputs stay the float64 reference's."""
    x = np.random.default_rng(1).normal(size=(2, 10_000, 3)).astype("float32")
    layer = _layer(10_000, 3)
    bias = to_numpy(layer.cell.bias)
    bias[8:16] = 6.0  # forget gates near 1: a long memory
    layer.cell.bias.assign(bias)
    got, want, states, want_states = _against_float64(layer, x)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    np.testing.assert_allclose(states[2], want_states[2], rtol=1e-4)  # n
    assert want_states[2].max() > 100.0  # the normaliser did grow


def test_mixed_float16_stays_finite_and_close():
    """Under mixed_float16 the step runs in float16 (largest 65504, exp
    overflows above 11): inputs scaled by 10 give finite outputs within
    float16's resolution of the float64 reference."""
    x = 10.0 * np.random.default_rng(2).normal(size=(2, 300, 3)).astype("float32")
    layer = _layer(300, 3, dtype="mixed_float16")
    kernel = to_numpy(layer.cell.kernel)
    assert np.abs(x @ kernel[:, :8]).max() > 11.1  # exp would overflow float16
    got, want, _, _ = _against_float64(layer, x)
    assert got.dtype == np.float16 and np.isfinite(got).all()
    np.testing.assert_allclose(got.astype("float64"), want, atol=2e-2, rtol=0)


def test_fresh_rows_take_the_stabiliser_per_unit():
    """A row whose first steps are masked starts fresh (n = 0) beside rows
    that have run: its m takes i~ as at a start, as the row alone would."""
    x = np.random.default_rng(4).normal(size=(2, 6, 3)).astype("float32")
    mask = np.ones((2, 6), bool)
    mask[1, :3] = False
    layer = _layer(6, 3)
    _, *states = layer(x, mask=mask)
    _, *alone = layer(x[1:, 3:])
    for got, want in zip(states, alone, strict=True):
        np.testing.assert_allclose(to_numpy(got)[1], to_numpy(want)[0], atol=1e-6)


def test_num_heads_must_divide_units():
    with pytest.raises(ValueError, match="`num_heads` must divide `units`"):
        kg.SLSTM(6, num_heads=4)
    with pytest.raises(ValueError, match="4 \\* units = 32 features"):
        kg.SLSTM(8, num_heads=2, input_projection=False)(np.zeros((1, 2, 5)))


# ------------------------------------------------------------- the block


def _block(**kwargs):
    block = kg.blocks.SLSTMBlock(2, **kwargs)
    block.build((None, None, 8))
    rng = np.random.default_rng(0)
    block.set_weights(
        [rng.normal(0, 0.4, w.shape).astype("float32") for w in block.get_weights()]
    )
    return block


def test_block_masks_left_and_right_padding_exactly():
    """Padding, left or right, gives the unpadded sequence's outputs at the
    real steps and its final states, the convolution's included: the next
    chunk goes on from them as from the unpadded one's."""
    block = _block(residual=True, feedforward_units=16, return_state=True)
    rng = np.random.default_rng(1)
    x, after = (rng.normal(size=(1, n, 8)).astype("float32") for n in (7, 4))
    want, *want_states = block(x)
    want_next = to_numpy(block(after, initial_state=want_states)[0])
    garbage = np.full((1, 3, 8), 9.0, "float32")
    for padded, mask, real in [
        (np.concatenate([garbage, x], 1), [False] * 3 + [True] * 7, slice(3, None)),
        (np.concatenate([x, garbage], 1), [True] * 7 + [False] * 3, slice(0, 7)),
    ]:
        got, *states = block(padded, mask=np.array([mask]))
        np.testing.assert_allclose(to_numpy(got)[:, real], to_numpy(want), atol=1e-5)
        for s, w in zip(states, want_states, strict=True):
            np.testing.assert_allclose(to_numpy(s), to_numpy(w), atol=1e-5)
        got_next = to_numpy(block(after, initial_state=states)[0])
        np.testing.assert_allclose(got_next, want_next, atol=1e-5)
    # A row with no unmasked step keeps the state it was given.
    _, *kept = block(x, mask=np.zeros((1, 7), bool), initial_state=want_states)
    for s, w in zip(kept, want_states, strict=True):
        np.testing.assert_allclose(to_numpy(s), to_numpy(w), atol=1e-6)


@pytest.mark.parametrize("where", ["global", "layer"])
def test_block_trains_under_mixed_float16(where):
    """The norms compute in float32: finite gradients, the weights move
    (a step with non-finite gradients would be skipped), the output is
    float16, the residual too."""
    policy = keras.config.dtype_policy()
    try:
        if where == "global":
            keras.config.set_dtype_policy("mixed_float16")
            block = kg.blocks.SLSTMBlock(2, residual=True, feedforward_units=16)
        else:
            block = kg.blocks.SLSTMBlock(
                2, residual=True, feedforward_units=16, dtype="mixed_float16"
            )
        model = keras.Sequential([keras.Input((9, 8)), block])
        x = np.random.default_rng(3).normal(size=(32, 9, 8)).astype("float32")
        assert to_numpy(model(x)).dtype == np.float16
        before = to_numpy(block.gate_kernel).copy()
        model.compile(keras.optimizers.Adam(1e-2), "mse")
        history = model.fit(x, 0.5 * x, epochs=3, verbose=0).history["loss"]
        assert np.isfinite(history).all() and history[-1] < history[0]
        assert not np.allclose(to_numpy(block.gate_kernel), before)
    finally:
        keras.config.set_dtype_policy(policy)


def test_block_saves_and_trains(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((None, 8)),
            kg.blocks.SLSTMBlock(2, residual=True, feedforward_units=16, dropout=0.1),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )
    x = np.random.default_rng(2).normal(size=(16, 9, 8)).astype("float32")
    model.compile("adam", "mse")
    loss = model.fit(x, x[:, 0, :1], epochs=2, verbose=0).history["loss"]
    assert np.isfinite(loss).all()
    path = tmp_path / "block.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(to_numpy(again(x)), to_numpy(model(x)), atol=1e-6)


def test_block_refuses_bad_arguments_inputs_and_states():
    with pytest.raises(ValueError, match="needs `residual=True`"):
        kg.blocks.SLSTMBlock(2, feedforward_units=8)
    for width in (-1, True, 2.0):
        with pytest.raises(ValueError, match="non-negative integer"):
            kg.blocks.SLSTMBlock(2, conv_kernel_size=width)
    assert kg.blocks.SLSTMBlock(2, conv_kernel_size=np.int64(3)).conv_kernel_size == 3
    with pytest.raises(ValueError, match="feedforward_activation"):
        kg.blocks.SLSTMBlock(2, residual=True, feedforward_activation="tanh")
    with pytest.raises(ValueError, match="must divide them"):
        kg.blocks.SLSTMBlock(3)(np.zeros((1, 2, 8), "float32"))
    with pytest.raises(ValueError, match="known number of features"):
        kg.blocks.SLSTMBlock(2)(keras.Input((None, None)))
    block = _block()
    with pytest.raises(ValueError, match="expected ndim=3"):
        block(np.zeros((2, 8), "float32"))
    with pytest.raises(ValueError, match="axis -1 of input shape to have value 8"):
        block(np.zeros((2, 3, 6), "float32"))
    x = np.zeros((2, 3, 8), "float32")
    zeros = [np.zeros((2, 8), "float32")] * 4
    with pytest.raises(ValueError, match="list of 5 tensors"):
        block(x, initial_state=zeros)
    with pytest.raises(ValueError, match="initial state 4 .* shape \\(2, 3, 8\\)"):
        block(x, initial_state=zeros + [np.zeros((2, 5, 8), "float32")])
    with pytest.raises(ValueError, match="initial state 1 \\(c\\)"):
        block(x, initial_state=[zeros[0], np.zeros((2, 6)), *zeros[2:], zeros[0]])
