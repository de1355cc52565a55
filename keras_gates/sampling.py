"""Sampling the next token from a model's scores, for generation."""

import keras
from keras import ops


def sample(logits, temperature=1.0, seed=None):
    """One index per row of `logits`, drawn from `softmax(logits / temperature)`.

    A temperature below 1 sharpens the distribution toward the likeliest
    tokens; above 1 it flattens it; 0 takes the argmax (no draw). Two
    sequences that share a prefix can so go different ways, as greedy
    decoding never does.

    Args:
        logits: Unnormalized log-probabilities, shape `(..., classes)`: one
            row of scores per draw (a model's output before its softmax, or
            the log of its probabilities).
        temperature: A float >= 0. Defaults to 1 (the model's own
            distribution).
        seed: An int (the same int, the same draws, on every backend run),
            a `keras.random.SeedGenerator` (a new draw at each call, the
            sequence reproducible from the generator's seed), or None (a
            fresh draw from Keras' global generator). Defaults to None.

    Returns:
        An int32 tensor of indices, shape `logits.shape[:-1]`.

    Example:

    >>> import numpy as np, keras_gates
    >>> logits = np.log(np.array([[0.1, 0.7, 0.2]], "float32"))
    >>> int(keras_gates.sampling.sample(logits, temperature=0)[0])
    1
    >>> a = keras_gates.sampling.sample(logits, 1.0, seed=3)
    >>> b = keras_gates.sampling.sample(logits, 1.0, seed=3)
    >>> bool((np.asarray(a) == np.asarray(b)).all())
    True
    """
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise ValueError(
            f"Argument `temperature` must be a number >= 0. Received: "
            f"temperature={temperature!r}"
        )
    if temperature < 0:
        raise ValueError(
            f"Argument `temperature` must be >= 0 (0: the argmax). Received: "
            f"temperature={temperature}"
        )
    logits = ops.convert_to_tensor(logits)
    if len(logits.shape) == 0:
        raise ValueError("`logits` must have a last axis of classes; got a scalar.")
    if temperature == 0:
        return ops.cast(ops.argmax(logits, axis=-1), "int32")
    shape = ops.shape(logits)
    rows = ops.reshape(ops.cast(logits, "float32"), (-1, shape[-1])) / temperature
    drawn = keras.random.categorical(rows, 1, seed=seed, dtype="int32")
    return ops.reshape(drawn, shape[:-1])
