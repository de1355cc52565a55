"""keras_gates.export and the `keras-gates export` command: every exported
model's numbers against the Keras model. TensorFlow backend only."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_gates as kg

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="keras_gates.export writes TensorFlow graphs",
)
if keras.backend.backend() == "tensorflow":
    from ai_edge_litert.interpreter import Interpreter

    from keras_gates import export

LAYERS = {
    "PeepholeLSTM": kg.PeepholeLSTM,
    "CoupledLSTM": kg.CoupledLSTM,
    "MinimalGRU": kg.MinimalGRU,
    "SRU": kg.SRU,
    "MinGRU": kg.MinGRU,
}
VOCABULARY, UNITS = 20, 8
ATOL = 1e-5


def token_model(name, units=UNITS, **layer_kwargs):
    """Embedding(mask_zero) -> two stacked layers -> Dense: padded token ids."""
    cls = LAYERS[name]
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(VOCABULARY, 6, mask_zero=True)(tokens)
    x = cls(units, return_sequences=True, **layer_kwargs)(x)
    x = cls(units, **layer_kwargs)(x)
    scores = keras.layers.Dense(3, name="scores")(x)
    model = keras.Model(tokens, scores)
    randomize(model)
    return model


def conv_model(name):
    """Conv1D and pooling before the layer, a Keras LSTM and GRU beside it."""
    signal = keras.Input((None, 5), name="signal")
    x = keras.layers.Conv1D(8, 3, padding="causal", activation="relu")(signal)
    x = keras.layers.MaxPooling1D(2)(x)
    x = LAYERS[name](UNITS, return_sequences=True)(x)
    x = keras.layers.LSTM(UNITS, return_sequences=True)(x)
    x = keras.layers.GRU(UNITS)(x)
    forecast = keras.layers.Dense(1, name="forecast")(x)
    model = keras.Model(signal, forecast)
    randomize(model)
    return model


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights(
        [
            rng.normal(scale=0.4, size=w.shape).astype(w.dtype)
            for w in model.get_weights()
        ]
    )


def padded_tokens(batch, steps, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCABULARY, (batch, steps)).astype("int32")
    x[0, -2:] = 0  # right padding
    if batch > 1:
        x[1, :3] = 0  # left padding
    return x


def signal(batch, steps, seed=2):
    return np.random.default_rng(seed).normal(size=(batch, steps, 5)).astype("float32")


def keras_output(model, x):
    return np.asarray(model(x, training=False))


def assert_builtins_only(content):
    # Flex (select TensorFlow) ops are custom ops named "Flex<op>".
    assert b"Flex" not in content


# ---------------------------------------------------------------- SavedModel

SERVE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    # TF Serving has neither: make importing them fail.
    sys.modules["keras"] = sys.modules["keras_gates"] = None
    import numpy as np
    import tensorflow as tf

    jobs = json.load(open(sys.argv[1]))
    for job in jobs:
        serving = tf.saved_model.load(job["dir"]).signatures["serving_default"]
        inputs = dict(np.load(job["inputs"]))
        result = serving(**{k: tf.constant(v) for k, v in inputs.items()})
        np.savez(job["outputs"], **{k: v.numpy() for k, v in result.items()})
    print(json.dumps({
        "blocked": [sys.modules[m] is None for m in ("keras", "keras_gates")],
        "tf_keras": "tf_keras" in sys.modules,
    }))
    """
)


def test_saved_model_serves_without_keras_gates(tmp_path):
    """Every layer, token and Conv1D models, two batch sizes and two lengths,
    served by a process that imports TensorFlow only."""
    jobs, expected = [], {}
    models = {f"tokens_{n}": token_model(n) for n in LAYERS}
    models.update({f"conv_{n}": conv_model(n) for n in LAYERS})
    for key, model in models.items():
        export_dir = tmp_path / key
        assert export.to_saved_model(model, str(export_dir)) == str(export_dir)
        for batch, steps in ((1, 5), (3, 11)):
            name = "tokens" if key.startswith("tokens") else "signal"
            x = (
                padded_tokens(batch, steps)
                if name == "tokens"
                else signal(batch, steps)
            )
            job = f"{key}_{batch}_{steps}"
            np.savez(tmp_path / f"{job}_in.npz", **{name: x})
            jobs.append(
                {
                    "dir": str(export_dir),
                    "inputs": str(tmp_path / f"{job}_in.npz"),
                    "outputs": str(tmp_path / f"{job}_out.npz"),
                }
            )
            out_name = "scores" if name == "tokens" else "forecast"
            expected[job] = (out_name, keras_output(model, x))
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    (tmp_path / "serve.py").write_text(SERVE_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(tmp_path / "serve.py"), str(tmp_path / "jobs.json")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"blocked": [True, True], "tf_keras": False}
    for job, (out_name, want) in expected.items():
        got = np.load(tmp_path / f"{job}_out.npz")
        assert list(got) == [out_name], job
        np.testing.assert_allclose(got[out_name], want, atol=ATOL, err_msg=job)


