"""The compiled path (`keras_gates/engine/_tf_compiled_lstm.py`): training calls
of the peephole LSTM and the CIFG on TensorFlow without an accelerator, an
XLA-compiled loop and a hand-written backward pass. Outputs and gradients
against the NumPy reference (gradients by central differences in float64),
the choice of the path, and the features a training call has."""

import keras
import numpy as np
import pytest

import keras_gates as kg
from keras_gates.engine import paths as engine_paths
from tests import reference as ref
from tests.helpers import cell_weights
from tests.helpers import randomize

pytestmark = [
    pytest.mark.numerics,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="the compiled path is TensorFlow's (XLA on a CPU)",
    ),
]

# name: (layer, arguments, NumPy step)
FUSED = {
    "PeepholeLSTM": (kg.PeepholeLSTM, {}, ref.peephole_lstm_step),
    "PeepholeLSTM_forget_peephole_no_bias": (
        kg.PeepholeLSTM,
        {"peepholes": ["forget"], "use_bias": False},
        ref.peephole_lstm_step,
    ),
    "CoupledLSTM": (
        kg.CoupledLSTM,
        {"peepholes": ["input", "output"]},
        ref.coupled_lstm_step,
    ),
    "CoupledLSTM_no_peepholes": (
        kg.CoupledLSTM,
        {"peepholes": None},
        ref.coupled_lstm_step,
    ),
}


@pytest.fixture
def compiled_calls(monkeypatch):
    """Counts the calls that ran the compiled loops."""
    from keras_gates.engine import _tf_compiled_lstm

    calls = []
    run = _tf_compiled_lstm.run

    def spy(*args, **kwargs):
        calls.append(1)
        return run(*args, **kwargs)

    monkeypatch.setattr(_tf_compiled_lstm, "run", spy)
    return calls


def test_the_engine_chooses_it_for_training_calls_it_computes_exactly():
    choose = engine_paths.choose_path
    for make in (kg.PeepholeLSTM, kg.CoupledLSTM):
        cell = make(3).cell
        assert choose(cell, "auto", training=True) == "compiled"
        assert (
            choose(cell, "auto") == "steps" and make(3).run_paths.inference == "steps"
        )
        assert choose(cell, "auto", training=True, unroll=True) == "steps"
        assert choose(cell, False, training=True) == "steps"
        assert choose(cell, True, training=True) == "hoisted"
    not_covered = [
        kg.PeepholeLSTM(3, projection_units=2),
        kg.PeepholeLSTM(3, layer_norm=True),
        kg.PeepholeLSTM(3, cell_clip=1.0),
        kg.PeepholeLSTM(3, input_gate=False),
        kg.PeepholeLSTM(3, full_gate_recurrence=True),
        kg.PeepholeLSTM(3, input_activation="linear"),
        kg.PeepholeLSTM(3, activation="relu"),
        kg.PeepholeLSTM(3, recurrent_activation="hard_sigmoid"),
        kg.CoupledLSTM(3, recurrent_dropout=0.2),
        kg.CoupledLSTM(3, dtype="mixed_float16"),
        kg.MinimalGRU(3),
        kg.SRU(3),
    ]
    for layer in not_covered:
        assert choose(layer.cell, "auto", training=True) == "steps", layer.cell

    # A subclass keeps its base's description while it keeps its step; one
    # that writes its own step is not taken at the inherited word.
    class SameStep(kg.PeepholeLSTMCell):
        pass

    class OwnStep(kg.PeepholeLSTMCell):
        def recurrent_step(self, z_x, states, constants=(), recurrent_mask=None):
            output, new_states, gates = super().recurrent_step(
                z_x, states, constants, recurrent_mask
            )
            return 2.0 * output, new_states, gates

    assert choose(SameStep(3), "auto", training=True) == "compiled"
    assert choose(OwnStep(3), "auto", training=True) == "steps"


def test_the_layer_reports_the_path_of_each_kind_of_call(compiled_calls):
    """`layer.run_paths` names the path of training and of inference
    calls; on TensorFlow's CPU the LSTMs train on the
    compiled loops and run inference step by step (once reported with the
    inference path only)."""
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    for make in (kg.PeepholeLSTM, kg.CoupledLSTM):
        layer = make(4)
        assert layer.run_paths == engine_paths.Paths(
            training="compiled", inference="steps"
        )
        layer(x, training=True)
        assert len(compiled_calls) == 1
        compiled_calls.clear()
        layer(x, training=False)
        assert not compiled_calls
    for layer in (kg.MinimalGRU(4), kg.PeepholeLSTM(4, unroll=True)):
        assert set(vars(layer.run_paths).values()) == {"steps"}
    assert kg.MinGRU(4, fast_path=True).run_paths.training == "scan"


