"""Runs TF1's LSTMCell under `tf.compat.v1.nn.dynamic_rnn` (through tf_keras,
TF_USE_LEGACY_KERAS=1) with random weights, and saves for each configuration
a TF1 checkpoint (`<out>/<name>/model`) and `<out>/<name>.npz` with the
inputs, the sequence lengths, the outputs and the final state `(c, h)`.

Usage: TF_USE_LEGACY_KERAS=1 python -m tests.peers.tf1_lstm OUT_DIR
"""

import os
import sys

import numpy as np

os.environ["TF_USE_LEGACY_KERAS"] = "1"
import tensorflow as tf  # noqa: E402

BATCH, STEPS, INPUT_DIM, UNITS = 4, 9, 3, 5

# name: (LSTMCell arguments, whether the sequences have lengths)
CONFIGS = {
    "plain": ({}, False),
    "lstmp_peepholes_clips": (
        {
            "use_peepholes": True,
            "num_proj": 3,
            "proj_clip": 0.3,
            "cell_clip": 0.8,
            "forget_bias": 0.5,
        },
        False,
    ),
    "lstmp_lengths": ({"num_proj": 2, "use_peepholes": True}, True),
}


def run(name, kwargs, with_lengths, out_dir, rng):
    x = rng.normal(size=(BATCH, STEPS, INPUT_DIM)).astype("float32")
    lengths = np.array([STEPS, 5, 1, 7], "int32")
    graph = tf.Graph()
    with graph.as_default():
        cell = tf.compat.v1.nn.rnn_cell.LSTMCell(UNITS, **kwargs)
        inputs = tf.compat.v1.placeholder(tf.float32, x.shape)
        outputs, state = tf.compat.v1.nn.dynamic_rnn(
            cell,
            inputs,
            sequence_length=lengths if with_lengths else None,
            dtype=tf.float32,
        )
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            for variable in tf.compat.v1.trainable_variables():
                value = rng.normal(0.0, 0.5, variable.shape).astype("float32")
                session.run(variable.assign(value))
            out, (c, h) = session.run([outputs, state], {inputs: x})
            saver.save(session, os.path.join(out_dir, name, "model"))
    np.savez(
        os.path.join(out_dir, f"{name}.npz"),
        x=x,
        lengths=lengths if with_lengths else np.full(BATCH, STEPS, "int32"),
        outputs=out,
        c=c,
        h=h,
    )


def main(out_dir):
    tf.compat.v1.disable_eager_execution()
    rng = np.random.default_rng(0)
    for name, (kwargs, with_lengths) in CONFIGS.items():
        run(name, kwargs, with_lengths, out_dir, rng)


if __name__ == "__main__":
    main(sys.argv[1])
