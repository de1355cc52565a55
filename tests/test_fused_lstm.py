"""TFLite's fused UNIDIRECTIONAL_SEQUENCE_LSTM op for the LSTM family
(`keras_gates.export.to_tflite(fused=...)`): the op list read from the
interpreter, and the outputs against Keras."""

import logging

import keras
import numpy as np
import pytest

import keras_gates as kg
from tests.helpers import encoder_decoder
from tests.helpers import padded_token_rows
from tests.helpers import randomize
from tests.helpers import run_litert
from tests.helpers import to_numpy

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="TFLite export needs the TensorFlow backend",
    ),
]

if keras.backend.backend() == "tensorflow":
    from ai_edge_litert.interpreter import Interpreter

    from keras_gates import export

FUSED_OP = "UNIDIRECTIONAL_SEQUENCE_LSTM"
ATOL = 1e-5

# name: a function making the layer (5 units; inputs of 3 features)
LAYERS = {
    "keras_lstm": lambda: keras.layers.LSTM(5, return_sequences=True),
    "keras_lstm_last": lambda: keras.layers.LSTM(5, unit_forget_bias=False),
    "peephole_all": lambda: kg.PeepholeLSTM(5, return_sequences=True),
    "peephole_input": lambda: kg.PeepholeLSTM(5, peepholes="input"),
    "peephole_forget_output": lambda: kg.PeepholeLSTM(
        5, peepholes=["forget", "output"], return_sequences=True
    ),
    "peephole_none_no_bias": lambda: kg.PeepholeLSTM(5, peepholes=None, use_bias=False),
    "peephole_clip_projection": lambda: kg.PeepholeLSTM(
        5, cell_clip=0.6, projection_units=3, projection_clip=0.3, return_sequences=True
    ),
    "peephole_backwards": lambda: kg.PeepholeLSTM(
        5, go_backwards=True, return_sequences=True
    ),
    "coupled": lambda: kg.CoupledLSTM(5, return_sequences=True),
    "coupled_peepholes_clip_projection": lambda: kg.CoupledLSTM(
        5,
        peepholes=["input", "output"],
        cell_clip=0.5,
        projection_units=2,
        projection_clip=0.4,
    ),
    "coupled_output_peephole_backwards": lambda: kg.CoupledLSTM(
        5, peepholes="output", go_backwards=True
    ),
}


def model_with(*layers):
    signal = keras.Input((None, 3), name="signal")
    x = signal
    for layer in layers:
        x = layer(x)
    return randomized(keras.Model(signal, keras.layers.Dense(2, name="scores")(x)))


def randomized(model, scale=0.5):
    """`model` with random normal weights (seed 0)."""
    rng = np.random.default_rng(0)
    model.set_weights(
        [rng.normal(0, scale, w.shape).astype("float32") for w in model.get_weights()]
    )
    return model


def op_names(content):
    interpreter = Interpreter(model_content=content)
    return {op["op_name"] for op in interpreter._get_ops_details()}


def assert_matches_keras(model, content, batch):
    runner = Interpreter(model_content=content).get_signature_runner()
    rng = np.random.default_rng(1)
    for steps in (6, 13):  # one file, its time axis resized
        x = rng.normal(size=(batch, steps, 3)).astype("float32")
        got = runner(signal=x)["scores"]
        np.testing.assert_allclose(got, np.asarray(model(x)), atol=ATOL)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_fused_op_matches_keras(name):
    model = model_with(LAYERS[name]())
    content = export.to_tflite(model, batch_size=2, fused=True)
    ops = op_names(content)
    assert FUSED_OP in ops and "WHILE" not in ops, ops
    assert_matches_keras(model, content, batch=2)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul"])
def test_bidirectional_fuses_both_directions(merge_mode):
    model = model_with(
        keras.layers.Bidirectional(
            kg.PeepholeLSTM(5, return_sequences=True, projection_units=3),
            merge_mode=merge_mode,
        ),
        keras.layers.Bidirectional(
            kg.CoupledLSTM(4, peepholes="input"),
            backward_layer=keras.layers.LSTM(4, go_backwards=True),
            merge_mode=merge_mode,
        ),
    )
    content = export.to_tflite(model, fused=True)
    ops = Interpreter(model_content=content)._get_ops_details()
    assert [op["op_name"] for op in ops].count(FUSED_OP) == 4
    assert "WHILE" not in {op["op_name"] for op in ops}
    assert_matches_keras(model, content, batch=1)