def test_saved_model_cli_show_and_run(tmp_path):
    model = token_model("SRU")
    export.to_saved_model(model, str(tmp_path / "sm"))
    cli = [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    shown = subprocess.run(
        [*cli, "show", "--dir", str(tmp_path / "sm"), "--all"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "inputs['tokens']" in shown.stdout and "outputs['scores']" in shown.stdout
    assert "shape: (-1, -1)" in shown.stdout  # dynamic batch and time
    x = padded_tokens(2, 6)
    np.save(tmp_path / "x.npy", x)
    ran = subprocess.run(
        [
            *cli,
            "run",
            "--dir",
            str(tmp_path / "sm"),
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
            "--inputs",
            f"tokens={tmp_path / 'x.npy'}",
            "--outdir",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    got = np.load(tmp_path / "out" / "scores.npy")
    np.testing.assert_allclose(got, keras_output(model, x), atol=ATOL)


def test_saved_model_with_two_inputs_and_two_outputs(tmp_path):
    """Keys are the Input and output layer names; a feature vector input keeps
    its shape while the token sequence gets dynamic batch and time."""
    import tensorflow as tf

    tokens = keras.Input((12,), dtype="int32", name="tokens")
    meta = keras.Input((3,), name="meta")
    x = keras.layers.Embedding(VOCABULARY, 6, mask_zero=True)(tokens)
    x = keras.layers.Concatenate()([kg.SRU(UNITS)(x), meta])
    model = keras.Model(
        [tokens, meta],
        [
            keras.layers.Dense(2, name="label")(x),
            keras.layers.Dense(1, name="score")(x),
        ],
    )
    randomize(model)
    export.to_saved_model(model, str(tmp_path / "sm"))
    serving = tf.saved_model.load(str(tmp_path / "sm")).signatures["serving_default"]
    specs = serving.structured_input_signature[1]
    assert specs["tokens"].shape.as_list() == [None, None]
    assert specs["meta"].shape.as_list() == [None, 3]
    x = padded_tokens(2, 12)
    m = signal(2, 1)[:, 0, :3]
    got = serving(tokens=tf.constant(x), meta=tf.constant(m))
    want = model([x, m], training=False)
    assert sorted(got) == ["label", "score"]
    np.testing.assert_allclose(got["label"], want[0], atol=ATOL)
    np.testing.assert_allclose(got["score"], want[1], atol=ATOL)


# -------------------------------------------------------------------- TFLite


def run_tflite(content, inputs, signature="serving_default"):
    return Interpreter(model_content=content).get_signature_runner(signature)(**inputs)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_tflite_builtins_match_keras_at_two_lengths(name):
    for model, input_name, make in (
        (token_model(name), "tokens", padded_tokens),
        (conv_model(name), "signal", signal),
    ):
        content = export.to_tflite(model)
        assert_builtins_only(content)
        for steps in (6, 13):  # one model, its time axis resized
            x = make(1, steps)
            got = run_tflite(content, {input_name: x})
            (out,) = got.values()
            np.testing.assert_allclose(out, keras_output(model, x), atol=ATOL)


def test_tflite_fixed_batch_and_scan_fast_path():
    """A batch of 3, and the MinGRU and SRU (v = 0) scans: builtins too."""
    for layer_kwargs, name in (
        ({"fast_path": True}, "MinGRU"),
        ({"fast_path": True, "recurrent_gates": False}, "SRU"),
    ):
        model = token_model(name, **layer_kwargs)
        content = export.to_tflite(model, batch_size=3)
        assert_builtins_only(content)
        for steps in (1, 9):
            x = padded_tokens(3, steps)
            got = run_tflite(content, {"tokens": x})["scores"]
            np.testing.assert_allclose(got, keras_output(model, x), atol=ATOL)


def stream(content, x, num_states, batch=1, units=UNITS):
    runner = Interpreter(model_content=content).get_signature_runner("step")
    states = {
        f"state_{i}": np.zeros((batch, units), "float32") for i in range(num_states)
    }
    outputs = []
    for t in range(x.shape[1]):
        result = runner(inputs=x[:, t], **states)
        assert sorted(result) == sorted(["outputs", *states])
        states = {key: result[key] for key in states}
        outputs.append(result["outputs"])
    return outputs


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_streaming_step_model_matches_prefixes(name):
    model = token_model(name)
    content = export.to_tflite(model, streaming=True, batch_size=2)
    assert_builtins_only(content)
    _, specs = export.step_function(model)
    num_states = len(specs) - 1
    cell_states = 4 if "LSTM" in name else 2
    # The SRU behind a mask also carries its last output.
    assert num_states == cell_states + (2 if name == "SRU" else 0)
    x = padded_tokens(2, 9)
    x[0, 4] = 0  # a gap
    for t, got in enumerate(stream(content, x, num_states, batch=2)):
        want = keras_output(model, x[:, : t + 1])
        np.testing.assert_allclose(got, want, atol=ATOL, err_msg=f"step {t}")


def test_streaming_sequence_output_and_keras_lstm():
    """A model returning sequences streams its last step; Keras' LSTM/GRU too."""
    inputs = keras.Input((None, 4), name="frames")
    x = keras.layers.Masking(0.0)(inputs)
    x = kg.CoupledLSTM(UNITS, return_sequences=True)(x)
    x = keras.layers.LSTM(UNITS, return_sequences=True)(x)
    x = keras.layers.GRU(UNITS, return_sequences=True)(x)
    x = keras.layers.Dense(2, name="frame_scores")(x)
    model = keras.Model(inputs, x)
    randomize(model)
    content = export.to_tflite(model, streaming=True)
    x = signal(1, 7)[..., :4]
    x[0, 3] = 0.0  # masked step
    for t, got in enumerate(stream(content, x, 2 + 2 + 1)):
        want = keras_output(model, x[:, : t + 1])[:, -1]
        np.testing.assert_allclose(got, want, atol=ATOL, err_msg=f"step {t}")


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda i: keras.layers.Bidirectional(kg.MinGRU(UNITS))(i),
            "Bidirectional layer also reads",
        ),
        (lambda i: kg.SRU(UNITS, go_backwards=True)(i), "go_backwards=True"),
        (
            lambda i: kg.MinGRU(UNITS)(keras.layers.Conv1D(4, 3)(i)),
            "Layers that mix time steps",
        ),
        (lambda i: keras.layers.Dense(3)(i), "no recurrent layer"),
    ],
)
def test_streaming_refuses_what_it_cannot_stream(make, message):
    inputs = keras.Input((None, 4))
    model = keras.Model(inputs, make(inputs))
    with pytest.raises(ValueError, match=message):
        export.to_tflite(model, streaming=True)


def test_quantized_variants_convert_and_stay_close():
    # Large enough for the converter to quantize its weights (it leaves
    # tensors under 1024 elements in float32).
    units = 64
    model = token_model("PeepholeLSTM", units=units)
    x = padded_tokens(1, 10)
    want = keras_output(model, x)
    full = export.to_tflite(model)
    for quantization, atol in (("float16", 1e-2), ("dynamic_int8", 1e-1)):
        content = export.to_tflite(model, quantization=quantization)
        assert_builtins_only(content)
        got = run_tflite(content, {"tokens": x})["scores"]
        np.testing.assert_allclose(got, want, atol=atol)
        assert 0 < len(content) < len(full)
    # int8 activations: the streaming model (no loop), calibrated on steps.
    _, specs = export.step_function(model)
    rng = np.random.default_rng(0)
    samples = [
        [rng.integers(1, VOCABULARY, (1,)).astype("int32")]
        + [rng.normal(scale=0.5, size=(1, units)).astype("float32") for _ in specs[1:]]
        for _ in range(20)
    ]
    content = export.to_tflite(
        model, streaming=True, quantization="int8", representative_data=samples
    )
    got = stream(content, x, len(specs) - 1, units=units)[-1]
    np.testing.assert_allclose(got, want, atol=0.1)


def test_bad_arguments_are_refused():
    model = token_model("MinGRU")
    with pytest.raises(ValueError, match="batch_size"):
        export.to_tflite(model, batch_size=0)
    with pytest.raises(ValueError, match="quantization"):
        export.to_tflite(model, quantization="int4")
    with pytest.raises(ValueError, match="representative_data"):
        export.to_tflite(model, streaming=True, quantization="int8")
    with pytest.raises(ValueError, match="streaming models only"):
        export.to_tflite(model, quantization="int8", representative_data=[])
    with pytest.raises(TypeError, match="keras.Model"):
        export.to_saved_model(kg.MinGRU(3), "unused")


# ---------------------------------------------------------------------- ONNX


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_onnx_matches_keras(name, tmp_path):
    import onnxruntime

    model = token_model(name)
    path = export.to_onnx(model, tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(path))
    assert [i.name for i in session.get_inputs()] == ["tokens"]
    assert [o.name for o in session.get_outputs()] == ["scores"]
    for batch, steps in ((1, 5), (3, 11)):
        x = padded_tokens(batch, steps)
        (got,) = session.run(["scores"], {"tokens": x})
        np.testing.assert_allclose(got, keras_output(model, x), atol=ATOL)


# ----------------------------------------------------------------------- CLI


def test_export_command(tmp_path, capsys):
    from keras_gates import cli

    model = token_model("CoupledLSTM")
    model.save(tmp_path / "model.keras")
    status = cli.main(
        [
            "export",
            str(tmp_path / "model.keras"),
            "--saved-model",
            str(tmp_path / "sm"),
            "--tflite",
            str(tmp_path / "model.tflite"),
        ]
    )
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert (tmp_path / "sm" / "saved_model.pb").exists()
    assert (tmp_path / "model.tflite").stat().st_size > 0
    assert printed.count(" ok") == 4 and "FAILED" not in printed
    status = cli.main(
        [
            "export",
            str(tmp_path / "model.keras"),
            "--tflite",
            str(tmp_path / "step.tflite"),
            "--streaming",
            "--quantize",
            "float16",
        ]
    )
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "streaming step model" in printed and printed.count(" ok") == 2
    with pytest.raises(SystemExit):
        cli.main(["export", str(tmp_path / "model.keras")])
