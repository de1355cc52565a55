"""What a JAX user does with keras-gates, run on two virtual CPU devices:
train every layer, save and load `.keras`, read the gates, and train with
`keras.distribution.DataParallel` over both devices, which must equal one
device. Run by tests/test_jax_only.py in a process of its own (the devices
are fixed when JAX starts); it exits non-zero on the first failure.

    XLA_FLAGS=--xla_force_host_platform_device_count=2 KERAS_BACKEND=jax \\
        python tests/jax_only_checks.py OUT_DIR
"""

import os
import sys

import keras
import numpy as np

import keras_gates as kg

# Keras itself may import TensorFlow later where it is installed (its data
# adapters do); keras-gates must not.
IMPORTED_TENSORFLOW = "tensorflow" in sys.modules

LAYERS = {
    "PeepholeLSTM": lambda: kg.PeepholeLSTM(8),
    "CoupledLSTM": lambda: kg.CoupledLSTM(8),
    "MinimalGRU": lambda: kg.MinimalGRU(8),
    "SRU": lambda: kg.SRU(8),
    "MinGRU": lambda: kg.MinGRU(8),
    "MinLSTM": lambda: kg.MinLSTM(8),
    "SLSTM": lambda: kg.SLSTM(8, num_heads=2),
    "MLSTM": lambda: kg.MLSTM(8, num_heads=2),
    "ClockworkRNN": lambda: kg.ClockworkRNN(8),
    "DepthGatedLSTM": lambda: kg.DepthGatedLSTM(8),
    "MutantGRU": lambda: kg.MutantGRU(8, mutant=3),
}


def data(samples=64, steps=12, seed=0):
    """The sign of the first step's first feature, behind noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, steps, 3)).astype("float32")
    y = (x[:, 0, :1] > 0).astype("float32")
    return x, y


def model_with(layer):
    model = keras.Sequential(
        [keras.Input((None, 3)), layer, keras.layers.Dense(1, activation="sigmoid")]
    )
    model.compile(keras.optimizers.Adam(1e-2), "binary_crossentropy")
    return model


def train_save_load_inspect(folder):
    x, y = data()
    for name, make in LAYERS.items():
        keras.utils.set_random_seed(0)
        model = model_with(make())
        history = model.fit(x, y, batch_size=16, epochs=4, verbose=0)
        losses = history.history["loss"]
        assert np.isfinite(losses).all() and losses[-1] < losses[0], (name, losses)
        path = os.path.join(folder, f"{name}.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        np.testing.assert_allclose(
            np.asarray(loaded(x[:4])), np.asarray(model(x[:4])), atol=1e-6
        )
        gates = kg.inspect.gate_activations(loaded.layers[0], x[:2])
        assert gates and all(
            v.shape[:2] == (2, 12) and np.isfinite(v).all() for v in gates.values()
        ), name
        print(f"ok {name}: loss {losses[0]:.3f} -> {losses[-1]:.3f}, saved, gates")


def data_parallel_equals_one_device():
    import jax

    devices = jax.devices()
    assert len(devices) == 2, f"expected 2 virtual CPU devices, got {devices}"
    x, y = data(samples=64)
    weights = None
    results = {}
    for label in ("one device", "DataParallel"):
        distribution = (
            keras.distribution.DataParallel(devices=devices)
            if label == "DataParallel"
            else None
        )
        keras.distribution.set_distribution(distribution)
        keras.utils.set_random_seed(0)
        model = model_with(kg.PeepholeLSTM(8))
        if weights is None:
            weights = model.get_weights()
        model.set_weights(weights)
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        results[label] = model.get_weights()
    keras.distribution.set_distribution(None)
    difference = max(
        float(np.abs(a - b).max())
        for a, b in zip(results["one device"], results["DataParallel"], strict=True)
    )
    moved = max(
        float(np.abs(a - b).max())
        for a, b in zip(weights, results["one device"], strict=True)
    )
    assert moved > 1e-3, moved
    assert difference < 1e-5, difference
    print(
        f"ok DataParallel over 2 devices: weights within {difference:.1e} of one device"
    )


def main():
    if keras.backend.backend() != "jax":
        sys.exit("run with KERAS_BACKEND=jax")
    train_save_load_inspect(sys.argv[1])
    data_parallel_equals_one_device()
    assert not IMPORTED_TENSORFLOW, "import keras_gates imported TensorFlow"
    print("ok import keras_gates did not import TensorFlow")


if __name__ == "__main__":
    main()
