"""The loop over time on the JAX backend: `jax.lax.scan`, without stacking
the outputs when only the last one is wanted. Imported only on the JAX
backend. Not public."""

import jax


def time_loop(step, xs, carry, *, return_all):
    """`carry, y = step(carry, x_t)` over the time-major structure `xs`.

    Returns `(final carry, ys stacked on axis 0 or None)`.
    """
    if return_all:
        return jax.lax.scan(step, carry, xs)

    def keep_carry(carry, x):
        return step(carry, x)[0], None

    carry, _ = jax.lax.scan(keep_carry, carry, xs)
    return carry, None
