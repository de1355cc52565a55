"""The `"compiled"` path: a training call of the peephole LSTM or the CIFG on
TensorFlow without an accelerator, as two XLA-compiled loops (forward and a
hand-written backward) under one custom gradient. Imported only on the
TensorFlow backend. Not public.

Why: TensorFlow runs the step loop op by op on a CPU, and autodiff cannot
reach into an XLA-compiled loop (its saved steps would cross the cluster's
boundary as TensorLists). Written out, the backward step is element-wise
work and one product, `dz_t @ R^T`; the weights' gradients are one GEMM
each after the loop. Measured by `python -m benchmarks.lstm_levers`.

The gradient of this gradient (a gradient penalty, say) is autodiff's of
the same loop in plain TensorFlow ops, recomputed: rare, and exact.

No recompilation per sequence length: the sequence is padded to a bucket (a
power of two, at least 16 steps) and both loops run the true number of steps,
which reaches XLA as a value, not a shape: one compilation per bucket and
batch size.

The step, in the cells' own terms (`PeepholeLSTMCell`, `CoupledLSTMCell`;
the peepholes that a cell lacks are zeros here):

```
z   = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias
i   = σ(z_i + p_i ⊙ c_{t-1});   f = σ(z_f + p_f ⊙ c_{t-1})  or  1 - i (CIFG)
c_t = f ⊙ c_{t-1} + i ⊙ tanh(z_c)
o   = σ(z_o + p_o ⊙ c_t);   h_t = o ⊙ tanh(c_t)
```

Under a mask, a masked step keeps h and c (its gradients pass through
it, and its `dz` is zero); the outputs at masked steps (the previous
output, or zeros) are `engine.run`'s, outside these loops.
"""

import functools

import tensorflow as tf

from keras_gates.cells import lstm_family

MIN_BUCKET = 16
# The gate blocks of the weights that the loops read.
_BLOCKS = ("input", "forget", "cell", "output")
_COUPLED_BLOCKS = ("input", "cell", "output")


def supports(cell):
    """Whether the compiled loops compute exactly what `cell` computes: an LSTM
    that describes itself (`keras_gates.cells.lstm_family.describe`) with
    the steps above, every gate (or the CIFG's coupling), float32, sigmoid
    and tanh, and none of the options that change the step (projection,
    layer normalization, a cell clip, the full gate recurrence, recurrent
    dropout)."""
    form = lstm_family.describe(cell)
    if form is None or form.absent_gates():
        return False
    return (
        form.blocks == (_COUPLED_BLOCKS if form.coupled else _BLOCKS)
        and (form.gate_activation, form.input_activation, form.output_activation)
        == ("sigmoid", "tanh", "tanh")
        and form.dtype == "float32"
        and form.projection_units is None
        and not form.layer_norm
        and form.cell_clip is None
        and not form.full_gate_recurrence
        and not form.recurrent_dropout
    )


def bucket(steps):
    """The padded length of a sequence of `steps` steps (a scalar tensor):
    the next power of two, at least `MIN_BUCKET`."""
    steps = tf.maximum(tf.cast(steps, tf.int32), MIN_BUCKET)
    return tf.bitwise.left_shift(1, 32 - _leading_zeros(steps - 1))


def _leading_zeros(n):
    """Leading zero bits of the positive int32 `n` (n = 0 counts 32)."""
    bits = tf.range(31, -1, -1)
    set_bits = tf.cast(tf.bitwise.right_shift(n, bits) > 0, tf.int32)
    return tf.reduce_sum(tf.cast(tf.cumsum(set_bits) == 0, tf.int32))


def _gates(z, c_prev, peepholes, coupled):
    """`(i, f, g)` of one step from its pre-activations `z`."""
    p_i, p_f, _ = peepholes
    if coupled:
        z_i, z_c, _ = tf.split(z, 3, axis=-1)
        i = tf.sigmoid(z_i + p_i * c_prev)
        return i, 1.0 - i, tf.tanh(z_c)
    z_i, z_f, z_c, _ = tf.split(z, 4, axis=-1)
    return tf.sigmoid(z_i + p_i * c_prev), tf.sigmoid(z_f + p_f * c_prev), tf.tanh(z_c)


def _array(size, like):
    return tf.TensorArray(like.dtype, size=size, element_shape=like.shape)


