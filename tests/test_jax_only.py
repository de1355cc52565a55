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
    layers = ["PeepholeLSTM", "CoupledLSTM", "MinimalGRU", "SRU", "MinGRU"]
    layers += ["ClockworkRNN", "DepthGatedLSTM", "MutantGRU"]
    for name in layers:
        assert f"ok {name}: loss" in done.stdout, done.stdout
    assert "ok DataParallel over 2 devices" in done.stdout, done.stdout
    assert "ok import keras_gates did not import TensorFlow" in done.stdout
    assert done.stdout.count("ok ") == len(layers) + 2, done.stdout
