"""Training killed mid-epoch resumes with BackupAndRestore to the same weights."""

import json
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest

from tests import interrupted_train as it
from tests.helpers import ROOT
from tests.helpers import subprocess_env

pytestmark = pytest.mark.slow  # not in the quick tier (pytest -m "not slow")


def _start(workdir, name, kill_at=None):
    command = [sys.executable, "-m", "tests.interrupted_train"]
    command += ["--workdir", str(workdir), "--name", name]
    if kill_at:
        command += ["--kill-at", *map(str, kill_at)]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _finish(process):
    _, stderr = process.communicate(timeout=300)
    return process.returncode, stderr.decode(errors="replace")[-3000:]


def _load(path):
    with np.load(path) as f:
        return [f[f"w{i}"] for i in range(len(f.files) - 1)], f["losses"]


def test_killed_training_resumes_with_backup_and_restore(tmp_path):
    """A run SIGKILLed in the middle of its third epoch, then started again
    with the same command, ends with the weights of a run never interrupted:
    BackupAndRestore restores the weights, the optimizer state and the
    dropout layers' random state of the last epoch end, and the restarted
    run trains the remaining epochs only."""
    keras.utils.set_random_seed(0)
    initial = it.build_model().get_weights()
    np.savez(tmp_path / "initial.npz", **{f"w{i}": w for i, w in enumerate(initial)})

    straight = _start(tmp_path, "straight")
    killed = _start(tmp_path, "resumed", kill_at=(2, 3))
    returncode, stderr = _finish(killed)
    assert returncode == -signal.SIGKILL, stderr
    assert not (tmp_path / "resumed.npz").exists()
    with open(tmp_path / "resumed-backup" / "training_metadata.json") as f:
        assert json.load(f)["epoch"] == 2  # two epochs done and backed up

    returncode, stderr = _finish(_start(tmp_path, "resumed"))
    assert returncode == 0, stderr
    returncode, stderr = _finish(straight)
    assert returncode == 0, stderr

    want, want_losses = _load(tmp_path / "straight.npz")
    got, got_losses = _load(tmp_path / "resumed.npz")
    assert len(want_losses) == it.EPOCHS
    assert len(got_losses) == it.EPOCHS - 2  # resumed at the third epoch
    np.testing.assert_allclose(got_losses, want_losses[2:], rtol=1e-6)
    assert not np.allclose(got[0], initial[0])  # it trained
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-6)
    assert not (tmp_path / "resumed-backup").exists()  # removed when done
