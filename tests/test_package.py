"""The package's public surface and its import-time guarantees."""

import os
import subprocess
import sys

import keras

import keras_gates as kg

PUBLIC = [
    "PeepholeLSTMCell",
    "PeepholeLSTM",
    "CoupledLSTMCell",
    "CoupledLSTM",
    "MinimalGRUCell",
    "MinimalGRU",
    "SRUCell",
    "SRU",
    "MinGRUCell",
    "MinGRU",
]


def test_public_classes_are_registered_under_the_package():
    for name in PUBLIC:
        cls = getattr(kg, name)
        assert keras.saving.get_registered_name(cls) == f"keras_gates>{name}"
        assert keras.saving.get_registered_object(f"keras_gates>{name}") is cls


def test_version_has_one_source():
    from keras_gates.version import __version__

    assert kg.__version__ == __version__
    assert __version__.count(".") == 2


def test_layers_expose_their_cell():
    for name in PUBLIC[1::2]:
        layer = getattr(kg, name)(3)
        assert isinstance(layer, keras.layers.RNN)
        assert type(layer.cell) is getattr(kg, name + "Cell")
        assert layer.units == 3


def test_import_does_not_need_tensorflow():
    """Cell math is keras.ops only: under JAX, TensorFlow is never imported."""
    code = (
        "import sys, keras_gates, numpy as np\n"
        "layer = keras_gates.SRU(2)\n"
        "layer(np.zeros((1, 3, 2), 'float32'))\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_cell_module_alone_builds_its_cell():
    """A cell's arguments are declared by its layer's signature: a cell
    module imported without `keras_gates/__init__.py` (which imports every
    layer) still builds its cell, by importing the layers on first use."""
    code = (
        "import sys, types, keras_gates as real\n"
        "bare = types.ModuleType('keras_gates')\n"
        "bare.__path__ = list(real.__path__)\n"
        "for name in [m for m in sys.modules if m.startswith('keras_gates')]:\n"
        "    del sys.modules[name]\n"
        "sys.modules['keras_gates'] = bare\n"
        "from keras_gates.cells.peephole_lstm_cell import PeepholeLSTMCell\n"
        "assert 'keras_gates.layers.peephole_lstm' not in sys.modules\n"
        "cell = PeepholeLSTMCell(4, peepholes=['forget'])\n"
        "print(cell.units, cell.peepholes)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[0] == "4", result.stdout


def test_public_keras_only():
    """No private Keras module or attribute, so any Keras 3 release serves."""
    root = os.path.dirname(kg.__file__)
    offenders = []
    for folder, _, files in os.walk(root):
        for f in files:
            path = os.path.join(folder, f)
            if not f.endswith(".py"):
                continue
            with open(path) as fh:
                text = fh.read()
            for private in ("keras.src", "_keras_history", "_inbound_nodes"):
                if private in text:
                    offenders.append((os.path.relpath(path, root), private))
    assert not offenders, f"private Keras used: {offenders}"


def test_export_outside_the_tested_tensorflow(monkeypatch, caplog):
    """The features that rely on TensorFlow's private modules refuse a
    TensorFlow outside the tested range with one line (the fused op under
    fused=True, whole-sequence int8), and fused="auto" keeps the loop."""
    import numpy as np
    import pytest

    if keras.backend.backend() != "tensorflow":
        pytest.skip("export writes TensorFlow graphs")
    from ai_edge_litert.interpreter import Interpreter

    from keras_gates import export
    from keras_gates.export import tensorflow_support

    monkeypatch.setattr(tensorflow_support, "TESTED", ((1, 0), (1, 15)))
    model = keras.Sequential([keras.Input((None, 3)), kg.PeepholeLSTM(4)])
    for call in (
        lambda: export.to_tflite(model, fused=True),
        lambda: export.to_tflite(
            model, quantization="int8", representative_data=[np.zeros((1, 5, 3))]
        ),
        lambda: export.op_names(b""),
    ):
        with pytest.raises(ValueError, match="tested on TensorFlow 1.0 to 1.15") as e:
            call()
        assert "\n" not in str(e.value)
    with caplog.at_level("INFO", logger="keras_gates.export"):
        content = export.to_tflite(model)
    assert "tested on TensorFlow 1.0 to 1.15" in caplog.text
    ops = {
        op["op_name"] for op in Interpreter(model_content=content)._get_ops_details()
    }
    assert "WHILE" in ops and "UNIDIRECTIONAL_SEQUENCE_LSTM" not in ops


def test_at_most_three_keras_gates_classes_in_any_public_mro():
    import inspect as pyinspect

    for name in kg.__all__:
        obj = getattr(kg, name)
        if not pyinspect.isclass(obj):
            continue
        ours = [c for c in obj.__mro__ if c.__module__.startswith("keras_gates")]
        assert len(ours) <= 3, (name, [c.__name__ for c in ours])


def test_no_module_only_re_exports_a_former_path():
    """The package was never published under other paths: no module of it
    exists only to re-export names that live elsewhere."""
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(kg.__path__, "keras_gates."):
        if info.name.endswith("__init__") or info.ispkg:
            continue
        module = importlib.import_module(info.name)
        own = [
            value
            for value in vars(module).values()
            if getattr(value, "__module__", None) == info.name
        ]
        assert own or not hasattr(module, "__all__"), info.name
