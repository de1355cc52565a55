"""The importers of `keras_gates.importers` against NumPy references of the
original libraries' equations and weight layouts (TF1's LSTMCell, the
official SRU, mingru-pytorch), written here from their definitions, and
their errors. Backend-independent: this module also runs with
KERAS_BACKEND=jax. tests/test_peers.py checks the same importers against
the real packages."""

import numpy as np
import pytest

import keras_gates as kg
from keras_gates import importers as convert
from tests.helpers import to_numpy
from tests.reference import layer_norm
from tests.reference import positive_g
from tests.reference import sigmoid

pytestmark = pytest.mark.numerics

ATOL = 1e-5
BATCH, STEPS = 3, 6


def tf1_lstm(x, kernel, bias, diags, projection, forget_bias, cell_clip, proj_clip):
    """TF1's LSTMCell over a sequence: `[x, m] @ kernel + bias` split i, j,
    f, o; state `(c, m)`."""
    units = bias.shape[0] // 4
    batch = x.shape[0]
    m = np.zeros((batch, units if projection is None else projection.shape[1]))
    c = np.zeros((batch, units))
    outputs = []
    for t in range(x.shape[1]):
        z = np.concatenate([x[:, t], m], axis=1) @ kernel + bias
        i, j, f, o = np.split(z, 4, axis=1)
        w_i, w_f, w_o = (np.zeros(units) if d is None else d for d in diags)
        c = sigmoid(f + forget_bias + w_f * c) * c + sigmoid(i + w_i * c) * np.tanh(j)
        if cell_clip is not None:
            c = np.clip(c, -cell_clip, cell_clip)
        m = sigmoid(o + w_o * c) * np.tanh(c)
        if projection is not None:
            m = m @ projection
            if proj_clip is not None:
                m = np.clip(m, -proj_clip, proj_clip)
        outputs.append(m)
    return np.stack(outputs, axis=1), m, c


@pytest.mark.parametrize("projected", [False, True], ids=["plain", "lstmp"])
@pytest.mark.parametrize("peepholes", [(), ("i", "f", "o"), ("f",)])
def test_tf1_lstm_cell_layout(projected, peepholes):
    rng = np.random.default_rng(0)
    input_dim, units, proj = 3, 5, 2
    h_dim = proj if projected else units
    kernel = rng.normal(0, 0.5, (input_dim + h_dim, 4 * units))
    bias = rng.normal(0, 0.5, 4 * units)
    diags = [rng.normal(0, 0.5, units) if g in peepholes else None for g in "ifo"]
    projection = rng.normal(0, 0.5, (units, proj)) if projected else None
    clips = {"cell_clip": 0.9, "proj_clip": 0.4 if projected else None}
    x = rng.normal(size=(BATCH, STEPS, input_dim))
    want, m, c = tf1_lstm(x, kernel, bias, diags, projection, 0.7, **clips)
    layer = convert.from_tf1_lstm_cell(
        kernel,
        bias,
        *diags,
        projection,
        forget_bias=0.7,
        cell_clip=clips["cell_clip"],
        projection_clip=clips["proj_clip"],
        return_sequences=True,
        return_state=True,
    )
    got, h, c_got = layer(x.astype("float32"))
    np.testing.assert_allclose(to_numpy(got), want, atol=ATOL)
    np.testing.assert_allclose(to_numpy(h), m, atol=ATOL)
    np.testing.assert_allclose(to_numpy(c_got), c, atol=ATOL)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"kernel": np.zeros((5, 10))}, ["4 * units"]),
        ({"bias": np.zeros(12)}, ["bias", "(16,)"]),
        ({"projection": np.zeros((3, 2))}, ["projection", "(4, num_proj)"]),
        ({"w_f_diag": np.zeros(3)}, ["w_f_diag", "(4,)"]),
        ({"kernel": np.zeros((4, 16))}, ["no input rows"]),
        ({"kernel": np.array([["a"] * 16] * 7)}, ["kernel", "numbers"]),
    ],
)
def test_tf1_importer_errors(kwargs, words):
    args = {"kernel": np.zeros((7, 16)), "bias": np.zeros(16), **kwargs}
    with pytest.raises((ValueError, TypeError)) as error:
        convert.from_tf1_lstm_cell(**args)
    for word in words:
        assert word in str(error.value)