def test_stacked_layers_fuse_each():
    model = model_with(
        kg.PeepholeLSTM(6, return_sequences=True),
        kg.CoupledLSTM(4, return_sequences=True, peepholes="input"),
        keras.layers.LSTM(5),
    )
    content = export.to_tflite(model)
    ops = Interpreter(model_content=content)._get_ops_details()
    assert [op["op_name"] for op in ops].count(FUSED_OP) == 3
    assert "WHILE" not in {op["op_name"] for op in ops}
    assert_matches_keras(model, content, batch=1)


def test_layers_of_identical_weights_each_get_their_own_op():
    """Each fused op is matched to its layer by identity (a number the export
    writes), not by its weights: two branches with the very same weights and
    different clips, in both orders, and two stacked copies."""
    signal = keras.Input((None, 3), name="signal")
    clipped = kg.PeepholeLSTM(3, cell_clip=0.05, return_sequences=True)
    plain = kg.PeepholeLSTM(3, return_sequences=True)
    stacked = kg.PeepholeLSTM(3, projection_units=3, projection_clip=0.02)
    branches = keras.layers.Concatenate()([plain(signal), clipped(signal)])
    x = keras.layers.Dense(3)(branches)
    outputs = keras.layers.Dense(2, name="scores")(stacked(x))
    model = randomized(keras.Model(signal, outputs))
    clipped.set_weights(plain.get_weights())
    content = export.to_tflite(model)
    assert [
        op["op_name"] for op in Interpreter(model_content=content)._get_ops_details()
    ].count(FUSED_OP) == 3
    assert_matches_keras(model, content, batch=1)
    # The same weights, the options swapped between the branches: a match by
    # weights could not tell the two ops apart.
    swapped = keras.Model(
        signal,
        keras.layers.Dense(2, name="scores")(
            keras.layers.Concatenate()([clipped(signal), plain(signal)])
        ),
    )
    randomized(swapped)
    clipped.set_weights(plain.get_weights())
    assert_matches_keras(swapped, export.to_tflite(swapped), batch=1)


def test_fused_false_keeps_the_loop():
    model = model_with(kg.PeepholeLSTM(5))
    ops = op_names(export.to_tflite(model, fused=False))
    assert "WHILE" in ops and FUSED_OP not in ops


def masked_model(*layers):
    """Embedding(mask_zero) -> the layers -> Dense, random weights."""
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(10, 3, mask_zero=True)(tokens)
    for layer in layers:
        x = layer(x)
    return randomized(keras.Model(tokens, keras.layers.Dense(2, name="scores")(x)))


def test_masks_fuse_with_any_padding():
    """Left, inner and right padding and a row of padding only, through a
    stack with `return_sequences`, `go_backwards` and Bidirectional: the
    compaction around the op gives Keras' masked outputs."""
    model = masked_model(
        kg.PeepholeLSTM(5, return_sequences=True, projection_units=4),
        keras.layers.Bidirectional(
            kg.CoupledLSTM(4, return_sequences=True, peepholes="input")
        ),
        keras.layers.LSTM(3, go_backwards=True),
    )
    content = export.to_tflite(model, batch_size=3, fused=True)
    ops = Interpreter(model_content=content)._get_ops_details()
    assert [op["op_name"] for op in ops].count(FUSED_OP) == 4
    assert "WHILE" not in {op["op_name"] for op in ops}
    runner = Interpreter(model_content=content).get_signature_runner()
    for tokens in (
        [[0, 0, 3, 4, 5, 6, 7], [1, 2, 0, 3, 0, 4, 0], [5, 6, 7, 8, 0, 0, 0]],
        [[0, 0, 0], [1, 2, 0], [5, 9, 9]],
    ):
        tokens = np.array(tokens, "int32")
        got = runner(tokens=tokens)["scores"]
        np.testing.assert_allclose(got, np.asarray(model(tokens)), atol=ATOL)


