"""The loop over time, one per backend: TensorFlow's in `_tf_loop`, JAX's in
`_jax_loop`, `keras.ops.scan` elsewhere (PyTorch), and the unrolled loop of
`unroll=True` on every backend. Not public."""

import importlib

import keras
from keras import ops
from keras import tree

_BACKEND_LOOPS = {"tensorflow": "_tf_loop", "jax": "_jax_loop"}


def time_loop(step, xs, carry, *, unroll, return_all):
    """`carry, y = step(carry, x_t)` over the time-major structure `xs`:
    `(final carry, the ys stacked on axis 0, or None)`."""
    if unroll:
        return _unrolled(step, xs, carry, return_all=return_all)
    module = _BACKEND_LOOPS.get(keras.backend.backend())
    if module is not None:
        loop = importlib.import_module(f"keras_gates.engine.{module}")
        return loop.time_loop(step, xs, carry, return_all=return_all)
    carry, ys = ops.scan(step, carry, xs)
    return carry, (ys if return_all else None)


def _unrolled(step, xs, carry, *, return_all):
    steps = tree.flatten(xs)[0].shape[0]
    ys = []
    for t in range(steps):
        carry, y = step(carry, tree.map_structure(lambda x, t=t: x[t], xs))
        ys.append(y)
    return carry, (ops.stack(ys) if return_all and ys else None)