def official_sru_layer(x, w, hidden, bidirectional, skip, scale, norm, after, pad):
    """One official SRUCell (sru 2.6's `elementwise_recurrence_naive`),
    batch-major: interleaved kernel `(.., dirs * hidden * k)`, `weight_c`
    and `bias` as `(2, dirs, hidden)`, padded steps keep `c` and output 0."""
    dirs = 2 if bidirectional else 1
    xin = x
    if norm and not after:
        xin = layer_norm(x, w["layer_norm.weight"], w["layer_norm.bias"], 1e-5)
    if "weight_proj" in w:
        xin = xin @ w["weight_proj"]
    u = xin @ w["weight"]
    k = u.shape[-1] // (dirs * hidden)
    u = u.reshape(*u.shape[:2], dirs, hidden, k)
    v = w["weight_c"].reshape(2, dirs, hidden)
    b = w["bias"].reshape(2, dirs, hidden)
    batch, steps = x.shape[:2]
    h = np.zeros((batch, steps, dirs, hidden))
    for d in range(dirs):
        c = np.zeros((batch, hidden))
        order = range(steps) if d == 0 else range(steps - 1, -1, -1)
        for t in order:
            f = sigmoid(u[:, t, d, :, 1] + b[0, d] + v[0, d] * c)
            r = sigmoid(u[:, t, d, :, 2] + b[1, d] + v[1, d] * c)
            c_new = f * c + (1 - f) * u[:, t, d, :, 0]
            keep = pad[:, t : t + 1]
            c = np.where(keep, c, c_new)
            if not skip:
                out = r * c
            elif k == 4:
                out = r * c + (1 - r) * u[:, t, d, :, 3]
            else:
                highway = x[:, t].reshape(batch, dirs, hidden)[:, d] * scale
                out = r * c + (1 - r) * highway
            h[:, t, d] = np.where(keep, 0.0, out)
    h = h.reshape(batch, steps, dirs * hidden)
    if norm and after:
        h = layer_norm(h, w["layer_norm.weight"], w["layer_norm.bias"], 1e-5)
    return h


@pytest.mark.parametrize(
    "config",
    [
        dict(input_size=8, bidirectional=True, rescale=True, norm=True),
        dict(input_size=5, projection=3),
        dict(input_size=4, skip=False, norm=True, after=True),
        dict(input_size=4, rescale=True),
    ],
    ids=["bidir_split_rescale_norm", "projected", "no_skip_after", "identity"],
)
def test_official_sru_layout(config):
    rng = np.random.default_rng(1)
    hidden = 4
    bidirectional = config.get("bidirectional", False)
    skip, norm = config.get("skip", True), config.get("norm", False)
    after = config.get("after", False)
    dirs = 2 if bidirectional else 1
    out = dirs * hidden
    size = config["input_size"]
    rows = config.get("projection", size)
    k = 4 if skip and size != out else 3
    w = {
        "weight": rng.normal(0, 0.5, (rows, out * k)),
        "weight_c": rng.normal(0, 0.5, 2 * out),
        "bias": rng.normal(0, 0.5, 2 * out),
    }
    scale = np.sqrt(1 + 2 * np.exp(-1.0)) if config.get("rescale") else 1.0
    w["scale_x"] = np.array([scale])
    if "projection" in config:
        w["weight_proj"] = rng.normal(0, 0.5, (size, rows))
    if norm:
        n = out if after else size
        w["layer_norm.weight"] = rng.normal(1, 0.3, n)
        w["layer_norm.bias"] = rng.normal(0, 0.3, n)
    x = rng.normal(size=(BATCH, STEPS, size))
    pad = np.zeros((BATCH, STEPS), bool)
    pad[1, -2:] = True
    want = official_sru_layer(
        x, w, hidden, bidirectional, skip, scale, norm, after, pad
    )
    state = {f"rnn_lst.0.{key}": value for key, value in w.items()}
    model = convert.from_sru(
        state, bidirectional=bidirectional, has_skip_term=skip, normalize_after=after
    )
    got = to_numpy(model(x.astype("float32"), mask=~pad))
    valid = ~pad
    np.testing.assert_allclose(got[valid], want[valid], atol=ATOL)


def test_sru_importer_needs_sru_weights():
    with pytest.raises(ValueError, match="rnn_lst"):
        convert.from_sru({"lstm.weight": np.zeros((3, 4))})
    with pytest.raises(TypeError, match="state_dict"):
        convert.from_sru(3)


@pytest.mark.parametrize("to_out", [False, True])
def test_mingru_pytorch_layout(to_out):
    """minGRU: `[hidden, gate] = x @ W.T`, `h = lerp(h, g(hidden), σ(gate))`,
    then `to_out`."""
    rng = np.random.default_rng(2)
    dim, inner = 3, 5
    state = {"to_hidden_and_gate.weight": rng.normal(0, 0.7, (2 * inner, dim))}
    if to_out:
        state["to_out.weight"] = rng.normal(0, 0.7, (dim, inner))
    x = rng.normal(size=(BATCH, STEPS, dim))
    hidden, gate = np.split(x @ state["to_hidden_and_gate.weight"].T, 2, axis=-1)
    h = np.full((BATCH, inner), 0.3)
    want = []
    for t in range(STEPS):
        z = sigmoid(gate[:, t])
        h = h + z * (positive_g(hidden[:, t]) - h)
        want.append(h @ state["to_out.weight"].T if to_out else h)
    for fast_path in (True, False):
        layer = convert.from_mingru_pytorch(state, fast_path=fast_path)
        got = layer(x.astype("float32"), initial_state=[np.full((BATCH, inner), 0.3)])
        np.testing.assert_allclose(to_numpy(got), np.stack(want, 1), atol=ATOL)
    with pytest.raises(ValueError, match="to_hidden_and_gate"):
        convert.from_mingru_pytorch(state, prefix="layers.0.")


