"""The fast paths: the switch, the parallel scan, and equality with the
step-by-step loop. Backend-independent except where marked."""

import keras
import numpy as np
import pytest

import keras_gates as kg
from keras_gates.engine import paths as engine_paths
from keras_gates.ops import linear_scan
from keras_gates.ops import log_linear_scan
from tests.helpers import randomize
from tests.helpers import to_numpy

pytestmark = pytest.mark.numerics
TF_ONLY = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="dynamic shapes in a traced graph exist on the TensorFlow backend only",
)


def loop_reference(a, b, h0):
    h, out = h0.astype(np.float64), []
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        out.append(h)
    return np.stack(out, 1) if out else np.zeros(a.shape)


def scan_inputs(steps, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.0, 1.0, (2, steps, 3)).astype("float32")
    b = rng.normal(size=(2, steps, 3)).astype("float32")
    h0 = rng.normal(size=(2, 3)).astype("float32")
    return a, b, h0


@pytest.mark.parametrize("steps", [0, 1, 2, 3, 8, 9, 100])
def test_linear_scan_matches_loop(steps):
    a, b, h0 = scan_inputs(steps)
    got = to_numpy(linear_scan(a, b, h0))
    assert got.shape == (2, steps, 3)
    np.testing.assert_allclose(got, loop_reference(a, b, h0), atol=1e-5)


@TF_ONLY
@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("steps", [0, 1, 2, 5, 33])
def test_linear_scan_with_dynamic_length(steps, jit_compile):
    """A time axis unknown when tracing runs the while-loop scan, under XLA too."""
    import tensorflow as tf

    spec = tf.TensorSpec((None, None, 3))
    scan = tf.function(
        linear_scan,
        input_signature=[spec, spec, tf.TensorSpec((None, 3))],
        jit_compile=jit_compile,
    )
    a, b, h0 = scan_inputs(steps)
    got = scan(a, b, h0).numpy()
    assert got.shape == (2, steps, 3)
    np.testing.assert_allclose(got, loop_reference(a, b, h0), atol=1e-5)


@pytest.mark.parametrize("steps", [0, 1, 5, 9])
def test_linear_scan_time_major(steps):
    """`axis=0` (the layers' time-major layout), static and dynamic length,
    in linear and log space."""
    a, b, h0 = scan_inputs(steps)
    want = loop_reference(a, b, h0)
    a_t, b_t = a.transpose(1, 0, 2), b.transpose(1, 0, 2)
    got = to_numpy(linear_scan(a_t, b_t, h0, axis=0)).transpose(1, 0, 2)
    np.testing.assert_allclose(got, want, atol=1e-5)
    with np.errstate(divide="ignore"):
        log_a, log_b = np.log(a_t), np.log(np.abs(b_t))
    got = to_numpy(log_linear_scan(log_a, log_b, h0, axis=0)).transpose(1, 0, 2)
    want = loop_reference(a, np.abs(b), h0)
    np.testing.assert_allclose(got, want, atol=1e-4)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        spec = tf.TensorSpec((None, None, 3))
        scan = tf.function(
            lambda a, b, h: linear_scan(a, b, h, axis=0),
            input_signature=[spec, spec, tf.TensorSpec((None, 3))],
        )
        got = scan(a_t, b_t, h0).numpy().transpose(1, 0, 2)
        np.testing.assert_allclose(got, loop_reference(a, b, h0), atol=1e-5)


def test_masked_steps_are_exactly_the_identity():
    a, b, h0 = scan_inputs(6)
    a[:, 2:4], b[:, 2:4] = 1.0, 0.0
    h = to_numpy(linear_scan(a, b, h0))
    np.testing.assert_array_equal(h[:, 1], h[:, 2])
    np.testing.assert_array_equal(h[:, 1], h[:, 3])


ALL_LAYERS = [
    kg.PeepholeLSTM,
    kg.CoupledLSTM,
    kg.MinimalGRU,
    kg.SRU,
    kg.MinGRU,
    lambda units, **kw: kg.SRU(units, recurrent_gates=False, **kw),
]


@pytest.mark.parametrize("accelerator", [False, True])
def test_one_function_chooses_the_path(monkeypatch, accelerator):
    """ "auto" takes the fast path on accelerators only; True and False force
    a path; the scan for a cell linear in its state, the hoisted loop for
    the others."""
    monkeypatch.setattr(engine_paths, "accelerator_available", lambda: accelerator)
    for make in ALL_LAYERS:
        fast = "scan" if make(3).cell.is_linear else "hoisted"
        assert make(3).run_paths.inference == (fast if accelerator else "steps")
        assert make(3, fast_path=True).run_paths.inference == fast
        assert make(3, fast_path=False).run_paths.inference == "steps"
    assert (
        kg.SRU(3).run_paths.inference != "scan"
        and kg.SRU(3, recurrent_gates=False).cell.is_linear
    )
    for bad in ("fast", 1, None):
        with pytest.raises(ValueError, match="fast_path"):
            kg.MinGRU(3, fast_path=bad)


