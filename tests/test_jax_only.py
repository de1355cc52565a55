"""keras-gates for a JAX user: `tests/jax_only_checks.py` in a process of
its own with two virtual CPU devices (every layer trained, saved, loaded and
inspected; DataParallel equal to one device; TensorFlow never imported).
CI runs this file in an environment of the built wheel, JAX and pytest
alone, where `KERAS_GATES_EXPECT_NO_TENSORFLOW=1` asserts that TensorFlow
is not even installed (`.ci/run`). In the development environment, where
TensorFlow is installed, it runs only when asked
(`KERAS_GATES_JAX_CHECKS=1`): CI's JAX-only environment is where it
means something, and running it twice cost CI half a minute."""

import importlib.util
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # not in the quick tier (pytest -m "not slow")

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jax_only_checks.py")


@pytest.mark.skipif(
    importlib.util.find_spec("jax") is None, reason="needs JAX (the tests extra)"
)
@pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is not None
    and os.environ.get("KERAS_GATES_JAX_CHECKS") != "1",
    reason="TensorFlow is installed here: CI runs this in its JAX-only "
    "environment (.ci/run); KERAS_GATES_JAX_CHECKS=1 runs it here too",
)
def test_a_jax_user_trains_saves_inspects_and_distributes(tmp_path):
    if os.environ.get("KERAS_GATES_EXPECT_NO_TENSORFLOW") == "1":
        assert importlib.util.find_spec("tensorflow") is None
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
    }
    env.pop("PYTHONPATH", None)  # keras_gates as installed
    done = subprocess.run(
        [sys.executable, SCRIPT, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    layers = ["PeepholeLSTM", "CoupledLSTM", "MinimalGRU", "SRU", "MinGRU", "MinLSTM"]
    layers += ["SLSTM", "MLSTM", "ClockworkRNN", "DepthGatedLSTM", "MutantGRU"]
    for name in layers:
        assert f"ok {name}: loss" in done.stdout, done.stdout
    assert "ok DataParallel over 2 devices" in done.stdout, done.stdout
    assert "ok import keras_gates did not import TensorFlow" in done.stdout
    assert done.stdout.count("ok ") == len(layers) + 2, done.stdout


@pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is not None,
    reason="TensorFlow is installed here: CI runs this in its JAX-only "
    "environment (.ci/run), where the command must say what is missing",
)
def test_the_export_command_without_tensorflow_says_so_in_one_line(tmp_path):
    """`keras-gates export` in an install of keras, JAX and keras-gates,
    `KERAS_BACKEND` unset (Keras' default backend is TensorFlow's): one line
    naming the extra to install, exit status 2 (bad input), no traceback."""
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    env.pop("PYTHONPATH", None)
    model = tmp_path / "model.keras"
    save = (
        "import keras, keras_gates, sys; keras.Sequential([keras.Input((None, 2)), "
        "keras_gates.MinimalGRU(3)]).save(sys.argv[1])"
    )
    subprocess.run([sys.executable, "-c", save, str(model)], env=env, check=True)
    env.pop("KERAS_BACKEND")
    command = os.path.join(os.path.dirname(sys.executable), "keras-gates")
    done = subprocess.run(
        [command, "export", str(model), "--tflite", str(tmp_path / "m.tflite")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "keras-gates[export]" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