def test_mingru_pytorch_min_lstm_layout():
    """minLSTM: `[hidden, f, i] = x @ W.T`, `h = f' h + i' g(hidden)` with
    `f' = σ(f) / (σ(f) + σ(i))`, `i' = 1 - f'`."""
    rng = np.random.default_rng(3)
    dim, inner = 3, 5
    state = {"to_hidden_and_f_i_gate.weight": rng.normal(0, 0.7, (3 * inner, dim))}
    x = rng.normal(size=(BATCH, STEPS, dim))
    hidden, f, i = np.split(x @ state["to_hidden_and_f_i_gate.weight"].T, 3, axis=-1)
    h = np.full((BATCH, inner), 0.3)
    want = []
    for t in range(STEPS):
        forget, write = sigmoid(f[:, t]), sigmoid(i[:, t])
        h = (forget * h + write * positive_g(hidden[:, t])) / (forget + write)
        want.append(h)
    for fast_path in (True, False):
        layer = convert.from_mingru_pytorch(state, fast_path=fast_path)
        assert isinstance(layer, kg.MinLSTM)
        got = layer(x.astype("float32"), initial_state=[np.full((BATCH, inner), 0.3)])
        np.testing.assert_allclose(to_numpy(got), np.stack(want, 1), atol=ATOL)
    with pytest.raises(ValueError, match=r"3 \* inner"):
        convert.from_mingru_pytorch({"to_hidden_and_f_i_gate.weight": np.zeros((8, 3))})
    both = {**state, "to_hidden_and_gate.weight": np.zeros((10, 3))}
    with pytest.raises(ValueError, match="to_hidden_and_f_i_gate"):
        convert.from_mingru_pytorch(both)


# Importers: options that change the math, malformed state dicts -------------


def test_importers_refuse_options_that_change_the_math():
    from keras_gates import importers as convert

    kernel, bias = np.zeros((3 + 4, 16), "float32"), np.zeros(16, "float32")
    for option in ({"layer_norm": True}, {"use_bias": False}, {"peepholes": None}):
        with pytest.raises(ValueError, match=f"`{next(iter(option))}`"):
            convert.from_tf1_lstm_cell(kernel, bias, **option)
    mingru = {"to_hidden_and_gate.weight": np.zeros((8, 3), "float32")}
    with pytest.raises(ValueError, match="`log_space`"):
        convert.from_mingru_pytorch(mingru, log_space=False)
    sru = {"weight": np.zeros((4, 12), "float32"), "weight_c": np.zeros(8)}
    sru["bias"] = np.zeros(8)
    with pytest.raises(ValueError, match="`activation`"):
        convert.from_sru(sru, activation="tanh")
    # What changes how the layer runs is taken.
    layer = convert.from_tf1_lstm_cell(kernel, bias, return_sequences=True, name="x")
    assert layer.return_sequences and layer.name == "x"
    assert convert.from_mingru_pytorch(mingru, return_sequences=False).units == 4


def sru_state_dict(layers=3, size=4, units=4):
    rng = np.random.default_rng(0)
    state = {}
    for i in range(layers):
        rows = size if i == 0 else units
        state[f"rnn_lst.{i}.weight"] = rng.normal(size=(rows, 3 * units))
        state[f"rnn_lst.{i}.weight_c"] = rng.normal(size=2 * units)
        state[f"rnn_lst.{i}.bias"] = rng.normal(size=2 * units)
        state[f"rnn_lst.{i}.scale_x"] = np.ones(1)
    return state


def test_malformed_state_dicts_raise_naming_the_key():
    from keras_gates import importers as convert

    assert len(convert.from_sru(sru_state_dict()).layers) == 3
    gap = {k: v for k, v in sru_state_dict().items() if not k.startswith("rnn_lst.1")}
    with pytest.raises(ValueError, match=r"layers \[0, 2\] but not \[1\]"):
        convert.from_sru(gap)
    missing = {k: v for k, v in sru_state_dict().items() if k != "rnn_lst.1.bias"}
    with pytest.raises(ValueError, match="rnn_lst.1.bias"):
        convert.from_sru(missing)
    extra = {**sru_state_dict(), "rnn_lst.0.weight_extra": np.zeros(3)}
    with pytest.raises(ValueError, match="weight_extra"):
        convert.from_sru(extra)
    wrong = {**sru_state_dict(), "rnn_lst.2.weight_c": np.zeros(5)}
    with pytest.raises(ValueError, match="rnn_lst.2.weight_c"):
        convert.from_sru(wrong)
    mingru = {
        "to_hidden_and_gate.weight": np.zeros((8, 3)),
        "to_out.weight": np.zeros((3, 5)),
    }
    with pytest.raises(ValueError, match="to_out.weight"):
        convert.from_mingru_pytorch(mingru)
    with pytest.raises(ValueError, match="to_hidden_and_gate.weight"):
        convert.from_mingru_pytorch({"to_hidden_and_gate.weight": np.zeros((7, 3))})
    with pytest.raises(ValueError, match="to_hidden_and_gate.bias"):
        convert.from_mingru_pytorch(
            {
                "to_hidden_and_gate.weight": np.zeros((8, 3)),
                "to_hidden_and_gate.bias": np.ones(8),
            }
        )
