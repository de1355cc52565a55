"""The Clockwork RNN: four modules over sequences long enough for every clock
to tick, the clock under masks, `stateful` and initial states, the skipped
modules, and the clear errors. The layer matrix (paths, saving, export,
Bidirectional, mixed precision) runs through tests/helpers.py's CASES.

Backend-independent: this module also runs with KERAS_BACKEND=jax.
"""

import keras
import numpy as np
import pytest

import keras_gates as kg
from tests import reference as ref
from tests.helpers import randomize
from tests.helpers import reference_step
from tests.helpers import to_numpy

pytestmark = pytest.mark.numerics

BATCH, STEPS, UNITS, FEATURES = 3, 19, 8, 3
ATOL = 1e-5


def make_layer(**kwargs):
    layer = kg.ClockworkRNN(UNITS, return_sequences=True, return_state=True, **kwargs)
    layer.build((None, None, FEATURES))
    randomize(layer, seed=3)
    return layer


def inputs(seed=0, steps=STEPS):
    return (
        np.random.default_rng(seed)
        .normal(size=(BATCH, steps, FEATURES))
        .astype("float32")
    )


@pytest.mark.parametrize("skip_inactive", [True, False], ids=["skip", "dense"])
@pytest.mark.parametrize("fast_path", [False, True], ids=["steps", "hoisted"])
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
@pytest.mark.parametrize("backwards", [False, True], ids=["forward", "backward"])
def test_four_modules_match_the_reference(skip_inactive, fast_path, masked, backwards):
    """Periods 1, 2, 4, 8 over 19 steps (every module runs again), from a
    given state whose clocks differ per row."""
    layer = make_layer(
        skip_inactive=skip_inactive, fast_path=fast_path, go_backwards=backwards
    )
    x = inputs()
    mask = None
    if masked:
        mask = np.ones((BATCH, STEPS), bool)
        mask[0, :5] = False  # left padding
        mask[1, 7:9] = False  # a gap
        mask[2, -6:] = False  # right padding
    h0 = np.random.default_rng(1).normal(size=(BATCH, UNITS)).astype("float32")
    clock0 = np.array([[0.0], [3.0], [6.0]], "float32")
    out, h, clock = layer(x, initial_state=[h0, clock0], mask=mask)
    want_out, (want_h, want_clock) = ref.run_rnn(
        reference_step(layer.cell), x, [h0, clock0], mask=mask, go_backwards=backwards
    )
    np.testing.assert_allclose(to_numpy(out), want_out, atol=ATOL, rtol=0)
    np.testing.assert_allclose(to_numpy(h), want_h, atol=ATOL, rtol=0)
    np.testing.assert_array_equal(to_numpy(clock), want_clock)


def test_padded_steps_do_not_advance_the_clock():
    """A left-padded row gives what the same row gives unpadded: its clock
    starts at its first valid step."""
    layer = make_layer()
    x = inputs(steps=12)
    padded = np.concatenate([np.zeros((BATCH, 5, FEATURES), "float32"), x], axis=1)
    mask = np.concatenate([np.zeros((BATCH, 5), bool), np.ones((BATCH, 12), bool)], 1)
    out, h, clock = layer(x)
    padded_out, padded_h, padded_clock = layer(padded, mask=mask)
    np.testing.assert_allclose(to_numpy(padded_out)[:, 5:], to_numpy(out), atol=ATOL)
    np.testing.assert_allclose(to_numpy(padded_h), to_numpy(h), atol=ATOL)
    np.testing.assert_array_equal(to_numpy(padded_clock), to_numpy(clock))
    assert to_numpy(clock)[:, 0].tolist() == [12 % 8] * BATCH


def test_stateful_chunks_carry_the_clock():
    """Chunks of 5, 3 and 11 steps (none a multiple of the cycle) equal one
    pass; reset_state sets the clock back to 0."""
    x = inputs()
    whole = make_layer()
    want, _, want_clock = whole(x)
    chunked = kg.ClockworkRNN(UNITS, return_sequences=True, stateful=True)
    chunked.build((BATCH, None, FEATURES))
    chunked.set_weights(whole.get_weights())
    got = [chunked(x[:, a:b]) for a, b in ((0, 5), (5, 8), (8, STEPS))]
    np.testing.assert_allclose(
        np.concatenate([to_numpy(g) for g in got], axis=1), to_numpy(want), atol=ATOL
    )
    np.testing.assert_array_equal(to_numpy(chunked.states[1]), to_numpy(want_clock))
    chunked.reset_state()
    assert not np.any(to_numpy(chunked.states[1]))


