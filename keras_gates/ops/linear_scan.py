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


def _shift_static(x, shift, fill):
    """`x` moved `shift` steps later along axis 1, `fill` in the first steps."""
    head = ops.full_like(x[:, :shift], fill)
    return ops.concatenate([head, x[:, :-shift]], axis=1)


def _scan_static(a, b, steps, compose=_compose, identity=(1.0, 0.0)):
    shift = 1
    while shift < steps:
        a_prev = _shift_static(a, shift, identity[0])
        b_prev = _shift_static(b, shift, identity[1])
        a, b = compose(a, b, a_prev, b_prev)
        shift *= 2
    return a, b


def _scan_dynamic(a, b, compose=_compose, identity=(1.0, 0.0)):
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
        a_prev = ops.where(valid, ops.take(a, source, axis=1), identity[0])
        b_prev = ops.where(valid, ops.take(b, source, axis=1), identity[1])
        a, b = compose(a, b, a_prev, b_prev)
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


def log_linear_scan(log_a, log_b, initial):
    """`linear_scan` of a recurrence with `a_t > 0` and `b_t ≥ 0`, given as
    `log a` and `log b` (`LOG_ZERO` for `b_t = 0`), with the scan in log
    space: the form of Feng et al. (2024) and mingru-pytorch, each round
    adding logarithms and combining with log-sum-exp. Half precisions scan
    in float32, float64 in float64. `initial` may have any sign: its term
    `initial · Π a` is added after the scan.

    Returns:
        Tensor of shape `(batch, steps, units)` holding `h_1 ... h_T`, in
        the dtype of `initial`.
    """
    dtype = ops.convert_to_tensor(initial).dtype
    scan_dtype = "float64" if dtype == "float64" else "float32"
    log_a, log_b, initial = (ops.cast(t, scan_dtype) for t in (log_a, log_b, initial))
    identity = (0.0, LOG_ZERO)
    steps = log_a.shape[1]
    if steps is None:
        log_a, log_b = _scan_dynamic(log_a, log_b, _compose_log, identity)
    else:
        log_a, log_b = _scan_static(log_a, log_b, steps, _compose_log, identity)
    states = ops.exp(log_a) * ops.expand_dims(initial, 1) + ops.exp(log_b)
    return ops.cast(states, dtype)