def return_state_model():
    signal = keras.Input((None, 3), name="signal")
    outputs, h, _ = keras.layers.LSTM(5, return_state=True)(signal)
    return keras.Model(signal, keras.layers.Dense(2)(outputs + h))


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda: model_with(kg.PeepholeLSTM(5, layer_norm=True)), "layer_norm"),
        (lambda: model_with(kg.CoupledLSTM(5, activation="relu")), "activation"),
        (
            lambda: model_with(
                keras.layers.LSTM(5, recurrent_activation="hard_sigmoid")
            ),
            "recurrent_activation",
        ),
        (
            lambda: model_with(
                keras.layers.Bidirectional(kg.PeepholeLSTM(5, layer_norm=True))
            ),
            "layer_norm",
        ),
        (lambda: return_state_model(), "return_state"),
    ],
    ids=[
        "layer_norm",
        "relu",
        "hard_sigmoid",
        "bidirectional_layer_norm",
        "return_state",
    ],
)
def test_what_the_op_cannot_express_falls_back_or_raises(make, reason, caplog):
    model = make()
    with pytest.raises(ValueError, match=f"fused=True.*{reason}"):
        export.to_tflite(model, fused=True)
    with caplog.at_level(logging.INFO, logger="keras_gates.export"):
        content = export.to_tflite(model)  # "auto"
    assert "WHILE" in op_names(content)
    assert reason in caplog.text


def test_greff_variants_fuse_where_the_op_expresses_them():
    """The op has no gate held at 1, one activation for the block input and
    the cell output, and no gate-to-gate recurrence: those variants keep
    the loop (tests/test_export.py checks their numbers), the reason named."""
    from keras_gates.export.fused_lstm import ineligible
    from tests.test_variants import VARIANTS

    expected = {
        "vanilla": None,
        "NP": None,
        "NIG": "input_gate=False",
        "NFG": "forget_gate=False",
        "NOG": "output_gate=False",
        "NIAF": "input_activation 'linear'",
        "NOAF": "output_activation 'linear'",
        "FGR": "full_gate_recurrence",
    }
    for name, kwargs in VARIANTS.items():
        layer = kg.PeepholeLSTM(5, **kwargs)
        model_with(layer)
        reason = ineligible(layer)
        if expected[name] is None:
            assert reason is None, name
        else:
            assert reason.startswith(expected[name]), (name, reason)
    model = model_with(kg.PeepholeLSTM(5, output_gate=False))
    with pytest.raises(ValueError, match="fused=True.*output_gate=False"):
        export.to_tflite(model, fused=True)


def test_bad_fused_arguments():
    model = model_with(kg.PeepholeLSTM(5))
    with pytest.raises(ValueError, match="fused"):
        export.to_tflite(model, fused="yes")
    with pytest.raises(ValueError, match="streaming"):
        export.to_tflite(model, streaming=True, fused=True)


def test_each_invocation_starts_from_zero_states():
    """The op writes its final states into its state tensors: the export
    zeroes them before it runs, so a second invocation with the same input
    gives the same output (and a following layer whose zero initial state
    has the same shape is not handed the LSTM's final states)."""
    model = model_with(keras.layers.LSTM(8, return_sequences=True), keras.layers.GRU(8))
    content = export.to_tflite(model)
    assert FUSED_OP in op_names(content)
    runner = Interpreter(model_content=content).get_signature_runner()
    x = np.random.default_rng(2).normal(size=(1, 7, 3)).astype("float32")
    first = runner(signal=x)["scores"]
    second = runner(signal=x)["scores"]
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, np.asarray(model(x)), atol=ATOL)