def test_keras_own_layer_path_is_left_alone():
    """`Layer.path` is Keras' (the layer's place in its model, which a
    `DTypePolicyMap` is keyed by); it once answered "steps", and a policy
    map's mixed precision for the layer was silently ignored."""
    import keras
    from keras.dtype_policies import DTypePolicyMap

    policies = DTypePolicyMap(default_policy="float32")
    policies["model/peephole_lstm"] = keras.dtype_policies.get("mixed_float16")
    layer = kg.PeepholeLSTM(4, dtype=policies)
    keras.Sequential([keras.Input((5, 3)), layer], name="model")
    assert layer.path == "model/peephole_lstm"
    assert layer.compute_dtype == "float16"


def test_buckets_are_powers_of_two_from_16():
    from keras_gates.engine._tf_compiled_lstm import bucket

    got = [int(bucket(n)) for n in (0, 1, 15, 16, 17, 31, 32, 33, 100, 1000, 4096)]
    assert got == [16, 16, 16, 16, 32, 32, 32, 64, 128, 1024, 4096]


def _loss_weights(rng, batch, steps, units):
    return [
        rng.normal(size=s)
        for s in ((batch, steps, units), (batch, units), (batch, units))
    ]


def _numpy_loss(step, w, x, h0, c0, go_backwards, r, mask=None, zero_output=False):
    outputs, (h, c) = ref.run_rnn(
        lambda xt, s: step(xt, s, w),
        x,
        [h0, c0],
        go_backwards=go_backwards,
        mask=mask,
        zero_output_for_mask=zero_output,
    )
    return np.sum(r[0] * outputs) + np.sum(r[1] * h) + np.sum(r[2] * c), outputs


def _central_differences(f, arrays, eps=1e-6):
    """d f / d every entry of every array in `arrays` (changed in place)."""
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            keep = a[idx]
            a[idx] = keep + eps
            up = f()
            a[idx] = keep - eps
            down = f()
            a[idx] = keep
            g[idx] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


# Masks of a batch of 2 x 5 steps: padding on the right (the common case),
# on the left (the first outputs repeat the zeros before the sequence), and
# inside, with zeros at masked steps.
MASKS = {
    "right": [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]],
    "left": [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]],
    "inner": [[1, 0, 1, 0, 1], [0, 1, 1, 0, 0]],
}


@pytest.mark.parametrize("name", sorted(FUSED))
@pytest.mark.parametrize(
    "go_backwards, masking",
    [
        (False, None),
        (True, None),
        (False, "right"),
        (False, "left"),
        (True, "inner"),
        (False, "inner zero_output_for_mask"),
    ],
)
def test_outputs_and_gradients_match_numpy(name, go_backwards, masking, compiled_calls):
    import tensorflow as tf

    make, kwargs, step = FUSED[name]
    rng = np.random.default_rng(7)
    batch, steps, features, units = 2, 5, 3, 2
    mask = None if masking is None else np.array(MASKS[masking.split()[0]], bool)
    zero_output = masking is not None and "zero_output_for_mask" in masking
    layer = make(
        units,
        return_sequences=True,
        return_state=True,
        go_backwards=go_backwards,
        zero_output_for_mask=zero_output,
        **kwargs,
    )
    layer.build((batch, steps, features))
    randomize(layer, seed=1)
    x, h0, c0 = (
        rng.normal(size=s).astype("float32")
        for s in ((batch, steps, features), (batch, units), (batch, units))
    )
    r = _loss_weights(rng, batch, steps, units)

    @tf.function
    def keras_loss_and_grads(x, h0, c0):
        with tf.GradientTape() as tape:
            tape.watch([x, h0, c0])
            out, h, c = layer(x, initial_state=[h0, c0], training=True, mask=mask)
            loss = sum(
                tf.reduce_sum(ri * v) for ri, v in zip(r, (out, h, c), strict=True)
            )
        grads = tape.gradient(loss, [x, h0, c0, *layer.trainable_weights])
        return out, grads

    out, grads = keras_loss_and_grads(x, h0, c0)
    assert compiled_calls, "the training call did not take the compiled path"

    w = cell_weights(layer.cell)
    names = [v.name for v in layer.trainable_weights]
    arrays = [x.astype(np.float64), h0.astype(np.float64), c0.astype(np.float64)]
    arrays += [w[n] for n in names]

    masking = {"mask": mask, "zero_output": zero_output}

    def loss():
        return _numpy_loss(step, w, *arrays[:3], go_backwards, r, **masking)[0]

    want_out = _numpy_loss(step, w, *arrays[:3], go_backwards, r, **masking)[1]
    np.testing.assert_allclose(out.numpy(), want_out, atol=1e-5)
    want = _central_differences(loss, arrays)
    for n, got, expected in zip(["x", "h0", "c0", *names], grads, want, strict=True):
        np.testing.assert_allclose(np.asarray(got), expected, atol=1e-5, err_msg=n)


