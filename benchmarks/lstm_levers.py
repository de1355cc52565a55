"""What was tried to make the peephole LSTM as fast as `torch.nn.LSTM` on a
CPU with TensorFlow: each lever as a plain TensorFlow train step and forward
pass of the peephole LSTM (`PeepholeLSTMCell`'s equations, 128 inputs, 256
units), timed against `torch.nn.LSTM` and the Keras layers in one run
(`benchmarks.workers`' alternating worker processes, medians).

Levers (each checked against the step loop before it is timed: outputs and
gradients of every weight and of the inputs, printed as `max |error|`):

- `tf loop`: the step loop as the engine runs it, a `tf.while_loop` of
  `x_t @ W + h @ R` and the gate math, differentiated by TensorFlow: the
  baseline of the levers.
- `XLA loop`: the same loop compiled by XLA (`jit_compile=True` on the
  loop alone, the model left as compiled). Autodiff cannot cross into an
  XLA cluster from a loop (`TensorList crossing the XLA/TF boundary`), so it
  trains with the hand-written backward pass below, compiled by XLA too.
  XLA compiles once per sequence length here; the engine's `"compiled"` path,
  which keeps this lever for training calls, pads to a bucket instead.
- `XLA chunks`: the loop cut into chunks of 20 steps, each one XLA
  cluster (unrolled), so that one compilation serves every length that 20
  divides; trains with the hand-written backward of a chunk.
- `hand-written backward`: the backward pass written out, no XLA: per step
  only `dz_t` (element-wise) and `dz_t @ R^T`; the weight gradients as one
  GEMM each after the loop.
- `LSTMBlockCell`: TensorFlow's fused LSTM step with peepholes
  (`tf.raw_ops.LSTMBlockCell`, gates i, c, f, o; `[x, h] @ W` in the op)
  at each step of the loop; TensorFlow registers no gradient for it, so this
  module registers one from `LSTMBlockCellGrad`.
- `BlockLSTM`: TensorFlow's fused LSTM over the whole sequence (gates
  i, c, f, o), its gradient `BlockLSTMGrad`.
- `BlockLSTMV2`: the same with Keras' gate order i, f, c, o. Its forward
  pass agrees with the loop; the gradient TensorFlow 2.21 registers for it
  does not (its `max |error|` line shows by how much).

    python -m benchmarks.lstm_levers            # 64x100 and 16x1000, 7 rounds
    python -m benchmarks.lstm_levers --lengths  # 20 batches of 20 lengths

Writes `lstm_levers.json` into `--out`. Results: the Speed guide.
"""

import argparse
import functools
import time

import numpy as np

from benchmarks import workers
from benchmarks.cases import FEATURES
from benchmarks.cases import TARGET_SHAPES
from benchmarks.cases import UNITS
from benchmarks.smoke import parse_args
from benchmarks.smoke import smoke

LEVERS = [
    "tf loop",
    "XLA loop",
    "XLA chunks",
    "hand-written backward",
    "LSTMBlockCell",
    "BlockLSTM",
    "BlockLSTMV2",
]
# The layers: their defaults (a training call takes the engine's fused
# path, the lever kept), the step loop forced, and the model under XLA.
KERAS_CASES = [
    f"{layer}{path}"
    for layer in ("PeepholeLSTM", "CoupledLSTM")
    for path in (" steps", "", " jit")
]
CHUNK = 20
PRESETS = {
    "quick": {"shapes": TARGET_SHAPES, "rounds": 7},
    "smoke": {"shapes": [(4, 40)], "rounds": 2, "features": 8, "units": 16},
}
# `--lengths` under KERAS_GATES_SMOKE=1: two short lengths, a small layer.
SMOKE_LENGTHS = {"batch": 2, "lengths": (8, 12), "features": 8, "units": 16}


