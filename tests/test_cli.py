"""The installed `keras-gates` console script, as a user runs it: exit 2 and
one line for every bad input, 1 only for a failed parity check, and parity
for stateful models. TensorFlow backend only."""

import os
import shutil
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_gates as kg
from keras_gates import cli
from tests.helpers import subprocess_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="keras-gates export writes TensorFlow graphs",
    ),
]

# The console script that `pip install` put beside this Python.
CLI = shutil.which("keras-gates", path=os.path.dirname(sys.executable))
ERROR = "keras-gates export: error: "


def run_all(commands, cwd):
    """Runs `keras-gates export ARGS` for each ARGS at once (each process
    spends seconds importing TensorFlow); returns their CompletedProcess."""
    assert CLI, "the keras-gates console script is not installed (pip install -e .)"
    running = [
        subprocess.Popen(
            [CLI, "export", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=subprocess_env(TF_CPP_MIN_LOG_LEVEL="3"),
        )
        for args in commands
    ]
    done = []
    for process, args in zip(running, commands, strict=True):
        out, err = process.communicate(timeout=600)
        done.append(subprocess.CompletedProcess(args, process.returncode, out, err))
    return done


def save_models(folder):
    randomize = np.random.default_rng(0)
    stateful = keras.Sequential(
        [
            keras.Input((None, 3), batch_size=1),
            kg.PeepholeLSTM(8, stateful=True, return_sequences=True),
            kg.SRU(8, stateful=True),
        ]
    )
    conv = keras.Sequential(
        [keras.Input((None, 3)), keras.layers.Conv1D(4, 3), kg.MinGRU(4)]
    )
    gru = keras.Sequential(
        [keras.Input((None, 3)), kg.MinGRU(4), keras.layers.Dense(2)]
    )
    # Softmax over the time axis: no one-step model computes it.
    over_time = keras.Sequential(
        [
            keras.Input((None, 3)),
            kg.MinGRU(4, return_sequences=True),
            keras.layers.Softmax(axis=1),
        ]
    )
    models = {"stateful": stateful, "conv": conv, "gru": gru, "over_time": over_time}
    for name, model in models.items():
        model.set_weights(
            [randomize.normal(scale=0.5, size=w.shape) for w in model.get_weights()]
        )
        model.save(folder / f"{name}.keras")
    shutil.copy(folder / "conv.keras", folder / "conv.zip")
    content = (folder / "conv.keras").read_bytes()
    (folder / "truncated.keras").write_bytes(content[: len(content) // 2])
    save_unknown_class_model(folder / "unknown.keras")


@keras.saving.register_keras_serializable(package="keras_gates_tests")
class Doubling(keras.layers.Layer):
    def call(self, x):
        return 2.0 * x


def save_unknown_class_model(path):
    """A model whose class is then unregistered, as in a process that has not
    imported the package that defines it."""
    model = keras.Sequential([keras.Input((None, 3)), Doubling(), kg.MinGRU(4)])
    model.save(path)  # saved under its registered name, kept after the pop
    keras.saving.get_custom_objects().pop("keras_gates_tests>Doubling", None)


def test_every_bad_input_exits_2_with_one_line(tmp_path, capsys, monkeypatch):
    save_models(tmp_path)
    np.save(tmp_path / "calibration.npy", np.zeros((2, 5, 3), "float32"))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    (tmp_path / "a_file").write_text("")
    cases = {
        "a directory as the model": (["full", "--tflite", "m.tflite"], "directory"),
        "a .zip as the model": (["conv.zip", "--tflite", "m.tflite"], "`.keras`"),
        "no such model": (["missing.keras", "--tflite", "m.tflite"], "No such file"),
        "a truncated model": (["truncated.keras", "--tflite", "m.tflite"], "truncated"),
        "a directory as --tflite": (["conv.keras", "--tflite", "full"], "directory"),
        "--tflite in no directory": (
            ["conv.keras", "--tflite", "nowhere/m.tflite"],
            "not a directory",
        ),
        "--onnx under a file": (
            ["conv.keras", "--onnx", "a_file/m.onnx"],
            "not a directory",
        ),
        "a non-empty --saved-model": (
            ["conv.keras", "--saved-model", "full"],
            "not empty",
        ),
        "--overwrite of a non-SavedModel": (
            ["conv.keras", "--saved-model", "full", "--overwrite"],
            "holds no SavedModel",
        ),
        "a model it cannot stream": (
            ["conv.keras", "--tflite", "m.tflite", "--streaming"],
            "Cannot stream layer 'conv1d'",
        ),
        "a stateful model as a whole sequence": (
            ["stateful.keras", "--saved-model", "sm"],
            "stateful",
        ),
        "--micro without its calibration file": (
            ["conv.keras", "--micro", "fw", "--calibration", "missing.npy"],
            "--calibration 'missing.npy': no such file",
        ),
        "--micro on a file": (
            ["conv.keras", "--micro", "a_file", "--calibration", "a_file"],
            "is a file",
        ),
        "a model TFLite Micro cannot step": (
            ["conv.keras", "--micro", "fw", "--calibration", "calibration.npy"],
            "Cannot stream layer 'conv1d'",
        ),
        "a softmax over time to stream": (
            ["over_time.keras", "--tflite", "m.tflite", "--streaming"],
            "its output at a step depends on other steps (axis=1",
        ),
        "a non-empty --micro": (
            ["gru.keras", "--micro", "full", "--micro-quantization", "float32"],
            "not empty",
        ),
        "--overwrite of a directory without a micro model": (
            ["gru.keras", "--micro", "full", "--micro-quantization", "float32"]
            + ["--overwrite"],
            "holds no model.tflite",
        ),
        "all-zero calibration data": (
            ["gru.keras", "--micro", "fw", "--calibration", "calibration.npy"],
            "one value only",
        ),
        "a class nobody imported": (
            ["unknown.keras", "--tflite", "m.tflite"],
            "'Doubling'",
        ),
    }
    # One case through the installed console script (its exit status as
    # the shell sees it); the others through the same `main` in this
    # process, since each process spends seconds importing TensorFlow.
    first, *others = cases.items()
    results = run_all([first[1][0]], tmp_path)
    monkeypatch.chdir(tmp_path)
    for _, (args, _) in others:
        status = cli.main(["export", *args])
        out, err = capsys.readouterr()
        results.append(subprocess.CompletedProcess(args, status, out, err))
    for (case, (_, words)), done in zip(cases.items(), results, strict=True):
        errors = [line for line in done.stderr.splitlines() if line.startswith(ERROR)]
        assert done.returncode == 2, (case, done.stderr[-2000:])
        assert len(errors) == 1, (case, done.stderr[-2000:])
        assert words in errors[0], (case, errors[0])
        assert "Traceback" not in done.stderr, case
    # Found before converting: nothing was written.
    assert not (tmp_path / "m.tflite").exists()
    assert not (tmp_path / "sm").exists()
    assert not (tmp_path / "fw").exists()
    assert (tmp_path / "full" / "notes.txt").read_text() == "mine"


def test_micro_in_float32_needs_no_calibration_and_overwrites_when_asked(
    tmp_path, monkeypatch, capsys
):
    save_models(tmp_path)
    monkeypatch.chdir(tmp_path)
    args = ["export", "gru.keras", "--micro", "fw", "--micro-quantization", "float32"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert " ok" in out and "FAILED" not in out
    first = (tmp_path / "fw" / "model.tflite").read_bytes()
    assert cli.main(args) == 2  # not over an earlier export unasked
    assert "not empty" in capsys.readouterr().err
    (tmp_path / "fw" / "main.cc").write_text("mine")  # the user's own file
    assert cli.main([*args, "--overwrite"]) == 0
    assert (tmp_path / "fw" / "model.tflite").read_bytes() == first
    assert (tmp_path / "fw" / "main.cc").read_text() == "mine"  # kept


def test_stateful_model_streams_with_parity(tmp_path):
    """The parity check starts the stateful Keras model from zero states for
    each call, as the streaming model starts (it failed at 1.97e-03 when the
    Keras model carried its states from one check to the next)."""
    save_models(tmp_path)
    (done,) = run_all(
        [["stateful.keras", "--tflite", "s.tflite", "--streaming"]], tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert done.stdout.count(" ok") == 2 and "FAILED" not in done.stdout


def test_failed_parity_exits_1(tmp_path, monkeypatch, capsys):
    from keras_gates import cli
    from keras_gates.export import parity

    save_models(tmp_path)
    monkeypatch.setattr(parity, "FLOAT_TOLERANCE", -1.0)  # nothing can pass
    status = cli.main(
        ["export", str(tmp_path / "conv.keras"), "--tflite", str(tmp_path / "c.tflite")]
    )
    assert status == 1
    assert capsys.readouterr().out.count("FAILED") == 2


def test_load_model_names_an_unknown_class_in_one_line(tmp_path):
    save_unknown_class_model(tmp_path / "unknown.keras")
    with pytest.raises(kg.saving.UnknownClassError) as raised:
        kg.saving.load_model(tmp_path / "unknown.keras")
    message = str(raised.value)
    assert "\n" not in message and len(message) < 400, message
    assert "'Doubling'" in message and "keras_gates_tests>Doubling" in message
    assert "import tests.test_cli" in message


def test_micro_writes_the_model_its_c_array_and_checks_it(
    tmp_path, monkeypatch, capsys
):
    from keras_gates.export import micro
    from keras_gates.export import parity

    model = keras.Sequential(
        [keras.Input((None, 3)), kg.CoupledLSTM(8), keras.layers.Dense(2)]
    )
    model.save(tmp_path / "m.keras")
    sequences = np.random.default_rng(1).normal(size=(40, 12, 3)).astype("float32")
    np.save(tmp_path / "seq.npy", sequences)
    monkeypatch.chdir(tmp_path)
    args = ["export", "m.keras", "--micro", "fw", "--calibration", "seq.npy"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "tensor arena" in out and " ok" in out and "FAILED" not in out
    content = (tmp_path / "fw" / "model.tflite").read_bytes()
    assert (tmp_path / "fw" / "model.cc").read_text() == micro.c_source(content)[
        "model.cc"
    ]
    assert (tmp_path / "fw" / "model.h").exists()
    got = micro.run_micro(content, sequences[:4])[:, -1]
    want = model.predict(sequences[:4], verbose=0)
    np.testing.assert_allclose(got, want, atol=0.05 * np.abs(want).max())
    # A tolerance nothing meets: the parity check fails, exit 1.
    monkeypatch.setattr(parity, "MICRO_TOLERANCE", -1.0)
    assert cli.main([*args, "--overwrite"]) == 1
    assert "FAILED" in capsys.readouterr().out


# The CLI: --import and --unsafe ---------------------------------------------


def test_cli_parity_pads_for_a_masking_layer_of_value_zero(tmp_path, capsys):
    from keras_gates import cli

    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, kg.PeepholeLSTM(4)(keras.layers.Masking()(inputs)))
    model.save(tmp_path / "masking.keras")
    path = str(tmp_path / "masking.keras")
    assert cli.main(["export", path, "--tflite", str(tmp_path / "m.tflite")]) == 0
    assert capsys.readouterr().out.count("padded") == 3


def test_cli_imports_modules_and_loads_unsafe_files_on_request(
    tmp_path, capsys, monkeypatch
):
    import importlib.util
    import subprocess

    from keras_gates import cli
    from tests.test_cli import ERROR
    from tests.test_cli import run_all

    (tmp_path / "mylayers.py").write_text(
        textwrap.dedent(
            """
            import keras

            @keras.saving.register_keras_serializable(package="my_layers")
            class Halving(keras.layers.Layer):
                def call(self, x):
                    return 0.5 * x
            """
        )
    )
    spec = importlib.util.spec_from_file_location("mylayers", tmp_path / "mylayers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    own = keras.Sequential([keras.Input((None, 3)), module.Halving(), kg.SRU(4)])
    own.save(tmp_path / "own.keras")
    keras.saving.get_custom_objects().pop("my_layers>Halving")
    lam = keras.Sequential(
        [keras.Input((None, 3)), keras.layers.Lambda(lambda x: 2.0 * x), kg.SRU(4)]
    )
    lam.save(tmp_path / "lambda.keras")

    # The refusals in this process (they import nothing; each process
    # spends seconds importing TensorFlow), the imports and the unsafe
    # load in processes of their own, whose imports cannot leak.
    monkeypatch.chdir(tmp_path)
    refusals = []
    for args in (
        ["own.keras", "--tflite", "m.tflite"],
        ["lambda.keras", "--tflite", "m.tflite"],
    ):
        status = cli.main(["export", *args])
        refusals.append(
            subprocess.CompletedProcess(args, status, "", capsys.readouterr().err)
        )
    refused, unsafe_refused = refusals
    imported, by_path, unsafe = run_all(
        [
            ["own.keras", "--import", "mylayers", "--tflite", "a.tflite"],
            [
                "own.keras",
                "--import",
                os.fspath(tmp_path / "mylayers.py"),
                "--tflite",
                "b.tflite",
            ],
            ["lambda.keras", "--unsafe", "--tflite", "c.tflite"],
        ],
        tmp_path,
    )
    for done, words in ((refused, "--import mylayers"), (unsafe_refused, "--unsafe")):
        errors = [line for line in done.stderr.splitlines() if line.startswith(ERROR)]
        assert done.returncode == 2 and len(errors) == 1, done.stderr[-2000:]
        assert words in errors[0], errors[0]
    for done in (imported, by_path, unsafe):
        assert done.returncode == 0, done.stderr[-2000:]
        assert "FAILED" not in done.stdout