def test_fast_path_is_serialized():
    layer = kg.MinGRU(3, fast_path=False)
    assert layer.get_config()["fast_path"] is False
    assert kg.MinGRU.from_config(layer.get_config()).run_paths.inference == "steps"


@pytest.mark.parametrize("make", ALL_LAYERS)
def test_each_path_really_runs(monkeypatch, make):
    """Steps: `input_side` once per step; hoisted: once for the whole
    sequence; scan: no `recurrent_step` at all."""
    calls = {"input_side": [], "recurrent_step": 0}
    cell_class = type(make(3).cell)
    input_side, recurrent_step = cell_class.input_side, cell_class.recurrent_step

    def spy_input_side(self, inputs, *args, **kwargs):
        calls["input_side"].append(len(inputs.shape))
        return input_side(self, inputs, *args, **kwargs)

    def spy_recurrent_step(self, *args, **kwargs):
        calls["recurrent_step"] += 1
        return recurrent_step(self, *args, **kwargs)

    monkeypatch.setattr(cell_class, "input_side", spy_input_side)
    monkeypatch.setattr(cell_class, "recurrent_step", spy_recurrent_step)
    x = np.zeros((2, 4, 3), "float32")
    for fast_path in (False, True):
        layer = make(3, fast_path=fast_path, unroll=True)
        calls["input_side"], calls["recurrent_step"] = [], 0
        layer(x)
        path = layer.run_paths.inference
        if path == "steps":
            assert calls == {"input_side": [2] * 4, "recurrent_step": 4}
        elif path == "hoisted":
            assert calls == {"input_side": [3], "recurrent_step": 4}
        else:
            assert calls == {"input_side": [3], "recurrent_step": 0}


# name: (layer class, kwargs, units); every layer's fast path, the scans and
# the hoisted loops (input dimension 4: units 4 gives the SRU's identity
# highway).
FAST_LAYERS = {
    "MinGRU": (kg.MinGRU, {}, 5),
    "SRU_v0_projected": (kg.SRU, {"recurrent_gates": False}, 5),
    "SRU_v0_identity": (kg.SRU, {"recurrent_gates": False, "activation": "tanh"}, 4),
    "PeepholeLSTM": (kg.PeepholeLSTM, {"cell_clip": 0.8}, 5),
    "CoupledLSTM": (kg.CoupledLSTM, {"peepholes": ["input", "output"]}, 5),
    "MinimalGRU": (kg.MinimalGRU, {}, 5),
    "MinimalGRU_update_only": (kg.MinimalGRU, {"reset": False}, 5),
    "SRU_projected": (kg.SRU, {}, 5),
    "SRU_identity": (kg.SRU, {"activation": "tanh"}, 4),
}


def fast_model(name, fast_path, **kwargs):
    cls, cls_kwargs, units = FAST_LAYERS[name]
    return keras.Sequential(
        [
            keras.Input((None, 4)),
            keras.layers.Masking(0.0),
            cls(units, **cls_kwargs, fast_path=fast_path, **kwargs),
        ]
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FAST_LAYERS))
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_fast_path_equals_steps_in_a_model(
    name, go_backwards, zero_output_for_mask, jit_compile
):
    """Inside a compiled model whose time axis is unknown (None), with padding."""
    kwargs = {
        "return_sequences": True,
        "go_backwards": go_backwards,
        "zero_output_for_mask": zero_output_for_mask,
    }
    fast, steps = fast_model(name, True, **kwargs), fast_model(name, False, **kwargs)
    assert fast.layers[-1].run_paths.inference != "steps"
    assert steps.layers[-1].run_paths.inference == "steps"
    randomize(fast)
    steps.set_weights(fast.get_weights())
    x = np.random.default_rng(2).normal(size=(3, 9, 4)).astype("float32")
    x[1, -4:] = 0.0
    x[2, :3] = 0.0
    for m in (fast, steps):
        m.compile(jit_compile=jit_compile)
    np.testing.assert_allclose(
        fast.predict(x, verbose=0), steps.predict(x, verbose=0), atol=1e-5
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FAST_LAYERS))
def test_gradients_match_between_paths(name):
    x = np.random.default_rng(3).normal(size=(2, 6, 4)).astype("float32")
    x[1, :2] = 0.0
    weights, updates = None, []
    for fast_path in (True, False):
        model = fast_model(name, fast_path)
        if weights is None:
            randomize(model)
            weights = model.get_weights()
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(1.0), loss="mse")
        y = np.random.default_rng(4).normal(size=model.output_shape[1:])
        model.train_on_batch(x, np.stack([y, y]))
        updates.append(
            [w - n for w, n in zip(weights, model.get_weights(), strict=True)]
        )
    for fast, slow in zip(*updates, strict=True):
        assert np.any(fast != 0.0)
        np.testing.assert_allclose(fast, slow, atol=1e-5)
