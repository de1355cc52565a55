"""Sampling the next token from a model's scores, for generation."""

import math
import numbers

import keras
import numpy as np
from keras import ops

__all__ = ["sample"]


def sample(logits, temperature=1.0, seed=None):
    """One index per row of `logits`, drawn from `softmax(logits / temperature)`.

    A temperature below 1 sharpens the distribution toward the likeliest
    tokens; above 1 it flattens it; 0 takes the argmax (no draw). Two
    sequences that share a prefix can so go different ways, as greedy
    decoding never does.

    Args:
        logits: Unnormalized log-probabilities, shape `(..., classes)`: one
            row of scores per draw (a model's output before its softmax, or
            the log of its probabilities). Finite, or -inf for a class never
            to draw; NaN, +inf and rows of -inf only raise a ValueError
            (when the values are known, i.e. outside compiled functions).
        temperature: A finite number >= 0 (Python or NumPy). Defaults to 1
            (the model's own distribution).
        seed: An int (the same int, the same draws, on every backend run),
            a `keras.random.SeedGenerator` (a new draw at each call, the
            sequence reproducible from the generator's seed), or None (a
            fresh draw from Keras' global generator). Defaults to None.

    Returns:
        An int32 tensor of indices, shape `logits.shape[:-1]`.

    Examples:
        >>> import numpy as np, keras_gates
        >>> logits = np.log(np.array([[0.1, 0.7, 0.2]], "float32"))
        >>> int(keras_gates.sampling.sample(logits, temperature=0)[0])
        1
        >>> a = keras_gates.sampling.sample(logits, 1.0, seed=3)
        >>> b = keras_gates.sampling.sample(logits, 1.0, seed=3)
        >>> bool((np.asarray(a) == np.asarray(b)).all())
        True
    """
    temperature = _check_temperature(temperature)
    logits = ops.convert_to_tensor(logits)
    if len(logits.shape) == 0:
        raise ValueError("`logits` must have a last axis of classes; got a scalar.")
    # A temperature that float32 cannot tell from 0 (or holds only as a
    # subnormal) would divide the top score by 0: that is the argmax.
    argmax = temperature < np.finfo(np.float32).tiny
    _check_logits(logits, argmax=argmax)
    if argmax:
        return ops.cast(ops.argmax(logits, axis=-1), "int32")
    shape = ops.shape(logits)
    rows = ops.reshape(ops.cast(logits, "float32"), (-1, shape[-1]))
    # Shifted so that each row's largest score is 0 before the division: a
    # small temperature then sends the others to -inf, never the largest
    # to +inf (which draws an arbitrary class).
    rows = (rows - ops.max(rows, axis=-1, keepdims=True)) / temperature
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        seed = int(seed)  # NumPy integers too
    drawn = keras.random.categorical(rows, 1, seed=seed, dtype="int32")
    return ops.reshape(drawn, shape[:-1])


def _check_temperature(temperature):
    if (
        isinstance(temperature, (bool, np.bool_))
        or not isinstance(temperature, numbers.Real)
        or not math.isfinite(temperature)
        or temperature < 0
    ):
        raise ValueError(
            "Argument `temperature` must be a finite number >= 0 (0: the "
            f"argmax). Received: temperature={temperature!r}"
        )
    return float(temperature)


def _check_logits(logits, argmax):
    """A ValueError for scores that no distribution follows from (NaN, +inf,
    a row of -inf only), when their values are known (eagerly; inside a
    compiled function they are not, and are not checked)."""
    if 0 in tuple(logits.shape):
        raise ValueError(
            "`logits` must hold at least one row of at least one class. "
            f"Received shape {tuple(logits.shape)}."
        )
    try:
        values = np.asarray(ops.convert_to_numpy(logits), np.float64)
    except Exception:  # a symbolic tensor or a tracer: no values to check
        return
    values = values.reshape(-1, values.shape[-1])
    if np.isnan(values).any():
        raise ValueError("`logits` holds NaN: there is no distribution to draw from.")
    if np.isposinf(values).any() and not argmax:
        raise ValueError(
            "`logits` holds +inf: its softmax is undefined. Clip the scores, "
            "or take the argmax (temperature=0)."
        )
    if np.isneginf(values).all(axis=-1).any():
        rows = np.flatnonzero(np.isneginf(values).all(axis=-1))
        raise ValueError(
            f"`logits` has rows with no finite score (rows {rows[:8].tolist()} "
            "of the flattened batch): every class has probability 0."
        )
