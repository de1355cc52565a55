"""`.keras` files load in a fresh process that only imports keras_gates."""

import os
import subprocess
import sys
import textwrap

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

    model = keras.saving.load_model(sys.argv[1])  # safe_mode is on by default
    x = np.load(sys.argv[2])
    np.save(sys.argv[3], model.predict(x, verbose=0))
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


@pytest.mark.parametrize(
    "layer",
    [
        kg.PeepholeLSTM(5, peepholes=["input", "output"], cell_clip=3.0),
        kg.CoupledLSTM(5, peepholes="input", dropout=0.1, seed=2),
        kg.MinimalGRU(5, reset=False),
        kg.SRU(5, activation="tanh"),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_bidirectional_model_reloads_in_fresh_process(layer, tmp_path):
    model = build_model(layer)
    x = np.random.default_rng(0).integers(1, 20, size=(4, 9))
    x[1, 6:] = 0  # right padding
    x[2, :3] = 0  # left padding
    want = model.predict(x, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    np.save(tmp_path / "x.npy", x)
    script = tmp_path / "load.py"
    script.write_text(LOAD_SCRIPT)
    out = tmp_path / "out.npy"
    subprocess.run(
        [sys.executable, str(script), str(path), str(tmp_path / "x.npy"), str(out)],
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        timeout=300,
    )
    np.testing.assert_array_equal(np.load(out), want)


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