def _train(make, fast_path, x, y, *, compile_args=None, **kwargs):
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input(x.shape[1:], batch_size=len(x)),
            make(4, fast_path=fast_path, **kwargs),
        ]
    )
    randomize(model, seed=2)
    before = model.get_weights()
    model.compile(
        optimizer=keras.optimizers.SGD(0.5), loss="mse", **(compile_args or {})
    )
    for _ in range(2):
        model.train_on_batch(x, y)
    return [b - a for b, a in zip(before, model.get_weights(), strict=True)], model


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dropout": 0.4},
        {"return_sequences": True},
        {"compile_args": {"jit_compile": True}},
    ],
    ids=["input_dropout", "return_sequences", "jit_compiled_model"],
)
@pytest.mark.parametrize("make", [kg.PeepholeLSTM, kg.CoupledLSTM])
def test_training_updates_equal_the_step_loop(make, kwargs, compiled_calls):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 7, 4)).astype("float32")
    y_shape = (3, 7, 4) if kwargs.get("return_sequences") else (3, 4)
    y = rng.normal(size=y_shape).astype("float32")
    compiled, _ = _train(make, "auto", x, y, **kwargs)
    assert compiled_calls
    steps, _ = _train(make, False, x, y, **kwargs)
    for a, b in zip(compiled, steps, strict=True):
        assert np.any(a != 0.0)
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"return_sequences": True}, {"zero_output_for_mask": True}],
    ids=["last_output", "return_sequences", "zero_output_for_mask"],
)
@pytest.mark.parametrize("make", [kg.PeepholeLSTM, kg.CoupledLSTM])
def test_masked_training_on_text_equals_the_step_loop(make, kwargs, compiled_calls):
    """`Embedding(mask_zero=True)` and right padding, as text models have it:
    the masked training call takes the compiled loops and updates every
    weight (the embedding's included) as the step loop does."""
    rng = np.random.default_rng(6)
    lengths = [9, 4, 1, 0, 6]  # a row of padding alone too
    tokens = np.zeros((5, 9), "int32")
    for row, n in enumerate(lengths):
        tokens[row, :n] = rng.integers(1, 20, size=n)
    y_shape = (5, 9, 4) if kwargs.get("return_sequences") else (5, 4)
    y = rng.normal(size=y_shape).astype("float32")

    def updates(fast_path):
        keras.utils.set_random_seed(3)
        model = keras.Sequential(
            [
                keras.Input((9,), batch_size=5, dtype="int32"),
                keras.layers.Embedding(20, 5, mask_zero=True),
                make(4, fast_path=fast_path, **kwargs),
            ]
        )
        randomize(model, seed=2)
        before = model.get_weights()
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
        for _ in range(2):
            model.train_on_batch(tokens, y)
        return [b - a for b, a in zip(before, model.get_weights(), strict=True)]

    compiled = updates("auto")
    assert compiled_calls
    for a, b in zip(compiled, updates(False), strict=True):
        assert np.any(a != 0.0)
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_stateful_training_carries_the_states(compiled_calls):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    y = rng.normal(size=(2, 4)).astype("float32")
    models = []
    for fast_path in ("auto", False):
        _, model = _train(kg.PeepholeLSTM, fast_path, x, y, stateful=True)
        models.append(model)
    assert compiled_calls
    a, b = (m.layers[-1].states for m in models)
    for s, t in zip(a, b, strict=True):
        assert np.any(keras.ops.convert_to_numpy(s) != 0.0)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(s), keras.ops.convert_to_numpy(t), atol=1e-5
        )