def _peephole_lstm(tf):
    """The levers as functions of time-major `x` and the weights (Keras'
    gate order i, f, c, o; three peephole vectors), each returning every
    step's `h`: `{name: (sequence_fn, forward_only_fn)}`."""

    def step(x_t, h, c, w):
        kernel, recurrent, bias, p_i, p_f, p_o = w
        z = x_t @ kernel + h @ recurrent + bias
        z_i, z_f, z_c, z_o = tf.split(z, 4, axis=-1)
        i = tf.sigmoid(z_i + p_i * c)
        f = tf.sigmoid(z_f + p_f * c)
        g = tf.tanh(z_c)
        c = f * c + i * g
        o = tf.sigmoid(z_o + p_o * c)
        return o * tf.tanh(c), c, (i, f, g, o)

    def zeros(x, w):
        return tf.zeros((tf.shape(x)[1], w[1].shape[0]))

    def array(size, like):
        return tf.TensorArray(like.dtype, size=size, element_shape=like.shape)

    def tf_loop(x, w, *, xla=False):
        steps = tf.shape(x)[0]
        xs = array(steps, x[0]).unstack(x)
        h = c = zeros(x, w)
        hs = array(steps, h)

        def body(t, h, c, hs):
            h, c, _ = step(xs.read(t), h, c, w)
            return t + 1, h, c, hs.write(t, h)

        loop = {"maximum_iterations": steps} if xla else {"swap_memory": True}
        _, _, _, hs = tf.while_loop(
            lambda t, *_: t < steps, body, (0, h, c, hs), **loop
        )
        return hs.stack()

    # ------------------------------------------------ hand-written backward

    def forward_saving(x, w, *, xla=False):
        """Every step's h, c and gates [i, f, g, o], time-major."""
        steps = tf.shape(x)[0]
        xs = array(steps, x[0]).unstack(x)
        h = c = zeros(x, w)
        out = [array(steps, h), array(steps, h), array(steps, tf.tile(h, (1, 4)))]

        def body(t, h, c, hs, cs, gs):
            h, c, gates = step(xs.read(t), h, c, w)
            gs = gs.write(t, tf.concat(gates, -1))
            return t + 1, h, c, hs.write(t, h), cs.write(t, c), gs

        loop = {"maximum_iterations": steps} if xla else {"swap_memory": True}
        _, _, _, *out = tf.while_loop(
            lambda t, *_: t < steps, body, (0, h, c, *out), **loop
        )
        return tuple(a.stack() for a in out)

    def step_backward(dh, dc, gates, c, c_prev, w):
        """`(dz, dh_prev, dc_prev)` of one step, from the step's gates and
        states and the gradients reaching its h and c."""
        recurrent, p_i, p_f, p_o = w[1], w[3], w[4], w[5]
        i, f, g, o = tf.split(gates, 4, -1)
        tanh_c = tf.tanh(c)
        dz_o = dh * tanh_c * o * (1 - o)
        dc = dc + dh * o * (1 - tanh_c * tanh_c) + dz_o * p_o
        dz_i = dc * g * i * (1 - i)
        dz_f = dc * c_prev * f * (1 - f)
        dz_c = dc * i * (1 - g * g)
        dz = tf.concat([dz_i, dz_f, dz_c, dz_o], -1)
        dh_prev = tf.matmul(dz, recurrent, transpose_b=True)
        return dz, dh_prev, dc * f + dz_i * p_i + dz_f * p_f

    def weight_gradients(x, w, dz, hs, cs):
        """The gradients of x and of every weight, from every step's dz."""
        kernel = w[0]
        first = tf.zeros_like(hs[:1])
        h_prev = tf.concat([first, hs[:-1]], 0)
        c_prev = tf.concat([first, cs[:-1]], 0)
        flat = tf.reshape(dz, (-1, dz.shape[-1]))
        units = hs.shape[-1]

        def rows(a):
            return tf.reshape(a, (-1, a.shape[-1]))

        dz_i, dz_f, _, dz_o = tf.split(dz, 4, -1)
        return (
            tf.reshape(flat @ tf.transpose(kernel), tf.shape(x)),
            tf.matmul(rows(x), flat, transpose_a=True),
            tf.matmul(tf.reshape(h_prev, (-1, units)), flat, transpose_a=True),
            tf.reduce_sum(flat, 0),
            tf.reduce_sum(dz_i * c_prev, (0, 1)),
            tf.reduce_sum(dz_f * c_prev, (0, 1)),
            tf.reduce_sum(dz_o * cs, (0, 1)),
        )

    def backward(dhs, w, hs, cs, gs, *, xla=False):
        """Every step's dz, in a loop from the last step to the first."""
        steps = tf.shape(dhs)[0]
        c_prev = tf.concat([tf.zeros_like(cs[:1]), cs[:-1]], 0)
        read = [array(steps, a[0]).unstack(a) for a in (dhs, gs, cs, c_prev)]
        zero = tf.zeros_like(dhs[0])

        def body(k, dh, dc, dzs):
            t = steps - 1 - k
            dh_t, gates, c, c_p = (a.read(t) for a in read)
            dz, dh, dc = step_backward(dh + dh_t, dc, gates, c, c_p, w)
            return k + 1, dh, dc, dzs.write(t, dz)

        dzs = array(steps, gs[0])
        loop = {"maximum_iterations": steps} if xla else {"swap_memory": True}
        *_, dzs = tf.while_loop(
            lambda k, *_: k < steps, body, (0, zero, zero, dzs), **loop
        )
        return dzs.stack()

    def hand_written(forward_fn, backward_fn):
        @tf.custom_gradient
        def sequence(x, *w):
            hs, cs, gs = forward_fn(x, w)

            def grad(dhs):
                dz = backward_fn(dhs, w, hs, cs, gs)
                return weight_gradients(x, w, dz, hs, cs)

            return hs, grad

        # Called through a plain function: AutoGraph, converting a direct
        # call, would unwrap `custom_gradient`.
        return lambda x, *w: sequence(x, *w)

    xla_forward = tf.function(lambda x, w: tf_loop(x, w, xla=True), jit_compile=True)
    xla_saving = tf.function(
        lambda x, w: forward_saving(x, w, xla=True), jit_compile=True
    )
    xla_backward = tf.function(
        lambda dhs, w, hs, cs, gs: backward(dhs, w, hs, cs, gs, xla=True),
        jit_compile=True,
    )

    # ----------------------------------------------------------- XLA chunks

    @tf.function(jit_compile=True)
    def chunk_forward(x, h, c, w):
        hs, cs, gs = [], [], []
        for k in range(CHUNK):
            h, c, gates = step(x[k], h, c, w)
            hs.append(h)
            cs.append(c)
            gs.append(tf.concat(gates, -1))
        return h, c, tf.stack(hs), tf.stack(cs), tf.stack(gs)

    @tf.function(jit_compile=True)
    def chunk_backward(dhs, dh, dc, gs, cs, c_prev, w):
        dzs = [None] * CHUNK
        for k in reversed(range(CHUNK)):
            dzs[k], dh, dc = step_backward(dh + dhs[k], dc, gs[k], cs[k], c_prev[k], w)
        return dh, dc, tf.stack(dzs)

    def chunked(x):
        steps = tf.shape(x)[0]
        return tf.reshape(x, (steps // CHUNK, CHUNK, *x.shape[1:])), steps // CHUNK

    def chunks_saving(x, w):
        xc, n = chunked(x)
        h = c = zeros(x, w)
        out = [array(n, tf.stack([h] * CHUNK)), array(n, tf.stack([h] * CHUNK))]
        out.append(array(n, tf.stack([tf.tile(h, (1, 4))] * CHUNK)))

        def body(j, h, c, hs, cs, gs):
            h, c, h_j, c_j, g_j = chunk_forward(xc[j], h, c, w)
            return j + 1, h, c, hs.write(j, h_j), cs.write(j, c_j), gs.write(j, g_j)

        _, _, _, *out = tf.while_loop(lambda j, *_: j < n, body, (0, h, c, *out))
        return tuple(tf.reshape(a.stack(), (-1, *a.element_shape[1:])) for a in out)

    def chunks_backward(dhs, w, hs, cs, gs):
        c_prev = tf.concat([tf.zeros_like(cs[:1]), cs[:-1]], 0)
        (dhs, n), (gs, _), (cs, _), (c_prev, _) = map(chunked, (dhs, gs, cs, c_prev))
        zero = tf.zeros_like(dhs[0, 0])

        def body(k, dh, dc, dzs):
            j = n - 1 - k
            dh, dc, dz = chunk_backward(dhs[j], dh, dc, gs[j], cs[j], c_prev[j], w)
            return k + 1, dh, dc, dzs.write(j, dz)

        dzs = array(n, gs[0])
        *_, dzs = tf.while_loop(lambda k, *_: k < n, body, (0, zero, zero, dzs))
        return tf.reshape(dzs.stack(), (-1, *gs.shape[2:]))

    def chunks_forward(x, w):
        xc, n = chunked(x)
        h = c = zeros(x, w)
        hs = array(n, tf.stack([h] * CHUNK))

        def body(j, h, c, hs):
            h, c, h_j, *_ = chunk_forward(xc[j], h, c, w)
            return j + 1, h, c, hs.write(j, h_j)

        *_, hs = tf.while_loop(lambda j, *_: j < n, body, (0, h, c, hs))
        return tf.reshape(hs.stack(), (-1, *hs.element_shape[1:]))

    # ------------------------------------------------- TensorFlow's fused ops

    def icfo(w):
        """The fused weights in the Block ops' gate order i, c, f, o."""
        kernel, recurrent, bias = w[:3]

        def reorder(a):
            i, f, c, o = tf.split(a, 4, axis=-1)
            return tf.concat([i, c, f, o], -1)

        return reorder(tf.concat([kernel, recurrent], 0)), reorder(bias)

    def block_args(w):
        """The Block ops' weights (gates i, c, f, o), peepholes, no clip."""
        fused, bias = icfo(w)
        peepholes = {"wci": w[3], "wcf": w[4], "wco": w[5]}
        return {
            "w": fused,
            "b": bias,
            **peepholes,
            "cell_clip": -1.0,
            "use_peephole": True,
        }

    def block_cell(x, w):
        args = block_args(w)  # reordered once, outside the loop
        steps = tf.shape(x)[0]
        xs = array(steps, x[0]).unstack(x)
        h = c = zeros(x, w)
        hs = array(steps, h)

        def body(t, h, c, hs):
            out = tf.raw_ops.LSTMBlockCell(
                x=xs.read(t), cs_prev=c, h_prev=h, forget_bias=0.0, **args
            )
            return t + 1, out[6], out[1], hs.write(t, out[6])

        *_, hs = tf.while_loop(
            lambda t, *_: t < steps, body, (0, h, c, hs), swap_memory=True
        )
        return hs.stack()

    def block_lstm(x, w, version=1):
        args = block_args(w)
        op = functools.partial(tf.raw_ops.BlockLSTM, forget_bias=0.0)
        if version == 2:  # Keras' gate order
            args.update(w=tf.concat([w[0], w[1]], 0), b=w[2])
            op = tf.raw_ops.BlockLSTMV2
        h = zeros(x, w)
        steps = tf.cast(tf.shape(x)[0], tf.int64)
        return op(seq_len_max=steps, x=x, cs_prev=h, h_prev=h, **args)[6]

    def block_lstm_v2(x, w):
        return block_lstm(x, w, version=2)

    def over(fn):
        return lambda x, *w: fn(x, w)

    return {
        "tf loop": (over(tf_loop), over(tf_loop)),
        "XLA loop": (
            hand_written(xla_saving, xla_backward),
            lambda x, *w: xla_forward(x, w),
        ),
        "XLA chunks": (
            hand_written(chunks_saving, chunks_backward),
            over(chunks_forward),
        ),
        "hand-written backward": (
            hand_written(forward_saving, backward),
            over(tf_loop),
        ),
        "LSTMBlockCell": (over(block_cell), over(block_cell)),
        "BlockLSTM": (over(block_lstm), over(block_lstm)),
        "BlockLSTMV2": (over(block_lstm_v2), over(block_lstm_v2)),
    }


_REGISTERED = []


def _register_block_cell_gradient(tf):
    """`LSTMBlockCell`'s gradient: its Grad op gives the gates' `dz` and the
    peephole and previous-state gradients; `[x, h]`'s and the weights'
    come from `dz`."""
    if _REGISTERED:
        return

    @tf.RegisterGradient("LSTMBlockCell")
    def _(op, *grads):
        x, cs_prev, h_prev, w, wci, wcf, wco, b = op.inputs
        i, cs, f, o, ci, co, h = op.outputs
        cs_grad = grads[1] if grads[1] is not None else tf.zeros_like(cs)
        h_grad = grads[6] if grads[6] is not None else tf.zeros_like(h)
        cs_prev_grad, dz, wci_grad, wcf_grad, wco_grad = tf.raw_ops.LSTMBlockCellGrad(
            x=x,
            cs_prev=cs_prev,
            h_prev=h_prev,
            w=w,
            wci=wci,
            wcf=wcf,
            wco=wco,
            b=b,
            i=i,
            cs=cs,
            f=f,
            o=o,
            ci=ci,
            co=co,
            cs_grad=cs_grad,
            h_grad=h_grad,
            use_peephole=op.get_attr("use_peephole"),
        )
        xh_grad = tf.matmul(dz, w, transpose_b=True)
        x_grad, h_prev_grad = tf.split(xh_grad, [x.shape[-1], h_prev.shape[-1]], 1)
        w_grad = tf.matmul(tf.concat([x, h_prev], 1), dz, transpose_a=True)
        return (
            x_grad,
            cs_prev_grad,
            h_prev_grad,
            w_grad,
            wci_grad,
            wcf_grad,
            wco_grad,
            tf.reduce_sum(dz, 0),
        )

    _REGISTERED.append(True)


def lever_cases(names, batch, steps, features, units, device=None):
    """`{name: (train, infer)}`: a train step (forward, MSE on the last h,
    gradients, SGD) and a forward pass, each a `tf.function`; and checks each
    lever's outputs and gradients against `tf loop`'s first."""
    import tensorflow as tf

    _register_block_cell_gradient(tf)
    levers = _peephole_lstm(tf)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(steps, batch, features)).astype("float32"))
    y = tf.constant(rng.normal(size=(batch, units)).astype("float32"))
    scale = [features**-0.5, units**-0.5, 0.1, 0.1, 0.1, 0.1]
    shapes = [
        (features, 4 * units),
        (units, 4 * units),
        (4 * units,),
        (units,),
        (units,),
        (units,),
    ]
    weights = [
        tf.Variable(s * rng.normal(size=shape).astype("float32"))
        for s, shape in zip(scale, shapes, strict=True)
    ]

    def loss_and_grads(sequence):
        with tf.GradientTape() as tape:
            tape.watch(x)
            values = [tf.convert_to_tensor(w) for w in weights]
            loss = tf.reduce_mean((sequence(x, *values)[-1] - y) ** 2)
        return loss, tape.gradient(loss, [x, *weights])

    reference = tf.function(lambda: loss_and_grads(levers["tf loop"][0]))()
    cases, errors = {}, {}
    for name in names:
        sequence, forward = levers[name]

        @tf.function
        def train(sequence=sequence):
            loss, grads = loss_and_grads(sequence)
            for weight, grad in zip(weights, grads[1:], strict=True):
                weight.assign_sub(0.01 * tf.convert_to_tensor(grad))
            return loss

        infer = tf.function(
            lambda forward=forward: forward(x, *map(tf.convert_to_tensor, weights))[-1]
        )
        got = tf.function(lambda sequence=sequence: loss_and_grads(sequence))()
        errors[name] = max(
            float(tf.reduce_max(tf.abs(tf.convert_to_tensor(a) - b)))
            for a, b in zip(reference[1], got[1], strict=True)
        )
        last = levers["tf loop"][1](x, *map(tf.convert_to_tensor, weights))[-1]
        errors[name] = max(errors[name], float(tf.reduce_max(tf.abs(infer() - last))))
        cases[name] = (lambda train=train: train().numpy(), lambda i=infer: i().numpy())
    return cases, errors