def test_a_step_computes_the_modules_that_run():
    """Unrolled (one traced step each), the step of clock t multiplies by
    the block columns of the modules up to the slowest that runs: 4, 1, 2,
    1, 3, 1, 2, 1 modules of 2 units for periods 1, 2, 4, 8."""
    if keras.backend.backend() == "jax":
        pytest.skip("JAX traces every branch of its conds, taken or not")
    layer = make_layer(unroll=True, skip_inactive=True)
    widths = []
    matmul = keras.ops.matmul

    def spy(a, b):
        if tuple(b.shape)[0] == UNITS:  # h @ R: the recurrent product
            widths.append(int(b.shape[1]))
        return matmul(a, b)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(keras.ops, "matmul", spy)
        layer(inputs(steps=8)[:1])
    assert widths == [2 * k for k in (4, 1, 2, 1, 3, 1, 2, 1)]


def test_the_active_gate_is_the_schedule():
    layer = make_layer()
    gates = kg.inspect.gate_activations(layer, inputs(steps=8))
    active = gates["active"][0]  # (steps, modules)
    want = [[float(t % period == 0) for period in (1, 2, 4, 8)] for t in range(8)]
    np.testing.assert_array_equal(active, want)


def test_periods_as_a_count_and_the_config():
    layer = kg.ClockworkRNN(12, periods=3)
    assert layer.periods == (1, 2, 4)
    assert layer.cell.cycle == 4
    config = layer.get_config()
    assert config["periods"] == [1, 2, 4]
    assert kg.ClockworkRNN.from_config(config).periods == (1, 2, 4)
    assert kg.ClockworkRNNCell(6, periods=[2, 3]).cycle == 6  # lcm


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 10}, "multiple of 4"),
        ({"units": 8, "periods": [1, 1]}, "strictly increasing"),
        ({"units": 8, "periods": [2, 1]}, "strictly increasing"),
        ({"units": 8, "periods": []}, "non-empty"),
        ({"units": 8, "periods": [1, 2.5]}, "positive integers"),
        ({"units": 8, "periods": 0}, "at least 1"),
        ({"units": 8, "periods": [0, 1]}, "positive integers"),
        ({"units": 8, "chrono_init": 10}, "chrono_init"),
        (
            {"units": 6, "periods": [1, 2048, 4096], "dtype": "mixed_float16"},
            "float16",
        ),
        ({"units": 5, "periods": [1, 3, 5, 7, 11], "dtype": "bfloat16"}, "up to 256"),
        # float32 counts exactly up to 2**24: a cycle of 111,546,435 steps
        ({"units": 9, "periods": [1, 3, 5, 7, 11, 13, 17, 19, 23]}, "16777216"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    units = kwargs.pop("units")
    for cls in (kg.ClockworkRNN, kg.ClockworkRNNCell):
        with pytest.raises(ValueError, match=message):
            cls(units, **kwargs)


def test_mixed_float16_counts_a_cycle_it_can_count():
    layer = kg.ClockworkRNN(6, periods=[1, 1024, 2048], dtype="mixed_float16")
    assert layer.cell.cycle == 2048


def test_a_skipping_layer_leaves_xla_off_on_tensorflow():
    """Keras turns XLA on by default for TensorFlow on a GPU, where the
    skipping step's branches cannot be differentiated."""
    skipping = kg.ClockworkRNN(8, skip_inactive=True)
    assert skipping.supports_jit is (keras.backend.backend() != "tensorflow")
    assert kg.ClockworkRNN(8).supports_jit is True
    if keras.backend.backend() != "tensorflow":
        return
    model = keras.Sequential([keras.Input((None, 3)), skipping])
    with pytest.warns(UserWarning, match="jit_compile"):
        model.compile("sgd", "mse", jit_compile=True)
    assert model.jit_compile is False
    x = np.zeros((2, 5, 3), "float32")
    assert np.isfinite(model.train_on_batch(x, np.zeros((2, 8), "float32")))


def test_a_layer_reused_on_other_batch_sizes_and_lengths():
    """One layer called on 3 rows, then on 1 and on 5 rows of other
    lengths: each row gives what it gives alone (the clock per row)."""
    layer = make_layer()
    x = inputs(steps=11)
    _, h3, clock3 = layer(x)
    _, h1, clock1 = layer(x[1:2])
    np.testing.assert_allclose(to_numpy(h1), to_numpy(h3)[1:2], atol=ATOL)
    np.testing.assert_array_equal(to_numpy(clock1), to_numpy(clock3)[1:2])
    five = np.concatenate([x, x[:2]], axis=0)[:, :6]
    out5, _, clock5 = layer(five)
    want, (_, want_clock) = ref.run_rnn(
        reference_step(layer.cell), five, [np.zeros((5, UNITS)), np.zeros((5, 1))]
    )
    np.testing.assert_allclose(to_numpy(out5), want, atol=ATOL, rtol=0)
    np.testing.assert_array_equal(to_numpy(clock5), want_clock)
