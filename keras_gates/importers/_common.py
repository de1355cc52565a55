"""What the importers share: reading arrays and state dicts, and the
layer arguments they take. Not public."""

import numpy as np


def array(value, what):
    """`value` as a float32 NumPy array (from NumPy, TensorFlow, PyTorch)."""
    if value is None:
        return None
    if hasattr(value, "detach"):  # a torch.Tensor
        value = value.detach().cpu().numpy()
    elif hasattr(value, "numpy"):
        value = value.numpy()
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{what} must be an array of numbers. Received: {value!r}")
    return array.astype("float32")


# The layer arguments that change how an imported layer runs, not what it
# computes: the importers take these and refuse every other (an activation,
# `use_bias`, `layer_norm`, `log_space`, ...), with which the imported
# weights would compute something else than the original.
RUNNING_ARGS = frozenset(
    {
        "dtype",
        "trainable",
        "fast_path",
        "unroll",
        "dropout",
        "recurrent_dropout",
        "seed",
        *(
            f"{weight}_{kind}"
            for weight in ("kernel", "recurrent", "bias", "peephole", "projection")
            for kind in ("regularizer", "constraint")
        ),
        "activity_regularizer",
    }
)
# And those of a single layer's output (not for `from_sru`, whose arguments
# go to every layer of a stack that returns whole sequences).
OUTPUT_ARGS = frozenset(
    {
        "name",
        "return_sequences",
        "return_state",
        "go_backwards",
        "stateful",
        "zero_output_for_mask",
    }
)


def check_layer_kwargs(layer_kwargs, importer, original, allowed):
    refused = sorted(set(layer_kwargs) - allowed)
    if refused:
        raise ValueError(
            f"{importer} does not take {', '.join(f'`{k}`' for k in refused)}: "
            f"the layer would no longer compute what {original} computed with "
            f"these weights. It takes the arguments that change how the layer "
            f"runs: {', '.join(sorted(allowed))}."
        )


def expect_shape(array, shape, what, hint):
    if array.shape != tuple(shape):
        raise ValueError(
            f"{what} has shape {array.shape}, but {hint} needs shape {tuple(shape)}."
        )


def state_dict(module_or_state_dict):
    """`(state_dict as NumPy arrays, the module or None)`."""
    module = None
    state = module_or_state_dict
    if hasattr(state, "state_dict") and callable(state.state_dict):
        module, state = state, state.state_dict()
    if not hasattr(state, "items"):
        raise TypeError(
            "Expected a PyTorch module or its state_dict (a mapping of names "
            f"to tensors or arrays). Received: {type(module_or_state_dict).__name__}"
        )
    return {key: array(value, key) for key, value in state.items()}, module


def flag(module, name, passed, default):
    """A flag passed explicitly, else read from the module, else `default`."""
    if passed is not None:
        return passed
    if module is not None and hasattr(module, name):
        return getattr(module, name)
    return default
