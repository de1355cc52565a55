"""One small training run of every keras-gates layer, on one device or under a
`tf.distribute` strategy: the worker of tests/test_distributed.py.

    python -m tests.distributed_train --strategy mirrored --workdir DIR
    TF_CONFIG=... python -m tests.distributed_train --strategy multiworker \
        --workdir DIR --loop custom

Reads the initial weights from DIR/initial.npz, trains with `model.fit` or a
custom loop (`--loop`), and writes the final weights, the loss of every
epoch and the number of replicas to DIR/<strategy>[-<task>]-<loop>.npz. The data
are generated from a fixed seed. Every run sees the same global batches in the
same order: each replica reads its slice of the global batch (see
`make_dataset`), so the only difference between runs is the order in which
the replicas' gradients are summed.
"""

import argparse
import json
import os

import numpy as np

SAMPLES, STEPS, FEATURES = 64, 12, 3
GLOBAL_BATCH = 16
EPOCHS = 4


def make_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, STEPS, FEATURES)).astype("float32")
    # A target each layer can learn: a decayed sum of the first feature.
    decay = 0.8 ** np.arange(STEPS)[::-1]
    y = (x[:, :, 0] * decay).sum(axis=1, keepdims=True).astype("float32")
    return x, y


def build_model():
    """All five layers side by side on one input, on both of their paths."""
    import keras

    import keras_gates as kg

    inputs = keras.Input((STEPS, FEATURES))
    branches = [
        kg.PeepholeLSTM(6, fast_path=False)(inputs),
        kg.CoupledLSTM(6, fast_path=True)(inputs),
        kg.MinimalGRU(6, fast_path=False)(inputs),
        kg.SRU(6, fast_path=True)(inputs),
        kg.MinGRU(6, fast_path=True)(inputs),
    ]
    outputs = keras.layers.Dense(1)(keras.layers.Concatenate()(branches))
    return keras.Model(inputs, outputs)


def make_dataset(tf, input_context):
    """Each input pipeline takes every n-th sample (n pipelines) and batches
    them by the per-replica batch size, so that the replicas' batches of one
    step together are exactly the global batch of one-device training."""
    x, y = make_data()
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if input_context is not None:
        dataset = dataset.shard(
            input_context.num_input_pipelines, input_context.input_pipeline_id
        )
        batch = input_context.get_per_replica_batch_size(GLOBAL_BATCH)
    else:
        batch = GLOBAL_BATCH
    return dataset.batch(batch, drop_remainder=True).repeat()


def train(strategy, initial_weights):
    """Trains from `initial_weights`; returns (final weights, epoch losses)."""
    import keras
    import tensorflow as tf

    with strategy.scope():
        model = build_model()
        model.set_weights(initial_weights)
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    data = strategy.distribute_datasets_from_function(
        lambda context: make_dataset(tf, context)
    )
    history = model.fit(
        data,
        epochs=EPOCHS,
        steps_per_epoch=SAMPLES // GLOBAL_BATCH,
        shuffle=False,
        verbose=0,
    )
    return model.get_weights(), history.history["loss"]


def train_custom_loop(strategy, initial_weights):
    """The same training as `train`, in a custom loop (`strategy.run`): how to
    train under `MultiWorkerMirroredStrategy`, where `model.fit` of Keras 3.15
    fails before the first step (see docs/guides/scaling-out.md)."""
    import keras
    import tensorflow as tf

    with strategy.scope():
        model = build_model()
        model.set_weights(initial_weights)
        optimizer = keras.optimizers.Adam(1e-2)
        optimizer.build(model.trainable_variables)
    data = iter(
        strategy.distribute_datasets_from_function(
            lambda context: make_dataset(tf, context)
        )
    )

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            squared = keras.ops.mean((model(x, training=True) - y) ** 2, axis=-1)
            # Each replica's share of the mean over the global batch.
            loss = tf.nn.compute_average_loss(squared, global_batch_size=GLOBAL_BATCH)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function
    def train_step(batch):
        losses = strategy.run(replica_step, args=batch)
        return strategy.reduce("SUM", losses, axis=None)

    epoch_losses = []
    for _ in range(EPOCHS):
        steps = [train_step(next(data)) for _ in range(SAMPLES // GLOBAL_BATCH)]
        epoch_losses.append(float(np.mean([float(s) for s in steps])))
    return model.get_weights(), epoch_losses


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--strategy", choices=["default", "mirrored", "multiworker"], required=True
    )
    parser.add_argument("--workdir", required=True)
    parser.add_argument(
        "--loop",
        choices=["fit", "custom"],
        default="fit",
        help="train with model.fit or a custom loop (strategy.run)",
    )
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    # Full tracebacks: the test recognizes Keras' known multi-worker `fit`
    # failure by the function it fails in.
    keras.config.disable_traceback_filtering()
    if args.strategy == "mirrored":
        # Two logical CPU devices, set before TensorFlow initializes them.
        (cpu,) = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(
            cpu,
            [tf.config.LogicalDeviceConfiguration()] * 2,
        )
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        name = "mirrored"
    elif args.strategy == "multiworker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
        name = f"multiworker-{task}"
    else:
        strategy = tf.distribute.get_strategy()
        name = "default"
    if strategy.num_replicas_in_sync != (1 if name == "default" else 2):
        raise RuntimeError(f"{name}: {strategy.num_replicas_in_sync} replicas")

    with np.load(os.path.join(args.workdir, "initial.npz")) as f:
        initial = [f[f"w{i}"] for i in range(len(f.files))]
    run = train if args.loop == "fit" else train_custom_loop
    weights, losses = run(strategy, initial)
    name = f"{name}-{args.loop}"
    np.savez(
        os.path.join(args.workdir, f"{name}.npz"),
        losses=np.array(losses),
        replicas=strategy.num_replicas_in_sync,
        **{f"w{i}": w for i, w in enumerate(weights)},
    )


if __name__ == "__main__":
    main()
