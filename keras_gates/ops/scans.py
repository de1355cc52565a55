"""A parallel scan for linear recurrences, in `keras.ops` only."""

from keras import ops


def _compose(a, b, a_prev, b_prev):
    """The step `h -> a * h + b` after the step `h -> a_prev * h + b_prev`."""
    return a * a_prev, a * b_prev + b


def _logaddexp(x, y):
    """`log(exp(x) + exp(y))` from Exp, Log and Maximum alone (ONNX has no
    Log1p, which `ops.logaddexp` uses on TensorFlow)."""
    top = ops.maximum(x, y)
    return top + ops.log(ops.exp(x - top) + ops.exp(y - top))


def _compose_log(a, b, a_prev, b_prev):
    """`_compose` on logarithms: `log a`, `log b` of the composed step."""
    return a + a_prev, _logaddexp(a + b_prev, b)


# log(0) in the log-space scan: a finite stand-in, so that no gradient meets
# an infinity (exp of it is exactly 0 in float32, and sums of two stay finite).
LOG_ZERO = -1e30


def _along(axis, start, stop):
    """The index of `start:stop` along `axis`."""
    return (slice(None),) * axis + (slice(start, stop),)


def _shift_static(x, shift, fill, axis):
    """`x` moved `shift` steps later along `axis`, `fill` in the first steps."""
    head = ops.full_like(x[_along(axis, None, shift)], fill)
    return ops.concatenate([head, x[_along(axis, None, -shift)]], axis=axis)


def _scan_static(a, b, steps, axis, compose=_compose, identity=(1.0, 0.0)):
    shift = 1
    while shift < steps:
        a_prev = _shift_static(a, shift, identity[0], axis)
        b_prev = _shift_static(b, shift, identity[1], axis)
        a, b = compose(a, b, a_prev, b_prev)
        shift *= 2
    return a, b


def _scan_dynamic(a, b, axis, compose=_compose, identity=(1.0, 0.0)):
    # Every round keeps the shapes of `a` and `b` (a gather of earlier steps,
    # not a pad and slice), so the loop compiles under XLA and converts to
    # TFLite builtins with the time axis left dynamic.
    steps = ops.shape(a)[axis]
    index = ops.arange(steps)
    along = [1] * len(a.shape)
    along[axis] = -1

    def cond(shift, a, b):
        return shift < steps

    def body(shift, a, b):
        source = ops.maximum(index - shift, 0)
        valid = ops.reshape(index >= shift, along)
        a_prev = ops.where(valid, ops.take(a, source, axis=axis), identity[0])
        b_prev = ops.where(valid, ops.take(b, source, axis=axis), identity[1])
        a, b = compose(a, b, a_prev, b_prev)
        return shift * 2, a, b

    _, a, b = ops.while_loop(cond, body, (ops.convert_to_tensor(1), a, b))
    return a, b


def linear_scan(a, b, initial, axis=1):
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
        axis: The time axis of `a` and `b`: 1, or 0 for time-major
            `(steps, batch, units)` tensors. Defaults to `1`.

    Returns:
        Tensor of the shape of `a` holding `h_1 ... h_T`.
    """
    a, b, initial = (ops.convert_to_tensor(t) for t in (a, b, initial))
    steps = a.shape[axis]
    if steps is None:
        a, b = _scan_dynamic(a, b, axis)
    else:
        a, b = _scan_static(a, b, steps, axis)
    return a * ops.expand_dims(initial, axis) + b


def log_linear_scan(log_a, log_b, initial, axis=1):
    """`linear_scan` of a recurrence with `a_t > 0` and `b_t ≥ 0`, given as
    `log a` and `log b` (`LOG_ZERO` for `b_t = 0`), with the scan in log
    space: the form of Feng et al. (2024) and mingru-pytorch, each round
    adding logarithms and combining with log-sum-exp. Half precisions scan
    in float32, float64 in float64. `initial` may have any sign: its term
    `initial · Π a` is added after the scan. `axis` is the time axis, as in
    `linear_scan`.

    Returns:
        Tensor of the shape of `log_a` holding `h_1 ... h_T`, in the dtype of
        `initial`.
    """
    dtype = ops.convert_to_tensor(initial).dtype
    scan_dtype = "float64" if dtype == "float64" else "float32"
    log_a, log_b, initial = (ops.cast(t, scan_dtype) for t in (log_a, log_b, initial))
    identity = (0.0, LOG_ZERO)
    steps = log_a.shape[axis]
    if steps is None:
        log_a, log_b = _scan_dynamic(log_a, log_b, axis, _compose_log, identity)
    else:
        log_a, log_b = _scan_static(log_a, log_b, steps, axis, _compose_log, identity)
    states = ops.exp(log_a) * ops.expand_dims(initial, axis) + ops.exp(log_b)
    return ops.cast(states, dtype)
