"""`keras_gates.SlicedRNN` against an explicit reshape-and-loop NumPy
reference: every slice of every sample run one by one through the cells'
NumPy steps (tests/reference.py), then the levels above."""

import functools
import math
import os

import keras
import numpy as np
import pytest

import keras_gates as kg
from tests import reference as ref
from tests.helpers import cell_weights
from tests.helpers import padded_token_rows
from tests.helpers import randomize
from tests.helpers import reference_step
from tests.helpers import run_litert
from tests.helpers import tensorflow_only
from tests.helpers import to_numpy

pytestmark = pytest.mark.numerics  # also run on JAX by .ci/run

ATOL = 1e-5


def numpy_step(cell):
    if isinstance(cell, keras.layers.LSTMCell):  # Keras' LSTM: no peepholes
        w = cell_weights(cell)
        return lambda x, states: ref.peephole_lstm_step(x, states, w)
    return reference_step(cell)


def numpy_layer(layer, x, mask):
    """A recurrent layer (or a Bidirectional of one) on `x` (batch, time,
    features) with `mask`, in NumPy: its last output or its sequence."""

    def one(sub, go_backwards):
        step = numpy_step(sub.cell)
        units = sub.cell.state_size
        units = units if isinstance(units, (list, tuple)) else [units]
        states = [np.zeros((x.shape[0], n)) for n in units]
        out, _ = ref.run_rnn(step, x, states, mask=mask, go_backwards=go_backwards)
        return out

    if isinstance(layer, keras.layers.Bidirectional):
        forward = one(layer.forward_layer, False)
        backward = one(layer.backward_layer, True)
        if layer.return_sequences:
            backward = backward[:, ::-1]
            return np.concatenate([forward, backward], axis=-1)
        return np.concatenate([forward[:, -1], backward[:, -1]], axis=-1)
    out = one(layer, layer.go_backwards)
    return out if layer.return_sequences else out[:, -1]


def numpy_sliced(sliced, x, mask):
    """The Sliced RNN written out: cut each sample into N slices, run level 0
    on each slice alone, then at each level group consecutive summaries."""
    batch, steps, _ = x.shape
    n = math.prod(sliced.slices)
    if mask is None:
        mask = np.ones((batch, steps), bool)
    if steps % n:  # pad=True: masked steps at the end
        extra = n - steps % n
        x = np.concatenate([x, np.zeros((batch, extra, x.shape[2]))], axis=1)
        mask = np.concatenate([mask, np.zeros((batch, extra), bool)], axis=1)
        steps += extra
    length = steps // n
    summaries, masks = [], []  # per sample: a list of (summary, any real)
    for b in range(batch):
        row, row_mask = [], []
        for s in range(n):
            part = slice(s * length, (s + 1) * length)
            piece = x[b : b + 1, part]
            piece_mask = mask[b : b + 1, part]
            row.append(numpy_layer(sliced.levels[0], piece, piece_mask)[0])
            row_mask.append(piece_mask.any())
        summaries.append(row)
        masks.append(row_mask)
    for level, group in zip(sliced.levels[1:], reversed(sliced.slices), strict=True):
        next_summaries, next_masks = [], []
        for row, row_mask in zip(summaries, masks, strict=True):
            new_row, new_mask = [], []
            for g in range(0, len(row), group):
                seq = np.stack(row[g : g + group])[None]
                seq_mask = np.array(row_mask[g : g + group])[None]
                new_row.append(numpy_layer(level, seq, seq_mask)[0])
                new_mask.append(seq_mask.any())
            next_summaries.append(new_row)
            next_masks.append(new_mask)
        summaries, masks = next_summaries, next_masks
    return np.stack([row[0] for row in summaries])


def built(sliced, steps, features, seed=0):
    sliced.build((None, steps, features))
    for j, level in enumerate(sliced.levels):
        randomize(level, seed=seed + j)
    return sliced


LAYERS = {
    "peephole": lambda: kg.PeepholeLSTM(4, projection_units=3),
    "coupled": lambda: kg.CoupledLSTM(4),
    "minimal_gru": lambda: kg.MinimalGRU(4),
    "sru": lambda: kg.SRU(3),
    "mingru": lambda: kg.MinGRU(4),
    "keras_lstm": lambda: keras.layers.LSTM(4),
    "bidirectional": lambda: keras.layers.Bidirectional(kg.PeepholeLSTM(3)),
}


