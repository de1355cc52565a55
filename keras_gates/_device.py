"""What the current Keras backend computes on. Imports only that backend."""

import functools

import keras


@functools.cache
def accelerator_available():
    """Whether the backend has a GPU or TPU to run on."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(
            tf.config.list_logical_devices("GPU")
            or tf.config.list_logical_devices("TPU")
        )
    if backend == "jax":
        import jax

        return jax.default_backend() != "cpu"
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False