@pytest.mark.parametrize(
    "make",
    [
        lambda: kg.PeepholeLSTM(16, cell_clip=3.0),
        lambda: kg.CoupledLSTM(16, peepholes=["input", "output"]),
        lambda: keras.layers.LSTM(16),
    ],
    ids=["peephole", "coupled", "keras_lstm"],
)
def test_whole_sequence_int8_runs_on_the_fused_op(make):
    """Full-integer int8 (8-bit activations, 16-bit cell state) through the
    fused op, calibrated on 300 sequences (on 30, a keras LSTM had one input
    in 60 off by 0.43, outside the ranges seen): close to Keras on random
    weights, and every invocation starts from zero states."""
    signal = keras.Input((None, 4), name="signal")
    model = keras.Model(signal, keras.layers.Dense(1, name="scores")(make()(signal)))
    randomized(model, 0.4)
    rng = np.random.default_rng(1)
    samples = [rng.normal(size=(1, 20, 4)).astype("float32") for _ in range(300)]
    content = export.to_tflite(model, quantization="int8", representative_data=samples)
    interpreter = Interpreter(model_content=content)
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert FUSED_OP in ops and "WHILE" not in ops
    types = {t["dtype"].__name__ for t in interpreter.get_tensor_details()}
    assert {"int8", "int16"} <= types
    runner = interpreter.get_signature_runner()
    xs = rng.normal(size=(40, 1, 20, 4)).astype("float32")
    outputs = [runner(signal=x)["scores"] for x in xs]
    for x, got in zip(xs, outputs, strict=True):
        np.testing.assert_allclose(got, np.asarray(model(x)), atol=0.1)
    np.testing.assert_array_equal(runner(signal=xs[0])["scores"], outputs[0])


def test_whole_sequence_int8_refuses_other_loops():
    signal = keras.Input((None, 4), name="signal")
    x = kg.PeepholeLSTM(4, return_sequences=True)(signal)
    model = keras.Model(signal, keras.layers.GRU(3)(x))
    samples = [np.random.default_rng(0).normal(size=(1, 5, 4)).astype("float32")]
    with pytest.raises(ValueError, match="another layer"):
        export.to_tflite(model, quantization="int8", representative_data=samples)


def test_whole_sequence_int8_with_a_mask():
    """An Embedding(mask_zero) model with left-padded token rows, as the
    IMDB example feeds: int8 through the op and the mask's compaction."""
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(50, 8, mask_zero=True)(tokens)
    x = kg.CoupledLSTM(16, peepholes="output")(x)
    model = keras.Model(tokens, keras.layers.Dense(1, name="scores")(x))
    randomized(model, 0.4)
    rng = np.random.default_rng(1)

    def padded():
        row = np.zeros((1, 20), "int32")
        n = rng.integers(3, 20)
        row[0, -n:] = rng.integers(1, 50, n)
        return row

    samples = [padded() for _ in range(300)]
    content = export.to_tflite(model, quantization="int8", representative_data=samples)
    interpreter = Interpreter(model_content=content)
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert FUSED_OP in ops and "WHILE" not in ops
    runner = interpreter.get_signature_runner()
    for _ in range(40):
        row = padded()
        got = runner(tokens=row)["scores"]
        np.testing.assert_allclose(got, np.asarray(model(row)), atol=0.1)


@pytest.mark.parametrize(
    "quantization, atol", [("float16", 1e-2), ("dynamic_int8", 0.1)]
)
@pytest.mark.parametrize(
    "make",
    [
        lambda: kg.PeepholeLSTM(64, projection_units=16, cell_clip=2.0),
        lambda: kg.CoupledLSTM(64, peepholes=["input", "output"]),
        lambda: keras.layers.LSTM(64),
        lambda: kg.CoupledLSTM(5, peepholes="output"),  # too small to quantize
    ],
    ids=["peephole_projection", "coupled", "keras_lstm", "small"],
)
def test_float16_and_dynamic_int8_run_on_the_fused_op(make, quantization, atol):
    """The op's weights as the converter quantizes them (float16 behind
    DEQUANTIZE; int8 with a scale, the op's hybrid kernel) and the added
    peepholes and projection stored the same way."""
    signal = keras.Input((None, 32), name="signal")
    model = keras.Model(signal, keras.layers.Dense(2, name="scores")(make()(signal)))
    randomized(model, 0.2)
    rng = np.random.default_rng(1)
    content = export.to_tflite(model, quantization=quantization, fused=True)
    interpreter = Interpreter(model_content=content)
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert FUSED_OP in ops and "WHILE" not in ops
    float32 = export.to_tflite(model)
    if model.layers[1].units == 64:
        assert len(content) < 0.6 * len(float32)
        kinds = {t["dtype"].__name__ for t in interpreter.get_tensor_details()}
        assert ("float16" if quantization == "float16" else "int8") in kinds
    runner = interpreter.get_signature_runner()
    for steps in (7, 30):
        x = rng.normal(size=(1, steps, 32)).astype("float32")
        got = runner(signal=x)["scores"]
        np.testing.assert_allclose(got, np.asarray(model(x)), atol=atol)


