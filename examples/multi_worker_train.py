"""Training a keras-gates layer on several machines with
`tf.distribute.MultiWorkerMirroredStrategy` and a custom loop (Keras 3.15's
`model.fit` fails under this strategy, see the scaling-out guide).

Every worker runs this same script, with its own index in `TF_CONFIG`:

    TF_CONFIG='{"cluster": {"worker": ["host0:12345", "host1:12345"]},
        "task": {"type": "worker", "index": 0}}' python examples/multi_worker_train.py

It prints the mean loss of each epoch (the same on every worker).
"""

import keras
import numpy as np
import tensorflow as tf

import keras_gates

# The strategy first: collective ops are configured at program startup,
# before any dataset or tensor is made.
strategy = tf.distribute.MultiWorkerMirroredStrategy()
GLOBAL_BATCH, EPOCHS, STEPS_PER_EPOCH = 16, 3, 4

rng = np.random.default_rng(0)
x = rng.normal(size=(64, 10, 3)).astype("float32")
y = x[:, :, :1].sum(axis=1)  # a target a recurrent layer can learn

with strategy.scope():
    model = keras.Sequential(
        [keras.Input((10, 3)), keras_gates.MinimalGRU(8), keras.layers.Dense(1)]
    )
    optimizer = keras.optimizers.Adam(1e-2)
    optimizer.build(model.trainable_variables)


def dataset_fn(context):
    """This worker's share of every global batch: the examples unbatched,
    sharded, then batched by the per-replica batch size."""
    examples = tf.data.Dataset.from_tensor_slices((x, y)).repeat()
    shard = examples.shard(context.num_input_pipelines, context.input_pipeline_id)
    batch = context.get_per_replica_batch_size(GLOBAL_BATCH)
    return shard.batch(batch, drop_remainder=True)


def replica_step(inputs, targets):
    with tf.GradientTape() as tape:
        per_example = keras.losses.mean_squared_error(
            targets, model(inputs, training=True)
        )
        loss = tf.nn.compute_average_loss(per_example, global_batch_size=GLOBAL_BATCH)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
    return loss


@tf.function
def train_step(batch):
    losses = strategy.run(replica_step, args=batch)
    return strategy.reduce("SUM", losses, axis=None)


batches = iter(strategy.distribute_datasets_from_function(dataset_fn))
for epoch in range(EPOCHS):
    loss = np.mean([float(train_step(next(batches))) for _ in range(STEPS_PER_EPOCH)])
    print(f"epoch {epoch + 1}: loss {loss:.4f}", flush=True)
