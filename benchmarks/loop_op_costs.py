"""Profiles what one step of a TensorFlow while-loop costs, op by op.

The recurrent layers spend their time in a loop over time steps. On a small
CPU the cost of a step is fixed overheads (the loop, reading the step's input
from a TensorArray, dispatching each op) as much as arithmetic. This script
times loops of 1000 steps whose body differs by one kind of op, on the
tensors of the batch-16 benchmark shape (16 x 256 states, 16 x 1024 gate
blocks), and prints microseconds per step. TensorFlow only.

    python -m benchmarks.loop_op_costs
"""

import argparse
import time

import numpy as np
import tensorflow as tf

from benchmarks.smoke import parse_args

BATCH, UNITS, STEPS = 16, 256, 1000


def per_step_us(body, width=UNITS, repeats=7, steps=STEPS):
    """Median microseconds per step of a loop of `steps` steps applying
    `body(x_t, c)`."""
    xs = tf.random.normal((steps, BATCH, width))

    @tf.function
    def run(xs):
        inputs = tf.TensorArray(tf.float32, size=steps).unstack(xs)

        def step(t, c):
            return t + 1, body(inputs.read(t), c)

        return tf.while_loop(
            lambda t, c: t < steps, step, (0, tf.zeros((BATCH, UNITS)))
        )

    run(xs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(xs)[1].numpy()
        times.append(time.perf_counter() - start)
    return 1e6 * np.median(times) / steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.set_defaults(steps=STEPS, repeats=7)  # no options: the documented sizes
    args = parse_args(parser, argv, steps=20, repeats=2)
    r_square = tf.random.normal((UNITS, UNITS))
    r_wide = tf.random.normal((UNITS, 4 * UNITS))
    wide = 4 * UNITS
    cases = [
        ("loop + TensorArray read", lambda x, c: x, UNITS),
        ("+ 1 add", lambda x, c: x + c, UNITS),
        ("+ 1 add + 1 sigmoid", lambda x, c: tf.sigmoid(x + c), UNITS),
        ("+ 5 element-wise ops", lambda x, c: x + tf.sigmoid(x * c) * (c - x), UNITS),
        (
            "+ 10 element-wise ops",
            lambda x, c: (
                (x + tf.sigmoid(x * c) * (c - x)) * tf.tanh(c) + tf.sigmoid(c - x) * x
            ),
            UNITS,
        ),
        ("+ matmul (16x256)@(256x256)", lambda x, c: x + tf.matmul(c, r_square), UNITS),
        (
            "+ matmul (16x256)@(256x1024), slice",
            lambda x, c: tf.matmul(c, r_wide)[:, :UNITS] + x,
            UNITS,
        ),
        ("read 16x1024, 1 slice", lambda x, c: x[:, :UNITS] + c, wide),
        ("read 16x1024, split in 4", lambda x, c: tf.split(x, 4, 1)[0] + c, wide),
        (
            "read 16x1024, reshape + unstack",
            lambda x, c: tf.unstack(tf.reshape(x, (BATCH, 4, UNITS)), axis=1)[0] + c,
            wide,
        ),
    ]
    print(f"TensorFlow {tf.__version__}: microseconds per loop step, batch {BATCH}")
    for name, body, width in cases:
        print(f"{name:<40}{per_step_us(body, width, args.repeats, args.steps):8.1f}")


if __name__ == "__main__":
    main()
