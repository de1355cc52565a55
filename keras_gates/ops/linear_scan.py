"""A parallel scan for linear recurrences, in `keras.ops` only."""

from keras import ops


def _compose(a, b, a_prev, b_prev):
    """The step `h -> a * h + b` after the step `h -> a_prev * h + b_prev`."""
    return a * a_prev, a * b_prev + b


def _shift_static(x, shift, fill):
    """`x` moved `shift` steps later along axis 1, `fill` in the first steps."""
    head = ops.full_like(x[:, :shift], fill)
    return ops.concatenate([head, x[:, :-shift]], axis=1)


def _scan_static(a, b, steps):
    shift = 1
    while shift < steps:
        a_prev = _shift_static(a, shift, 1.0)
        b_prev = _shift_static(b, shift, 0.0)
        a, b = _compose(a, b, a_prev, b_prev)
        shift *= 2
    return a, b


def _scan_dynamic(a, b):
    # Every round keeps the shapes of `a` and `b` (a gather of earlier steps,
    # not a pad and slice), so the loop compiles under XLA and converts to
    # TFLite builtins with the time axis left dynamic.
    steps = ops.shape(a)[1]
    index = ops.arange(steps)

    def cond(shift, a, b):
        return shift < steps

    def body(shift, a, b):
        source = ops.maximum(index - shift, 0)
        valid = ops.reshape(index >= shift, (1, -1, 1))
        a_prev = ops.where(valid, ops.take(a, source, axis=1), 1.0)
        b_prev = ops.where(valid, ops.take(b, source, axis=1), 0.0)
        a, b = _compose(a, b, a_prev, b_prev)
        return shift * 2, a, b

    _, a, b = ops.while_loop(cond, body, (ops.convert_to_tensor(1), a, b))
    return a, b


def linear_scan(a, b, initial):
    """Solves `h_t = a_t * h_{t-1} + b_t` for every step at once.

    A Hillis-Steele scan: ceil(log2(T)) rounds of element-wise work over the
    whole sequence instead of T sequential steps. When the number of steps is
    known when tracing (always under JAX), the rounds are unrolled; otherwise
    they run in a `while_loop` whose every round keeps static shapes, so the
    scan also compiles under XLA and converts to TFLite builtins. Sequences of
    length 0 and 1 need no special case.

    Args:
        a: Tensor of shape `(batch, steps, units)`, the decay of each step.
        b: Tensor of the same shape, the input of each step.
        initial: Tensor of shape `(batch, units)`, `h_0`.

    Returns:
        Tensor of shape `(batch, steps, units)` holding `h_1 ... h_T`.
    """
    a, b, initial = (ops.convert_to_tensor(t) for t in (a, b, initial))
    steps = a.shape[1]
    if steps is None:
        a, b = _scan_dynamic(a, b)
    else:
        a, b = _scan_static(a, b, steps)
    return a * ops.expand_dims(initial, 1) + b