@functools.partial(tf.function, jit_compile=True)
def _forward(x, valid, steps, h, c, kernel, recurrent, bias, peepholes, coupled):
    """Runs `steps` steps of the padded time-major `x`: every step's h, c
    and gates `[i, f, g, o]` (rows past `steps` unwritten), and the final
    h and c. `valid` (time-major, `(size, batch, 1)` booleans, or None):
    a step where it is False keeps h and c."""
    size = tf.shape(x)[0]  # a constant when XLA compiles
    xs = _array(size, x[0]).unstack(x)
    vs = None if valid is None else _array(size, valid[0]).unstack(valid)
    saved = [_array(size, h), _array(size, c), _array(size, tf.tile(h, (1, 4)))]

    def body(t, h, c, hs, cs, gs):
        z = tf.matmul(xs.read(t), kernel) + tf.matmul(h, recurrent) + bias
        i, f, g = _gates(z, c, peepholes, coupled)
        new_c = f * c + i * g
        o = tf.sigmoid(z[:, -h.shape[-1] :] + peepholes[2] * new_c)
        new_h = o * tf.tanh(new_c)
        if vs is None:
            h, c = new_h, new_c
        else:
            v = vs.read(t)
            h, c = tf.where(v, new_h, h), tf.where(v, new_c, c)
        gates = tf.concat([i, f, g, o], axis=-1)
        return t + 1, h, c, hs.write(t, h), cs.write(t, c), gs.write(t, gates)

    _, h, c, hs, cs, gs = tf.while_loop(
        lambda t, *_: t < steps, body, (0, h, c, *saved), maximum_iterations=size
    )
    return hs.stack(), cs.stack(), gs.stack(), h, c


@functools.partial(tf.function, jit_compile=True)
def _backward(
    dhs, dh, dc, valid, steps, c_prevs, cs, gs, recurrent, peepholes, coupled
):
    """From the last step to the first: every step's `dz` (the gradient of
    its pre-activations, blocks as the kernel's; zeros at a masked step),
    and the gradients of the initial h and c. `c_prevs` is `cs` one step
    later, `c0` first."""
    size = tf.shape(dhs)[0]
    dh_in, c_prev_in, c_in, g_in = (
        _array(size, a[0]).unstack(a) for a in (dhs, c_prevs, cs, gs)
    )
    vs = None if valid is None else _array(size, valid[0]).unstack(valid)
    p_i, p_f, p_o = peepholes

    def body(k, dh, dc, dzs):
        t = steps - 1 - k
        i, f, g, o = tf.split(g_in.read(t), 4, axis=-1)
        c, c_prev = c_in.read(t), c_prev_in.read(t)
        dh = dh + dh_in.read(t)
        tanh_c = tf.tanh(c)
        dz_o = dh * tanh_c * o * (1.0 - o)
        dc_t = dc + dh * o * (1.0 - tanh_c * tanh_c) + dz_o * p_o
        dz_c = dc_t * i * (1.0 - g * g)
        if coupled:  # c = c_prev + i (g - c_prev)
            dz_i = dc_t * (g - c_prev) * i * (1.0 - i)
            dz = tf.concat([dz_i, dz_c, dz_o], axis=-1)
            dc_prev = dc_t * f + dz_i * p_i
        else:
            dz_i = dc_t * g * i * (1.0 - i)
            dz_f = dc_t * c_prev * f * (1.0 - f)
            dz = tf.concat([dz_i, dz_f, dz_c, dz_o], axis=-1)
            dc_prev = dc_t * f + dz_i * p_i + dz_f * p_f
        dh_prev = tf.matmul(dz, recurrent, transpose_b=True)
        if vs is not None:  # a masked step passes h's and c's gradients on
            v = vs.read(t)
            dz = tf.where(v, dz, 0.0)
            dh_prev, dc_prev = tf.where(v, dh_prev, dh), tf.where(v, dc_prev, dc)
        return k + 1, dh_prev, dc_prev, dzs.write(t, dz)

    blocks = 3 if coupled else 4
    dzs = _array(size, tf.tile(dh, (1, blocks)))
    _, dh, dc, dzs = tf.while_loop(
        lambda k, *_: k < steps, body, (0, dh, dc, dzs), maximum_iterations=size
    )
    return dzs.stack(), dh, dc