def padded_mask(batch, steps, seed):
    """Left, inner and right padding, and a row of padding only."""
    rng = np.random.default_rng(seed)
    mask = rng.random((batch, steps)) > 0.3
    mask[0, : steps // 2] = False  # left
    mask[1, steps // 3 :] = False  # right: whole slices of padding
    mask[-1] = False
    return mask


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("masked", [False, True], ids=["unmasked", "masked"])
def test_matches_the_numpy_reference(name, masked):
    sliced = built(kg.SlicedRNN(LAYERS[name](), (2, 3)), 12, 3)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 12, 3)).astype("float32")
    mask = padded_mask(4, 12, 2) if masked else None
    got = to_numpy(sliced(x, mask=mask))
    np.testing.assert_allclose(got, numpy_sliced(sliced, x, mask), atol=ATOL)


def test_three_levels_and_return_sequences():
    sliced = built(
        kg.SlicedRNN(kg.CoupledLSTM(4), (2, 2, 3), return_sequences=True), 24, 2
    )
    x = np.random.default_rng(3).normal(size=(3, 24, 2)).astype("float32")
    mask = padded_mask(3, 24, 4)
    got = to_numpy(sliced(x, mask=mask))
    assert got.shape == (3, 2, 4)
    np.testing.assert_allclose(got, numpy_sliced(sliced, x, mask), atol=ATOL)
    # The mask passed on: the top level's steps that hold a real step.
    out_mask = to_numpy(sliced.compute_mask(x, mask))
    np.testing.assert_array_equal(out_mask, mask.reshape(3, 2, 12).any(-1))


def test_pad_masks_the_steps_it_adds():
    sliced = built(kg.SlicedRNN(kg.MinimalGRU(4), (2, 2), pad=True), 10, 3)
    x = np.random.default_rng(5).normal(size=(2, 10, 3)).astype("float32")
    want = numpy_sliced(sliced, x, None)
    np.testing.assert_allclose(to_numpy(sliced(x)), want, atol=ATOL)
    mask = padded_mask(2, 10, 6)
    want = numpy_sliced(sliced, x, mask)
    np.testing.assert_allclose(to_numpy(sliced(x, mask=mask)), want, atol=ATOL)


def test_the_structure_of_the_paper():
    """slices=(8, 8) at T = 512: 64 slices of 8 steps, then 8 sequences of
    8, then one of 8; the levels above have the layer's config."""
    layer = kg.PeepholeLSTM(5, peepholes="forget")
    sliced = kg.SlicedRNN(layer, (8, 8))
    seen = []
    for level in sliced.levels:
        level.call = functools.partial(
            lambda original, x, **kw: seen.append(tuple(x.shape)) or original(x, **kw),
            level.call,
        )
    sliced(np.zeros((2, 512, 3), "float32"))
    assert seen == [(128, 8, 3), (16, 8, 5), (2, 8, 5)]
    assert sliced.levels[0] is not layer  # a copy, as Bidirectional's
    assert sliced.levels[0].get_config() == layer.get_config()
    for level in sliced.levels[1:]:
        assert type(level) is kg.PeepholeLSTM
        assert level.cell.peepholes == layer.cell.peepholes
        assert level.units == 5
    assert sliced.minimal_slices == 64


def test_levels_given():
    top = keras.layers.GRU(6, return_sequences=True)
    sliced = kg.SlicedRNN(
        kg.SRU(4), 3, layers=[top], return_sequences=True, name="tree"
    )
    y = sliced(np.ones((2, 9, 4), "float32"))
    assert tuple(y.shape) == (2, 3, 6)
    assert sliced.levels[1].get_config() == top.get_config()


def test_one_instance_in_two_sliced_rnns_builds_independent_copies():
    # What Keras' layer harness does (the same arguments, built several
    # times), and what a user reusing a layer does: as Bidirectional.
    layer = kg.PeepholeLSTM(4)
    first = kg.SlicedRNN(layer, (2, 2))
    second = kg.SlicedRNN(layer, (2, 2))
    y1 = first(np.ones((2, 8, 4), "float32"))
    y2 = second(np.ones((2, 8, 3), "float32"))  # other features
    assert tuple(y1.shape) == tuple(y2.shape) == (2, 4)
    assert not layer.built
    ids = {id(w) for w in first.weights}
    assert not ids & {id(w) for w in second.weights}
    both = keras.Sequential([keras.Input((8, 4)), first, keras.layers.Dense(4)])
    both.compile(optimizer="sgd", loss="mse")
    before = [to_numpy(w) for w in second.weights]
    both.train_on_batch(np.ones((2, 8, 4), "float32"), np.ones((2, 4), "float32"))
    for w, old in zip(second.weights, before, strict=True):
        np.testing.assert_array_equal(to_numpy(w), old)