def variable_lengths(
    layers, batch=16, lengths=range(50, 150, 5), features=None, units=None
):
    """Seconds of `train_on_batch` over a batch of each length (20 batches
    of 20 lengths by default), twice: the first pass pays every compilation
    (per length for a model under XLA, per bucket for the compiled loops), the
    second none."""
    import keras

    from benchmarks.cases import CASES

    features = features or FEATURES
    units = units or UNITS
    print(
        f"train_on_batch over {len(lengths)} batches of {len(lengths)} lengths, "
        f"{min(lengths)} to {max(lengths)} steps:"
    )
    rng = np.random.default_rng(0)
    batches = [
        (
            rng.normal(size=(batch, steps, features)).astype("float32"),
            rng.normal(size=(batch, units)).astype("float32"),
        )
        for steps in lengths
    ]
    result = {}
    for name in layers:
        case = CASES[name]
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((None, features)), case.build(units)])
        model.compile(optimizer="sgd", loss="mse", **case.compile_args)
        passes = []
        for _ in range(2):
            start = time.perf_counter()
            for x, y in batches:
                model.train_on_batch(x, y)
            passes.append(time.perf_counter() - start)
        result[name] = passes
        print(f"  {name:<20} first pass {passes[0]:6.1f} s, second {passes[1]:6.1f} s")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="quick",
        help="KERAS_GATES_SMOKE=1 in the environment runs 'smoke' instead",
    )
    parser.add_argument("--levers", nargs="+", choices=LEVERS, default=LEVERS)
    parser.add_argument("--layers", nargs="*", default=KERAS_CASES)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument(
        "--lengths",
        action="store_true",
        help="instead: 20 training batches of 20 lengths (50-145 steps, batch 16)",
    )
    args = parse_args(parser, argv, preset="smoke", rounds=None)
    if args.lengths:
        return variable_lengths(args.layers, **(SMOKE_LENGTHS if smoke() else {}))
    preset = PRESETS[args.preset]
    rounds = args.rounds or preset["rounds"]
    features = preset.get("features", FEATURES)
    units = preset.get("units", UNITS)
    groups = [
        ("benchmarks.lstm_levers:lever_cases", args.levers),
        ("benchmarks.peers:keras_cases", args.layers),
        ("benchmarks.peers:torch_cases", ["torch.nn.LSTM"]),
    ]
    records, errors = [], {}
    for batch, steps in preset["shapes"]:
        print(f"Timing batch {batch} x {steps} steps x {features} -> {units}")
        times, shape_errors = workers.time_groups(
            groups, (batch, steps), features, units, rounds
        )
        errors[f"{batch}x{steps}"] = shape_errors
        records.extend(workers.summarize(times, batch, steps))
    print()
    workers.print_table(records, preset["shapes"])
    print("\nmax |error| of outputs and gradients against `tf loop`:")
    for shape, shape_errors in errors.items():
        print(
            f"  {shape}: " + ", ".join(f"{k} {v:.1e}" for k, v in shape_errors.items())
        )
    result = {
        "preset": args.preset,
        "rounds": rounds,
        "chunk": CHUNK,
        "errors": errors,
        "records": records,
    }
    return workers.write_json(result, args.out, "lstm_levers.json")


if __name__ == "__main__":
    main()