def run(cell, inputs, h0, c0, mask=None):
    """`(hs, h, c)` of `cell` over the time-major `inputs` (batch and
    features known), from `h0, c0`: every step's h, time-major, and the
    final states. A step where the time-major boolean `mask` `(steps,
    batch)` is False keeps h and c (and `hs` repeats h there)."""
    form = lstm_family.describe(cell)
    coupled = form.coupled
    peepholes = [form.peepholes.get(g) for g in ("input", "forget", "output")]
    weights = [form.kernel, form.recurrent_kernel, form.bias, *peepholes]
    present = [w is not None for w in weights]
    steps = tf.shape(inputs)[0]
    size = bucket(steps)
    padded = tf.pad(inputs, [[0, size - steps], [0, 0], [0, 0]])
    valid = None
    if mask is not None:
        valid = tf.pad(
            tf.cast(mask, tf.bool)[..., None], [[0, size - steps], [0, 0], [0, 0]]
        )
    zeros = {
        2: tf.zeros((form.recurrent_kernel.shape[-1],), inputs.dtype),
        **{k: tf.zeros((form.units,), inputs.dtype) for k in (3, 4, 5)},
    }

    def all_weights(given):
        """The six weights, zeros for those the cell lacks."""
        given = iter(given)
        return [next(given) if has else zeros[k] for k, has in enumerate(present)]

    def reference(padded, h0, c0, given):
        """The same forward pass in plain TensorFlow ops, which autodiff
        differentiates to any order: the gradient of the gradient."""
        w = all_weights(given)
        hs, _, _, h, c = _forward.python_function(
            padded[:steps],
            None if valid is None else valid[:steps],
            steps,
            h0,
            c0,
            *w[:3],
            w[3:],
            coupled,
        )
        return hs, h, c

    @tf.custom_gradient
    def compiled(padded, h0, c0, *given):
        w = all_weights(given)
        # Cut from the tape: autodiff must not trace into the XLA loop.
        cut = [tf.stop_gradient(a) for a in (padded, h0, c0, *w)]
        hs, cs, gs, h, c = _forward(
            cut[0], valid, steps, cut[1], cut[2], *cut[3:6], cut[6:], coupled
        )

        @tf.custom_gradient
        def first_order(d_outputs, d_h, d_c, padded, h0, c0, *given):
            """The gradients of the inputs, the initial states and the
            weights: the hand-written backward pass."""
            # Every step's previous states, shifted once here (the backward
            # loop and the weights' gradients both read them).
            c_prevs = tf.concat([cut[2][None], cs[:-1]], axis=0)
            h_prev = tf.concat([cut[1][None], hs], axis=0)[:steps]
            # Cut too: `second_order` is this function's gradient.
            dy = [tf.stop_gradient(d) for d in (d_outputs, d_h, d_c)]
            dzs, dh0, dc0 = _backward(
                *dy, valid, steps, c_prevs, cs, gs, cut[4], cut[6:], coupled
            )
            dz = dzs[:steps]
            rows = tf.reshape(dz, (-1, dz.shape[-1]))
            c_prev = c_prevs[:steps]

            def flat(a):
                return tf.reshape(a, (-1, a.shape[-1]))

            d_inputs = tf.reshape(
                tf.matmul(rows, cut[3], transpose_b=True), tf.shape(cut[0][:steps])
            )
            blocks = tf.split(dz, 3 if coupled else 4, axis=-1)
            d_weights = [
                tf.matmul(flat(cut[0][:steps]), rows, transpose_a=True),
                tf.matmul(flat(h_prev), rows, transpose_a=True),
                tf.reduce_sum(rows, axis=0),
                tf.reduce_sum(blocks[0] * c_prev, axis=(0, 1)),
                None if coupled else tf.reduce_sum(blocks[1] * c_prev, axis=(0, 1)),
                tf.reduce_sum(blocks[-1] * cs[:steps], axis=(0, 1)),
            ]
            grads = [
                tf.pad(d_inputs, [[0, size - steps], [0, 0], [0, 0]]),
                dh0,
                dc0,
                *(d for d, has in zip(d_weights, present, strict=True) if has),
            ]

            def second_order(*upstream):
                # Rare (gradient penalties): recomputed by autodiff of the
                # plain loop, outside XLA.
                primals = [padded, h0, c0, *given]
                cotangents = [d_outputs, d_h, d_c]
                with tf.GradientTape() as outer:
                    outer.watch(cotangents + primals)
                    with tf.GradientTape() as inner:
                        inner.watch(primals)
                        hs, h, c = reference(padded, h0, c0, given)
                    first = inner.gradient(
                        [hs, h, c],
                        primals,
                        output_gradients=[d_outputs[:steps], d_h, d_c],
                        unconnected_gradients="zero",
                    )
                    total = tf.add_n(
                        [
                            tf.reduce_sum(f * u)
                            for f, u in zip(first, upstream, strict=True)
                            if u is not None
                        ]
                    )
                return outer.gradient(
                    total, cotangents + primals, unconnected_gradients="zero"
                )

            return grads, second_order

        def grad(d_outputs, d_h, d_c):
            d_outputs, d_h, d_c = (
                tf.zeros_like(like) if d is None else d
                for d, like in ((d_outputs, hs), (d_h, h), (d_c, c))
            )
            return first_order(d_outputs, d_h, d_c, padded, h0, c0, *given)

        return (hs, h, c), grad

    # Values read before the custom gradient, not variables read inside it
    # (a stateful layer's states are variables that its call then assigns).
    values = [tf.convert_to_tensor(w.value) for w in weights if w is not None]
    h0, c0 = tf.convert_to_tensor(h0), tf.convert_to_tensor(c0)
    hs, h, c = compiled(padded, h0, c0, *values)
    return hs[:steps], h, c
