"""The loop over time on the TensorFlow backend: a `tf.while_loop` that reads
each step from a `TensorArray` and writes each output to one, with the carry
as plain loop variables. (`keras.ops.scan` keeps its carry in TensorArrays
and its outputs in the carry's shape, which costs a read and a write of every
state at every step.) Imported only on the TensorFlow backend. Not public."""

import tensorflow as tf
from keras import tree


def time_loop(step, xs, carry, *, return_all):
    """`carry, y = step(carry, x_t)` over the time-major structure `xs`.

    Returns `(final carry, ys stacked on axis 0 or None)`.
    """
    flat = [tf.convert_to_tensor(x) for x in tree.flatten(xs)]
    # A Python int where the length is static, as Keras' own loop has it:
    # a length read by `tf.shape` and folded to a constant gives an int32
    # trip count that ONNX's Loop (through tf2onnx, `model.export(...,
    # format="onnx")`) refuses beside its int64 iteration number.
    steps = flat[0].shape[0]
    if steps is None:
        steps = tf.shape(flat[0])[0]
    inputs = [
        tf.TensorArray(x.dtype, size=steps, element_shape=x.shape[1:]).unstack(x)
        for x in flat
    ]
    carry = tree.map_structure(tf.convert_to_tensor, carry)

    def read(t):
        return tree.pack_sequence_as(xs, [ta.read(t) for ta in inputs])

    loop = {"maximum_iterations": steps, "parallel_iterations": 32, "swap_memory": True}
    if not return_all:
        # No output array among the loop variables: a TensorArray that the
        # body never writes is one that tf2onnx cannot map to a scan output.
        def body(t, carry):
            return t + 1, step(carry, read(t))[0]

        _, carry = tf.while_loop(
            lambda t, _: t < steps, body, (tf.constant(0), carry), **loop
        )
        return carry, None

    output = tree.flatten(carry)[0]  # the step's output has its shape and type
    outputs = tf.TensorArray(output.dtype, size=steps, element_shape=output.shape)

    def body_with_outputs(t, carry, outputs):
        carry, y = step(carry, read(t))
        return t + 1, carry, outputs.write(t, y)

    _, carry, outputs = tf.while_loop(
        lambda t, *_: t < steps,
        body_with_outputs,
        (tf.constant(0), carry, outputs),
        **loop,
    )
    return carry, outputs.stack()