def test_whole_sequence_int8_of_a_trained_memory():
    """A layer trained to keep the sign of the first step over noise (long
    memory, chrono initialization): the int8 model must be calibrated on
    calls that each start from zero states, as it runs, or the ranges it
    learns are those of states carried from one sample into the next."""
    rng = np.random.default_rng(0)

    def data(n):
        y = rng.integers(0, 2, n)
        x = np.zeros((n, 8, 2), "float32")
        x[:, :, 0] = rng.normal(size=(n, 8))
        x[:, 0, 0] = 2.0 * y - 1.0
        x[:, 0, 1] = 1.0
        return x, y.astype("float32")

    keras.utils.set_random_seed(0)
    signal = keras.Input((None, 2), name="signal")
    layer = kg.CoupledLSTM(16, chrono_init=8)
    model = keras.Model(
        signal, keras.layers.Dense(1, activation="sigmoid", name="p")(layer(signal))
    )
    model.compile(keras.optimizers.Adam(1e-2), "binary_crossentropy")
    x, y = data(1000)
    model.fit(x, y, epochs=10, batch_size=50, verbose=0)
    x_test, y_test = data(200)
    want = np.asarray(model(x_test))[:, 0]
    assert ((want > 0.5) == y_test).mean() > 0.95
    samples = [x[i : i + 1] for i in range(30)]
    content = export.to_tflite(model, quantization="int8", representative_data=samples)
    runner = Interpreter(model_content=content).get_signature_runner()
    got = np.array([runner(signal=x_test[i : i + 1])["p"][0, 0] for i in range(200)])
    assert ((got > 0.5) == (want > 0.5)).mean() > 0.97
    np.testing.assert_allclose(got, want, atol=0.1)


def test_dynamic_int8_quantizes_an_op_with_narrow_inputs():
    """The converter leaves an LSTM op's weights in float32 when its input
    weights are small (2 inputs x 64 units); the export quantizes its gate
    matrices itself (the recurrent ones have 4096 elements each), as the
    WHILE loop's dynamic-int8 model would."""
    signal = keras.Input((None, 2), name="signal")
    model = keras.Model(
        signal, keras.layers.Dense(1, name="p")(kg.PeepholeLSTM(64)(signal))
    )
    randomized(model, 0.2)
    rng = np.random.default_rng(1)
    content = export.to_tflite(model, quantization="dynamic_int8")
    assert len(content) < 0.5 * len(export.to_tflite(model))
    interpreter = Interpreter(model_content=content)
    assert FUSED_OP in {op["op_name"] for op in interpreter._get_ops_details()}
    runner = interpreter.get_signature_runner()
    x = rng.normal(size=(1, 20, 2)).astype("float32")
    np.testing.assert_allclose(runner(signal=x)["p"], np.asarray(model(x)), atol=0.05)


# TFLite honours zero_output_for_mask ----------------------------------------


def masked_text_model(make_recurrent):
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(20, 6, mask_zero=True)(tokens)
    x = make_recurrent()(x)
    scores = keras.layers.Dense(2, name="scores")(x)
    model = keras.Model(tokens, scores)
    randomize(model)
    return model


