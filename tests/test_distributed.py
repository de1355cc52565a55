"""Training under tf.distribute gives the one-device result.

Each distributed run is a subprocess (tests/distributed_train.py): logical
devices and TF_CONFIG must be set before TensorFlow starts. All runs start
from the same weights and see the same global batches; they differ only in
the order in which the replicas' gradients are summed. Measured on a 2-core
CPU (`pytest -s tests/test_distributed.py` prints it): max |weight
difference| after 16 Adam steps 7.5e-8 (MirroredStrategy) and 6.0e-8
(MultiWorkerMirroredStrategy); the tests allow TOLERANCE.
"""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

from tests import distributed_train as dt
from tests.helpers import ROOT
from tests.helpers import subprocess_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        keras.backend.backend() != "tensorflow", reason="tf.distribute is TensorFlow's"
    ),
]

TOLERANCE = 1e-5


class KnownKerasFailure(Exception):
    """`model.fit` under MultiWorkerMirroredStrategy failed the known way."""


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    """The shared initial weights, in a work folder, and the one-device run."""
    import tensorflow as tf

    workdir = tmp_path_factory.mktemp("distributed")
    keras.utils.clear_session()
    keras.utils.set_random_seed(0)
    initial = dt.build_model().get_weights()
    np.savez(workdir / "initial.npz", **{f"w{i}": w for i, w in enumerate(initial)})
    weights, losses = dt.train(tf.distribute.get_strategy(), initial)
    return workdir, weights, np.array(losses)


def _command(strategy, workdir, loop):
    return [
        sys.executable,
        "-m",
        "tests.distributed_train",
        "--strategy",
        strategy,
        "--workdir",
        str(workdir),
        "--loop",
        loop,
    ]


def _load(path):
    with np.load(path) as f:
        weights = [f[f"w{i}"] for i in range(len(f.files) - 2)]
        return weights, f["losses"], int(f["replicas"])


def _check_against_one_device(result, one_device):
    _, want_weights, want_losses = one_device
    weights, losses, replicas = result
    assert replicas == 2
    assert np.all(np.isfinite(losses))
    assert np.all(np.diff(losses) < 0), losses
    np.testing.assert_allclose(losses, want_losses, rtol=1e-5)
    assert len(weights) == len(want_weights)
    difference = max(
        np.max(np.abs(got - want))
        for got, want in zip(weights, want_weights, strict=True)
    )
    print(f"largest weight difference from one device: {difference:.1e}")  # -s
    assert difference <= TOLERANCE


def test_mirrored_strategy_on_two_cpu_devices_matches_one_device(one_device):
    workdir = one_device[0]
    subprocess.run(
        _command("mirrored", workdir, "fit"),
        cwd=ROOT,
        env=subprocess_env(),
        check=True,
        capture_output=True,
        timeout=300,
    )
    _check_against_one_device(_load(workdir / "mirrored-fit.npz"), one_device)


def _free_ports(count):
    """`count` distinct free ports (all held open while choosing)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _run_two_workers(workdir, loop):
    """Two worker processes on 127.0.0.1; returns their (returncode, stderr)."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    workers = []
    for index in range(2):
        config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        workers.append(
            subprocess.Popen(
                _command("multiworker", workdir, loop),
                cwd=ROOT,
                env=subprocess_env(TF_CONFIG=json.dumps(config)),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = []
    try:
        for worker in workers:
            _, stderr = worker.communicate(timeout=300)
            results.append((worker.returncode, stderr))
    finally:
        for worker in workers:
            worker.kill()
    return results


def test_multi_worker_mirrored_strategy_with_two_workers_matches_one_device(
    one_device,
):
    """Two worker processes, a custom training loop (`strategy.run`)."""
    workdir = one_device[0]
    for returncode, stderr in _run_two_workers(workdir, "custom"):
        assert returncode == 0, stderr[-3000:]
    results = [_load(workdir / f"multiworker-{i}-custom.npz") for i in range(2)]
    for result in results:
        _check_against_one_device(result, one_device)
    for a, b in zip(results[0][0], results[1][0], strict=True):
        np.testing.assert_array_equal(a, b)  # the workers hold one model


def test_the_guides_multi_worker_script_runs_as_printed():
    """`examples/multi_worker_train.py`, which the scaling-out guide shows
    whole, in two worker processes on 127.0.0.1 (as printed it once built its
    dataset before the strategy, batched twice and left names undefined)."""
    script = os.path.join(ROOT, "examples", "multi_worker_train.py")
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    workers = [
        subprocess.Popen(
            [sys.executable, script],
            cwd=ROOT,
            env=subprocess_env(
                TF_CONFIG=json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": i}}
                )
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    printed = []
    try:
        for worker in workers:
            out, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, err[-3000:]
            printed.append(
                [line for line in out.splitlines() if line.startswith("epoch")]
            )
    finally:
        for worker in workers:
            worker.kill()
    assert len(printed[0]) == 3 and printed[0] == printed[1], printed
    losses = [float(line.split()[-1]) for line in printed[0]]
    assert losses[-1] < losses[0], losses


@pytest.mark.xfail(
    raises=KnownKerasFailure,
    strict=True,
    reason="Keras 3 `model.fit` under MultiWorkerMirroredStrategy fails before "
    "the first step: `_maybe_symbolic_build` calls `strategy.reduce` on the "
    "(x, y) batch, a nested structure that the collective reduce does not "
    "take (keras-team/keras#20585). The custom loop above works.",
)
def test_multi_worker_model_fit(one_device):
    workdir = one_device[0]
    results = _run_two_workers(workdir, "fit")
    for returncode, stderr in results:
        if returncode != 0 and "_maybe_symbolic_build" in stderr:
            raise KnownKerasFailure(stderr[-2000:])
        assert returncode == 0, stderr[-3000:]
    for i in range(2):
        _check_against_one_device(
            _load(workdir / f"multiworker-{i}-fit.npz"), one_device
        )