def test_twenty_lengths_compile_once_per_bucket(monkeypatch, compiled_calls):
    """A batch of each of 20 lengths from 50 to 145 steps: the XLA loops
    see (and XLA compiles them for) three lengths, the buckets 64, 128 and
    256 steps, not one per batch."""
    import tensorflow as tf

    from keras_gates.engine import _tf_compiled_lstm

    seen = []
    forward = _tf_compiled_lstm._forward

    def spy(x, *args):
        record = tf.numpy_function(
            lambda n: seen.append(int(n)) or n, [tf.shape(x)[0]], tf.int32
        )
        with tf.control_dependencies([record]):
            return forward(tf.identity(x), *args)

    monkeypatch.setattr(_tf_compiled_lstm, "_forward", spy)
    model = keras.Sequential([keras.Input((None, 3)), kg.CoupledLSTM(4)])
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(8)
    lengths = range(50, 150, 5)
    for steps in lengths:
        model.train_on_batch(rng.normal(size=(2, steps, 3)), rng.normal(size=(2, 4)))
    assert len(seen) == len(lengths) and len(compiled_calls) >= 1
    assert sorted(set(seen)) == [64, 128, 256]


def _layer_pair(make, **kwargs):
    """A layer on the compiled path and one on the step loop, same weights."""
    layers = [make(4, fast_path=path, **kwargs) for path in ("auto", False)]
    for layer in layers:
        layer.build((2, 6, 3))
    randomize(layers[0], seed=4)
    layers[1].set_weights(layers[0].get_weights())
    return layers


def test_eager_stateful_gradients_use_the_states_the_call_started_from(compiled_calls):
    """A stateful layer assigns its states during the call; its gradient
    must use the states the call read (once read too late, in eager mode:
    recurrent_kernel's gradient off by 8e-3)."""
    import tensorflow as tf

    x = tf.constant(np.random.default_rng(9).normal(size=(2, 6, 3)), "float32")
    grads = []
    for layer in _layer_pair(kg.PeepholeLSTM, stateful=True):
        layer(x, training=True)  # states no longer zero
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.sin(layer(x, training=True)))
        grads.append(tape.gradient(loss, layer.trainable_weights))
    assert compiled_calls
    for got, want in zip(*grads, strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)


@pytest.mark.parametrize("in_function", [False, True])
def test_gradients_of_gradients_equal_the_step_loop(in_function, compiled_calls):
    """A gradient penalty, d/dw |d loss / dx|², differentiates the backward
    pass itself: the compiled path's is recomputed by autodiff of the plain loop."""
    import tensorflow as tf

    x = tf.constant(np.random.default_rng(10).normal(size=(2, 6, 3)), "float32")

    def penalty_and_grads(layer):
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(x)
                loss = tf.reduce_sum(tf.sin(layer(x, training=True)))
            penalty = tf.reduce_sum(inner.gradient(loss, x) ** 2)
        return penalty, outer.gradient(penalty, layer.trainable_weights)

    run = tf.function(penalty_and_grads) if in_function else penalty_and_grads
    results = [
        run(layer)
        for layer in _layer_pair(kg.CoupledLSTM, peepholes=["input", "output"])
    ]
    assert compiled_calls
    (compiled_penalty, compiled_grads), (steps_penalty, steps_grads) = results
    np.testing.assert_allclose(
        compiled_penalty.numpy(), steps_penalty.numpy(), rtol=1e-5
    )
    for got, want in zip(compiled_grads, steps_grads, strict=True):
        assert np.any(want.numpy() != 0.0)
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)


def test_a_layer_called_twice_and_batches_of_two_sizes(compiled_calls):
    """One layer instance on two inputs, the second call starting from the
    first call's states, trained on a batch of 3 and then of 2: the same
    updates as the step loop."""

    def build(fast_path):
        keras.utils.set_random_seed(11)
        a, b = keras.Input((5, 3)), keras.Input((8, 3))
        layer = kg.PeepholeLSTM(4, return_state=True, fast_path=fast_path)
        _, h, c = layer(a)
        out, _, _ = layer(b, initial_state=[h, c])
        model = keras.Model([a, b], out)
        randomize(model, seed=12)
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
        return model

    rng = np.random.default_rng(13)
    batches = [
        (
            [rng.normal(size=(n, 5, 3)), rng.normal(size=(n, 8, 3))],
            rng.normal(size=(n, 4)),
        )
        for n in (3, 2)
    ]
    weights = []
    for fast_path in ("auto", False):
        model = build(fast_path)
        for x, y in batches:
            model.train_on_batch(x, y)
        weights.append(model.get_weights())
    assert len(compiled_calls) >= 2
    before = build(False).get_weights()
    for compiled, steps, start in zip(*weights, before, strict=True):
        assert np.any(steps != start)
        np.testing.assert_allclose(compiled, steps, atol=1e-5)