@pytest.mark.parametrize(
    "make_recurrent",
    [
        # Bidirectional switches zero_output_for_mask on when it returns
        # sequences, merge_mode=None included.
        lambda: keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True)),
        lambda: keras.layers.Bidirectional(
            kg.PeepholeLSTM(4, return_sequences=True), merge_mode="sum"
        ),
        lambda: kg.CoupledLSTM(
            4, return_sequences=True, zero_output_for_mask=True, go_backwards=True
        ),
        # The last output too is zero when the last step is padding.
        lambda: kg.PeepholeLSTM(4, zero_output_for_mask=True),
    ],
    ids=["bidirectional_keras_lstm", "bidirectional_peephole_sum", "coupled", "last"],
)
def test_fused_tflite_outputs_zeros_at_padding_as_keras(make_recurrent):
    from keras_gates import export

    model = masked_text_model(make_recurrent)
    content = export.to_tflite(model, batch_size=3)  # fused="auto"
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in export.op_names(content)
    tokens = padded_token_rows(3, 9)
    want = to_numpy(model(tokens))
    got = run_litert(content, {"tokens": tokens})["scores"]
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_cli_parity_feeds_padding_and_catches_a_masking_mistake(
    tmp_path, monkeypatch, capsys
):
    """The CLI's parity inputs hold padding when the model masks, so an
    export that gets padded steps wrong fails its check (exit 1)."""
    from keras_gates import cli
    from keras_gates.export import fused_lstm

    model = masked_text_model(
        lambda: keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))
    )
    model.save(tmp_path / "text.keras")
    command = ["export", str(tmp_path / "text.keras"), "--tflite"]
    assert cli.main([*command, str(tmp_path / "a.tflite")]) == 0
    out = capsys.readouterr().out
    for padding in ("right", "left", "inner"):  # batch 1: each in turn
        assert f"padded ({padding})" in out, out

    # The mistake of item 1, put back: padded steps repeat the last output.
    run_fused = fused_lstm._run_fused

    def ignoring_zero_output(layer, *args, **kwargs):
        kept, layer.zero_output_for_mask = layer.zero_output_for_mask, False
        try:
            return run_fused(layer, *args, **kwargs)
        finally:
            layer.zero_output_for_mask = kept

    monkeypatch.setattr(fused_lstm, "_run_fused", ignoring_zero_output)
    assert cli.main([*command, str(tmp_path / "b.tflite")]) == 1
    assert "FAILED" in capsys.readouterr().out


# fused="auto" with initial_state; fused=True never loops --------------------


def test_tflite_of_an_lstm_called_with_initial_state(caplog):
    from keras_gates import export

    units = 4
    model = encoder_decoder(units, lambda: kg.PeepholeLSTM(units, name="decoder"))
    rng = np.random.default_rng(2)
    tokens = padded_token_rows(1, 7)
    h0, c0 = (rng.normal(size=(1, units)).astype("float32") for _ in range(2))
    with caplog.at_level("INFO", logger="keras_gates.export"):
        content = export.to_tflite(model)
    assert "initial_state" in caplog.text
    names = export.exporters.input_names(model)
    got = run_litert(content, dict(zip(names, [tokens, h0, c0], strict=True)))
    np.testing.assert_allclose(
        got["decoder"], to_numpy(model([tokens, h0, c0])), atol=1e-5
    )
    with pytest.raises(ValueError, match="initial_state"):
        export.to_tflite(model, fused=True)


def test_fused_true_raises_for_a_model_that_keeps_a_loop():
    from keras_gates import export

    model = keras.Sequential(
        [
            keras.Input((None, 3)),
            kg.PeepholeLSTM(4, return_sequences=True),
            kg.MinGRU(4, name="min_gru", return_sequences=True),
            kg.MinimalGRU(4, name="minimal_gru"),
        ]
    )
    with pytest.raises(ValueError, match="'min_gru', 'minimal_gru'"):
        export.to_tflite(model, fused=True)
    assert "WHILE" in export.op_names(export.to_tflite(model))  # "auto" loops


# Whole-sequence int8 with a Masking layer -----------------------------------


def test_whole_sequence_int8_with_a_masking_layer_loads_and_matches():
    from keras_gates import export

    model = keras.Sequential(
        [
            keras.Input((None, 3), name="x"),
            keras.layers.Masking(0.0),
            kg.PeepholeLSTM(8),
            keras.layers.Dense(1, name="score"),
        ]
    )
    randomize(model)
    rng = np.random.default_rng(0)

    def sample(seed_row):
        x = rng.normal(size=(1, 10, 3)).astype("float32")
        x[:, 10 - seed_row % 4 :] = 0.0  # 0 to 3 padded steps
        return x

    content = export.to_tflite(
        model,
        quantization="int8",
        representative_data=[sample(i) for i in range(300)],
    )
    errors = []
    for i in range(40):
        x = sample(i)
        errors.append(abs(run_litert(content, {"x": x})["score"] - to_numpy(model(x))))
    assert np.max(errors) < 0.1, np.max(errors)
