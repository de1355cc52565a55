"""`.keras` files load in a fresh process that only imports keras_gates, with
`safe_mode=True`; a damaged file gives a clear error."""

import io
import os
import subprocess
import sys
import textwrap
import zipfile

import keras
import numpy as np
import pytest

import keras_gates as kg
from tests.helpers import randomize

LOAD_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import keras
    import keras_gates  # registers the classes; nothing else is needed

    x = np.load(sys.argv[1])
    for path in sys.argv[2:]:
        model = keras.saving.load_model(path, safe_mode=True)
        np.save(path + ".out.npy", model.predict(x, verbose=0))
    """
)


def build_model(layer, vocab=20, steps=9):
    model = keras.Sequential(
        [
            keras.Input((steps,), dtype="int32"),
            keras.layers.Embedding(vocab, 6, mask_zero=True),
            keras.layers.Bidirectional(layer),
            keras.layers.Dense(3),
        ]
    )
    randomize(model, seed=4)
    return model


@pytest.mark.slow
def test_bidirectional_models_reload_in_fresh_process(tmp_path):
    """Each layer in a Bidirectional model, saved here and loaded by one
    fresh process that imports keras_gates only: the same outputs."""
    layers = [
        kg.PeepholeLSTM(5, peepholes=["input", "output"], cell_clip=3.0),
        kg.CoupledLSTM(5, peepholes="input", dropout=0.1, seed=2),
        kg.MinimalGRU(5, reset=False),
        kg.SRU(5, activation="tanh"),
        kg.MinGRU(5, fast_path=True),
        kg.SLSTM(6, num_heads=3),
        kg.MLSTM(6, num_heads=3, key_units=3, form="chunkwise", chunk_size=4),
    ]
    x = np.random.default_rng(0).integers(1, 20, size=(4, 9))
    x[1, 6:] = 0  # right padding
    x[2, :3] = 0  # left padding
    np.save(tmp_path / "x.npy", x)
    wanted = {}
    for layer in layers:
        model = build_model(layer)
        path = str(tmp_path / f"{type(layer).__name__}.keras")
        model.save(path)
        wanted[path] = model.predict(x, verbose=0)
    script = tmp_path / "load.py"
    script.write_text(LOAD_SCRIPT)
    subprocess.run(
        [sys.executable, str(script), str(tmp_path / "x.npy"), *wanted],
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        timeout=300,
    )
    for path, want in wanted.items():
        np.testing.assert_array_equal(np.load(path + ".out.npy"), want, err_msg=path)


def test_reloaded_layer_keeps_its_configuration(tmp_path):
    layer = kg.PeepholeLSTM(
        3, peepholes="forget", cell_clip=1.5, unit_forget_bias=False, go_backwards=True
    )
    model = keras.Sequential([keras.Input((4, 2)), layer])
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras").layers[0]
    assert isinstance(reloaded, kg.PeepholeLSTM)
    assert reloaded.peepholes == ("forget",)
    assert reloaded.cell_clip == 1.5
    assert reloaded.unit_forget_bias is False
    assert reloaded.go_backwards is True
    assert reloaded.cell.input_peephole is None


def every_class_model():
    """A model with every public layer, and every cell in keras.layers.RNN."""
    inputs = keras.Input((6, 3))
    branches = [
        layer(inputs)
        for layer in (
            kg.PeepholeLSTM(4),
            kg.CoupledLSTM(4, peepholes="input"),
            kg.MinimalGRU(4),
            kg.SRU(4),
            kg.MinGRU(4),
            keras.layers.RNN(kg.PeepholeLSTMCell(4)),
            keras.layers.RNN(kg.CoupledLSTMCell(4)),
            keras.layers.RNN(kg.MinimalGRUCell(4)),
            keras.layers.RNN(kg.SRUCell(4)),
            keras.layers.RNN(kg.MinGRUCell(4)),
            kg.MinLSTM(4),
            kg.SLSTM(4, num_heads=2),
            keras.layers.RNN(kg.SLSTMCell(4, num_heads=2)),
            kg.MLSTM(4, num_heads=2, forget_bias_range=None),
            keras.layers.RNN(kg.MLSTMCell(4, num_heads=2)),
        )
    ]
    block = kg.blocks.SLSTMBlock(3, residual=True, feedforward_units=8)
    branches.append(keras.layers.GlobalAveragePooling1D()(block(inputs)))
    model = keras.Model(inputs, keras.layers.Concatenate()(branches))
    randomize(model, seed=2)
    return model


@pytest.fixture(scope="module")
def saved_model_file(tmp_path_factory):
    model = every_class_model()
    path = tmp_path_factory.mktemp("saved") / "model.keras"
    model.save(path)
    x = np.random.default_rng(0).normal(size=(2, 6, 3)).astype("float32")
    return path, x, model.predict(x, verbose=0)


@pytest.mark.parametrize(
    "load", [keras.saving.load_model, kg.saving.load_model], ids=["keras", "kg"]
)
def test_every_class_loads_in_safe_mode(saved_model_file, load):
    path, x, want = saved_model_file
    model = load(path, safe_mode=True)
    np.testing.assert_array_equal(model.predict(x, verbose=0), want)


def _rewrite(data, change):
    """The archive `data` with every entry passed through `change(name, bytes)`
    (None drops the entry), checksums recomputed: damage zip cannot see."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(out, "w") as new:
        for name in old.namelist():
            content = change(name, old.read(name))
            if content is not None:
                new.writestr(name, content)
    return out.getvalue()


def _flip_middle_byte(data):
    data = bytearray(data)
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


DAMAGE = {
    "truncated to half": (lambda d: d[: len(d) // 2], "not a zip archive"),
    "last 10 bytes lost": (lambda d: d[:-10], "not a zip archive"),
    "empty": (lambda d: b"", "not a zip archive (0 bytes)"),
    "not a zip": (lambda d: b"keras" * 100, "not a zip archive (500 bytes)"),
    "one byte flipped": (_flip_middle_byte, "fails its CRC check"),
    "config not JSON": (
        lambda d: _rewrite(d, lambda n, b: b[:30] if n == "config.json" else b),
        "'config.json' is not valid JSON",
    ),
    "config missing": (
        lambda d: _rewrite(d, lambda n, b: None if n == "config.json" else b),
        "has no 'config.json'",
    ),
    "weights truncated": (
        lambda d: _rewrite(
            d, lambda n, b: b[: len(b) // 2] if n.endswith(".h5") else b
        ),
        "its weights cannot be read",
    ),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_file_gives_a_clear_error(saved_model_file, damage, tmp_path):
    path, _, _ = saved_model_file
    change, words = DAMAGE[damage]
    bad = tmp_path / "bad.keras"
    bad.write_bytes(change(path.read_bytes()))
    with pytest.raises(kg.saving.CorruptModelFileError) as info:
        kg.saving.load_model(bad)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert str(bad) in message
    assert words in message, message
    assert "truncated, damaged or not a `.keras` file" in message


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.keras"):
        kg.saving.load_model(tmp_path / "nope.keras")


def test_export_cli_reports_a_damaged_file(saved_model_file, tmp_path, capsys):
    from keras_gates import cli

    path, _, _ = saved_model_file
    bad = tmp_path / "bad.keras"
    bad.write_bytes(path.read_bytes()[:100])
    argv = ["export", str(bad), "--tflite", str(tmp_path / "m.tflite")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "keras-gates export: error: Cannot load" in err
    assert "not a zip archive (100 bytes)" in err