def test_a_built_layer_keeps_its_weights_in_the_copy():
    layer = kg.PeepholeLSTM(4)
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    want = to_numpy(layer(x))
    sliced = kg.SlicedRNN(layer, 1)  # one slice: level 0 reads everything
    sliced.build((None, 4, 3))
    for mine, theirs in zip(sliced.levels[0].weights, layer.weights, strict=True):
        np.testing.assert_array_equal(to_numpy(mine), to_numpy(theirs))
    np.testing.assert_allclose(to_numpy(sliced.levels[0](x)), want, atol=1e-6)


def test_mixed_precision_returns_the_compute_dtype():
    """As Keras' layer harness builds it (the wrapper alone under
    mixed_float16, its layer as given), the output is float16, Keras' rule
    for a layer's output, and close to the float32 SlicedRNN's."""
    x = np.random.default_rng(0).normal(size=(2, 8, 3)).astype("float32")
    plain = kg.SlicedRNN(kg.MinimalGRU(3), slices=[2, 2])
    mixed = kg.SlicedRNN(kg.MinimalGRU(3), slices=[2, 2], dtype="mixed_float16")
    want = to_numpy(plain(x))
    mixed.build(x.shape)
    mixed.set_weights(plain.get_weights())
    got = mixed(x)
    assert keras.backend.standardize_dtype(got.dtype) == "float16"
    np.testing.assert_allclose(to_numpy(got).astype("float32"), want, atol=1e-2)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: kg.SlicedRNN(kg.MinGRU(4), (0, 2)), "slices"),
        (lambda: kg.SlicedRNN(kg.MinGRU(4), ()), "slices"),
        (lambda: kg.SlicedRNN(keras.layers.Dense(4), 2), "recurrent"),
        (
            lambda: kg.SlicedRNN(kg.MinGRU(4, return_sequences=True), 2),
            "return_sequences",
        ),
        (lambda: kg.SlicedRNN(kg.MinGRU(4, return_state=True), 2), "return_state"),
        (
            lambda: kg.SlicedRNN(kg.MinGRU(4), (2, 2), layers=[kg.MinGRU(4)]),
            "one layer",
        ),
        (
            lambda: kg.SlicedRNN(
                kg.MinGRU(4), 2, layers=[kg.MinGRU(4)], return_sequences=True
            ),
            "top level",
        ),
    ],
    ids=["zero", "empty", "dense", "sequences", "state", "count", "top"],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_length_that_does_not_divide():
    sliced = kg.SlicedRNN(kg.MinimalGRU(4), (2, 3))
    with pytest.raises(ValueError, match="multiple of 6.*pad=True"):
        sliced(np.zeros((1, 10, 3), "float32"))


@pytest.mark.parametrize("name", ["peephole", "bidirectional", "keras_lstm"])
def test_saves_and_loads(name, tmp_path):
    inputs = keras.Input((12, 3))
    sliced = kg.SlicedRNN(LAYERS[name](), (2, 3), return_sequences=True)
    model = keras.Model(inputs, keras.layers.Dense(1)(sliced(inputs)))
    for layer in sliced.levels:
        randomize(layer)
    path = os.path.join(tmp_path, "sliced.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(7).normal(size=(2, 12, 3)).astype("float32")
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)), atol=1e-6)
    config = loaded.layers[1].get_config()
    assert config["slices"] == [2, 3] and config["return_sequences"] is True


