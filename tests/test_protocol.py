"""The cell protocol's rules, one test each: a cell that breaks a rule gets
the documented result or a clear error when its layer is built, never a
silently wrong number (the rules: `keras_gates.GatedCell`'s docstring and the
guide "Write your own cell")."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_gates as kg
from tests.helpers import to_numpy

BATCH, STEPS, FEATURES, UNITS = 3, 6, 4, 5


def data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(BATCH, STEPS, FEATURES)).astype("float32")


class _Elman(kg.RecurrentCell):
    """h_t = tanh(x W + s U + b) with state s; the output is `scale * h_t`
    and the state `h_t` (a cell whose output is not its state for scale
    != 1). `seen` records the shapes input_side receives."""

    GATES = ()

    def __init__(self, units, scale=2.0, **kwargs):
        super().__init__(units, **kwargs)
        self.scale = scale
        self.state_size, self.output_size = [units], units
        self.seen = []

    def build(self, input_shape):
        self.kernel = self.add_kernel(input_shape[-1], 1)
        self.recurrent_kernel = self.add_recurrent_kernel((self.units, self.units))
        self.bias = self.add_bias(1)

    def input_side(self, inputs, constants=()):
        self.seen.append(tuple(inputs.shape))
        return ops.matmul(inputs, self.kernel) + self.bias

    def recurrent_step(self, projected, states, constants=(), recurrent_mask=None):
        s = states[0]
        if recurrent_mask is not None:
            s = s * recurrent_mask
        h = ops.tanh(projected + ops.matmul(s, self.recurrent_kernel))
        return self.scale * h, [h], {}


@pytest.mark.parametrize("fast_path", [False, True])
def test_the_last_output_is_the_last_steps_output(fast_path):
    # Output 2 * h, state h, output_state left at its default (None).
    x = data()
    layer = kg.GatedRNN(_Elman(UNITS), return_sequences=True, fast_path=fast_path)
    sequence = to_numpy(layer(x))
    last = kg.GatedRNN(_Elman(UNITS), fast_path=fast_path)
    last.build(x.shape)
    last.set_weights(layer.get_weights())
    np.testing.assert_allclose(to_numpy(last(x)), sequence[:, -1], atol=1e-6)
    # And with return_state: the final state is h, not the output.
    _, h = kg.GatedRNN(_Elman(UNITS), return_state=True, fast_path=fast_path)(x)
    assert h.shape == (BATCH, UNITS)


class _WrongOutputState(_Elman):
    output_state = 0  # declared, but the output is 2 * h


def test_a_wrongly_declared_output_state_is_an_error():
    with pytest.raises(ValueError, match=r"declares output_state = 0.*differs"):
        kg.GatedRNN(_WrongOutputState(UNITS))(data())
    # Declared rightly, it is taken (one loop variable fewer) and right.
    layer = kg.GatedRNN(_RightOutputState(UNITS), return_sequences=True)
    sequence = to_numpy(layer(data()))
    last = kg.GatedRNN(_RightOutputState(UNITS))
    last.build((None, STEPS, FEATURES))
    last.set_weights(layer.get_weights())
    np.testing.assert_allclose(to_numpy(last(data())), sequence[:, -1], atol=1e-6)


class _RightOutputState(_Elman):
    output_state = 0

    def __init__(self, units, **kwargs):
        super().__init__(units, scale=1.0, **kwargs)


def test_an_unchecked_output_state_is_not_relied_on():
    # Built inside model.fit's first traced call (no keras.Input), where no
    # value can be read: the declaration goes unchecked, so the layer carries
    # the output and the last output is still the last step's.
    x = data()
    model = keras.Sequential([kg.GatedRNN(_WrongOutputState(UNITS))])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, np.zeros((BATCH, UNITS)), epochs=1, verbose=0)
    layer = model.layers[0]
    sequence = kg.GatedRNN(_Elman(UNITS), return_sequences=True)
    sequence.build(x.shape)
    sequence.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        to_numpy(layer(x)), to_numpy(sequence(x))[:, -1], atol=1e-6
    )


class _OwnInputDropout(_Elman):
    """Declares that it applies input dropout, and multiplies by the mask."""

    applies_input_dropout = True

    def input_side(self, inputs, constants=(), dropout_mask=None):
        if dropout_mask is not None:
            inputs = inputs * dropout_mask
        return ops.matmul(inputs, self.kernel) + self.bias


class _FormerGuideStyle(_Elman):
    """Written to the former guide: takes `dropout_mask` and multiplies by
    it, without declaring `applies_input_dropout`. It keeps working: the
    layer drops the inputs and passes no mask, so dropout applies once."""

    def input_side(self, inputs, constants=(), dropout_mask=None):
        x = inputs if dropout_mask is None else inputs * dropout_mask
        return ops.matmul(x, self.kernel) + self.bias


class _IgnoresInputDropout(_Elman):
    applies_input_dropout = True

    def input_side(self, inputs, constants=(), dropout_mask=None):
        return ops.matmul(inputs, self.kernel) + self.bias


@pytest.mark.parametrize("fast_path", [False, True])
def test_input_dropout_is_applied_once_by_the_layer(fast_path):
    # _Elman never looks at a mask: the layer drops its inputs, with the very
    # mask that a cell applying it itself gets.
    x = data()

    def run(cell_class):
        layer = kg.GatedRNN(
            cell_class(UNITS, dropout=0.5, seed=7),
            return_sequences=True,
            fast_path=fast_path,
        )
        layer.build(x.shape)
        layer.set_weights([np.full(w.shape, 0.3, "float32") for w in layer.weights])
        return to_numpy(layer(x, training=True)), to_numpy(layer(x))

    dropped, plain = run(_Elman)
    assert not np.allclose(dropped, plain)
    for cell_class in (_OwnInputDropout, _FormerGuideStyle):
        other_dropped, other_plain = run(cell_class)
        np.testing.assert_allclose(dropped, other_dropped, atol=1e-6)
        np.testing.assert_allclose(plain, other_plain, atol=1e-6)


def test_a_cell_that_declares_input_dropout_and_ignores_it_is_an_error():
    with pytest.raises(ValueError, match="ignores `dropout_mask`"):
        kg.GatedRNN(_IgnoresInputDropout(UNITS, dropout=0.3))(data())
    # Without dropout there is nothing to ignore.
    kg.GatedRNN(_IgnoresInputDropout(UNITS))(data())


class _IgnoresRecurrentDropout(_Elman):
    def recurrent_step(self, projected, states, constants=(), recurrent_mask=None):
        return super().recurrent_step(projected, states, constants, None)


def test_a_cell_that_ignores_recurrent_dropout_is_an_error():
    with pytest.raises(ValueError, match="ignores `recurrent_mask`"):
        kg.GatedRNN(_IgnoresRecurrentDropout(UNITS, recurrent_dropout=0.3))(data())
    kg.GatedRNN(_Elman(UNITS, recurrent_dropout=0.3))(data())


class _Linear(kg.GatedCell):
    """s_t = 0.5 s_{t-1} + x W: linear in its state, so the scan path runs
    it; `seen` records the shapes input_side receives."""

    GATES = ()
    is_linear = True

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        self.state_size, self.output_size = [units], units
        self.seen = []

    def build(self, input_shape):
        self.kernel = self.add_kernel(input_shape[-1], 1)

    def input_side(self, inputs, constants=()):
        self.seen.append(tuple(inputs.shape))
        return ops.matmul(inputs, self.kernel)

    def recurrent_step(self, projected, states, constants=(), recurrent_mask=None):
        s = 0.5 * states[0] + projected
        return s, [s], {}

    def linear_recurrence(self, projected):
        return ops.full_like(projected, 0.5), projected

    def linear_output(self, projected, states):
        return states


@pytest.mark.parametrize(
    "cell_class, fast_path, path",
    [
        (_Elman, True, "hoisted"),
        (_Linear, True, "scan"),
        (_Elman, False, "steps"),
    ],
)
def test_input_side_sees_one_layout_on_every_path(cell_class, fast_path, path):
    cell = cell_class(UNITS)
    layer = kg.GatedRNN(cell, return_sequences=True, fast_path=fast_path)
    assert layer.run_paths.inference == path
    out = to_numpy(layer(data()))
    # Sequences time-major, single steps (batch, features).
    want = (BATCH, FEATURES) if path == "steps" else (STEPS, BATCH, FEATURES)
    assert cell.seen[-1] == want
    # And every path computes the same.
    steps = kg.GatedRNN(cell_class(UNITS), return_sequences=True, fast_path=False)
    steps.build((None, STEPS, FEATURES))
    steps.set_weights(layer.get_weights())
    np.testing.assert_allclose(to_numpy(steps(data())), out, atol=1e-5)


def test_dropout_rules_that_cannot_be_checked_in_a_traced_build_warn():
    model = keras.Sequential(
        [kg.GatedRNN(_IgnoresRecurrentDropout(UNITS, recurrent_dropout=0.3))]
    )
    model.compile(optimizer="sgd", loss="mse")
    with pytest.warns(UserWarning, match="cannot be checked on values"):
        model.fit(data(), np.zeros((BATCH, UNITS)), epochs=1, verbose=0)


@pytest.mark.parametrize("fast_path", [False, True])
def test_the_last_output_with_padding_and_initial_states(fast_path):
    # Output 2 * h, state h: right padding (the last steps masked, so the
    # last output is the last valid step's) and a given initial state.
    x = data()
    mask = np.ones((BATCH, STEPS), bool)
    mask[0, 4:] = False
    mask[1, 1:] = False
    h0 = np.random.default_rng(1).normal(size=(BATCH, UNITS)).astype("float32")
    seq = kg.GatedRNN(_Elman(UNITS), return_sequences=True, fast_path=fast_path)
    sequence = to_numpy(seq(x, mask=mask, initial_state=[h0]))
    last = kg.GatedRNN(_Elman(UNITS), fast_path=fast_path)
    last.build(x.shape)
    last.set_weights(seq.get_weights())
    got = to_numpy(last(x, mask=mask, initial_state=[h0]))
    np.testing.assert_allclose(got, sequence[:, -1], atol=1e-6)
    np.testing.assert_allclose(got[1], sequence[1, 0], atol=1e-6)


def test_the_checks_hold_under_mixed_precision():
    # float16 compute: a rightly declared output_state is verified (not a
    # false error), a wrong one still refused.
    x, mixed = data(), "mixed_float16"
    right = kg.GatedRNN(_RightOutputState(UNITS, dtype=mixed), dtype=mixed)
    assert keras.backend.standardize_dtype(right(x).dtype) == "float16"
    assert right.cell._output_state_checked
    with pytest.raises(ValueError, match="declares output_state = 0"):
        kg.GatedRNN(_WrongOutputState(UNITS, dtype=mixed), dtype=mixed)(x)
    with pytest.raises(ValueError, match="ignores `recurrent_mask`"):
        cell = _IgnoresRecurrentDropout(UNITS, recurrent_dropout=0.3, dtype=mixed)
        kg.GatedRNN(cell, dtype=mixed)(x)


class _EveryOtherStep(kg.GatedCell):
    """An own time-aware cell: a running sum of the inputs at even steps,
    its step index kept as a state (the protocol's rule)."""

    GATES = ()
    state_names = ("total", "step")

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        self.state_size, self.output_size = [units, 1], units

    def build(self, input_shape):
        self.kernel = self.add_kernel(input_shape[-1], 1)

    def input_side(self, inputs, constants=()):
        return ops.matmul(inputs, self.kernel)

    def recurrent_step(self, projected, states, constants=(), recurrent_mask=None):
        total, step = states
        even = ops.cast(ops.equal(ops.mod(step, 2.0), 0.0), total.dtype)
        total = total + even * projected
        return total, [total, step + 1.0], {}


def test_a_step_index_kept_as_a_state_follows_masks_and_chunks():
    x = data()
    layer = kg.GatedRNN(_EveryOtherStep(UNITS), return_sequences=True)
    layer.build(x.shape)
    kernel = to_numpy(layer.cell.kernel)
    want = np.cumsum((x @ kernel) * (np.arange(STEPS) % 2 == 0)[None, :, None], 1)
    np.testing.assert_allclose(to_numpy(layer(x)), want, atol=1e-5)
    # Two padded steps in front: the row's count starts at its first valid step.
    padded = np.concatenate([np.zeros_like(x[:, :2]), x], axis=1)
    mask = np.arange(STEPS + 2)[None, :] >= 2
    mask = np.repeat(mask, BATCH, axis=0)
    np.testing.assert_allclose(
        to_numpy(layer(padded, mask=mask))[:, 2:], want, atol=1e-5
    )
    # Stateful chunks of odd length carry the count.
    chunked = kg.GatedRNN(_EveryOtherStep(UNITS), return_sequences=True, stateful=True)
    chunked.build(x.shape)
    chunked.set_weights(layer.get_weights())
    got = np.concatenate([to_numpy(chunked(x[:, :3])), to_numpy(chunked(x[:, 3:]))], 1)
    np.testing.assert_allclose(got, want, atol=1e-5)