def test_trains_in_a_sequential_model():
    model = keras.Sequential(
        [
            keras.Input((16,), dtype="int32"),
            keras.layers.Embedding(20, 4, mask_zero=True),
            kg.SlicedRNN(kg.PeepholeLSTM(5), (4,)),
            keras.layers.Dense(1),
        ]
    )
    model.compile("adam", "mse")
    x = np.random.default_rng(8).integers(0, 20, (8, 16))
    history = model.fit(x, np.ones((8, 1)), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="export needs TensorFlow"
)
def test_exports_to_saved_model_and_tflite(tmp_path):
    """Behind Embedding(mask_zero) with pad=True: the TFLite file (builtin
    ops) and the SavedModel give the Keras outputs for padded rows of a
    length that needs padding."""
    import tensorflow as tf

    from keras_gates import export
    from keras_gates.export import litert

    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(20, 4, mask_zero=True)(tokens)
    x = kg.SlicedRNN(kg.PeepholeLSTM(5), (2, 3), pad=True)(x)
    model = keras.Model(tokens, keras.layers.Dense(1, name="scores")(x))
    for layer in model.layers:
        randomize(layer)
    rows = np.array(
        [
            [1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0],
            [0, 0, 5, 4, 3, 2, 1, 1, 1, 1, 2, 0, 3, 0],
        ],
        "int32",
    )
    want = to_numpy(model(rows))
    content = export.to_tflite(model, batch_size=2)
    got = litert.run_sequence_model(content, {"tokens": rows})["scores"]
    np.testing.assert_allclose(got, want, atol=ATOL)
    path = str(tmp_path / "saved")
    export.to_saved_model(model, path)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    got = serve(tokens=tf.constant(rows))["scores"].numpy()
    np.testing.assert_allclose(got, want, atol=ATOL)


# SlicedRNN ------------------------------------------------------------------


@pytest.mark.numerics
@pytest.mark.parametrize("pad", [False, True])
def test_sliced_rnn_returning_sequences_behind_a_mask_of_unknown_length(pad):
    tokens = keras.Input((None,), dtype="int32")
    embedding = keras.layers.Embedding(20, 4, mask_zero=True)
    sliced = kg.SlicedRNN(kg.SRU(3), (2, 2), return_sequences=True, pad=pad)
    top = kg.SRU(3, name="top")
    model = keras.Model(tokens, top(sliced(embedding(tokens))))
    randomize(model)
    steps = 7 if pad else 8
    batch = padded_token_rows(3, steps)
    batch[1, :6] = 0  # the first top-level group all padding
    got = to_numpy(model(batch))
    x = embedding(batch)
    summaries = sliced(x, mask=batch != 0)
    want = to_numpy(top(summaries, mask=sliced.compute_mask(x, batch != 0)))
    np.testing.assert_allclose(got, want, atol=1e-6)
    groups = to_numpy(sliced.compute_mask(x, batch != 0))
    length = -(-steps // 4) * 2  # padded steps per top-level group
    padded = np.pad(batch != 0, [(0, 0), (0, 2 * length - steps)])
    np.testing.assert_array_equal(groups, padded.reshape(3, 2, length).any(-1))


@tensorflow_only
@pytest.mark.parametrize(
    "make",
    [
        lambda h: keras.layers.GRU(4)(
            kg.SlicedRNN(kg.SRU(4), (2,), return_sequences=True)(h)
        ),
        lambda h: kg.SlicedRNN(keras.layers.GRU(4), (2, 2), pad=True)(h),
    ],
    ids=["sliced_sequences_then_keras_gru", "keras_gru_in_slices"],
)
def test_tflite_of_a_sliced_rnn_with_keras_loops(make):
    """Keras' own loop needs a static step shape in TFLite: the SlicedRNN's
    levels keep the exported batch (it was -1 there, a ConverterError)."""
    from keras_gates import export

    tokens = keras.Input((None,), dtype="int32", name="tokens")
    model = keras.Model(
        tokens, make(keras.layers.Embedding(20, 3, mask_zero=True)(tokens))
    )
    randomize(model)
    content = export.to_tflite(model, batch_size=3)
    batch = padded_token_rows(3, 8)
    (got,) = run_litert(content, {"tokens": batch}).values()
    np.testing.assert_allclose(got, to_numpy(model(batch)), atol=1e-5)


@pytest.mark.numerics
def test_sliced_rnn_argument_checks():
    assert kg.SlicedRNN(kg.SRU(3), np.int64(2)).slices == (2,)
    assert kg.SlicedRNN(kg.SRU(3), [np.int32(2), 2]).slices == (2, 2)
    with pytest.raises(ValueError, match="merge_mode=None"):
        kg.SlicedRNN(keras.layers.Bidirectional(kg.SRU(3), merge_mode=None), 2)
