"""Importer of `minGRU_pytorch.minGRU` (the `mingru-pytorch` package). Not
public: `keras_gates.importers` has its function."""

import numpy as np

from keras_gates.importers._common import OUTPUT_ARGS
from keras_gates.importers._common import RUNNING_ARGS
from keras_gates.importers._common import check_layer_kwargs
from keras_gates.importers._common import state_dict


def from_mingru_pytorch(module_or_state_dict, *, prefix="", **layer_kwargs):
    """A `keras_gates.MinGRU` that computes what `minGRU_pytorch.minGRU`
    (the `mingru-pytorch` package) computes.

    Takes the module or its `state_dict` (`to_hidden_and_gate.weight`, of
    shape `(2 * inner, dim)`, the candidate's rows first, then the gate's;
    `to_out.weight` `(dim, inner)` when the module projects its output).
    `prefix` selects one minGRU inside a larger state dict (for instance
    `"layers.0.1."` in a `minLM`). The layer has `log_space=True` (the
    package's `g` and log-space scan), no bias (the package has none),
    `projection_units` for `to_out`, and returns the whole sequence; its
    state is the package's `next_prev_hidden`, and an `initial_state` plays
    the part of `prev_hidden`.

    Args:
        module_or_state_dict: A `minGRU` module or its `state_dict`.
        prefix: The keys' prefix in `state_dict`.
        **layer_kwargs: Further `MinGRU` arguments (`fast_path`, ...).

    Returns:
        A built `keras_gates.MinGRU`.
    """
    from keras_gates.layers.min_gru import MinGRU

    check_layer_kwargs(
        layer_kwargs,
        "from_mingru_pytorch",
        "minGRU_pytorch.minGRU",
        RUNNING_ARGS | OUTPUT_ARGS,
    )
    state, _ = state_dict(module_or_state_dict)
    key = f"{prefix}to_hidden_and_gate.weight"
    if key not in state:
        raise ValueError(
            f"No {key!r} in the state dict: pass a minGRU_pytorch.minGRU, its "
            f"state_dict, or the `prefix` of one. Keys: {sorted(state)[:8]}"
        )
    known = (key, f"{prefix}to_out.weight")
    unknown = sorted(k for k in state if k.startswith(prefix) and k not in known)
    if unknown:
        raise ValueError(
            f"The state dict has keys that minGRU_pytorch.minGRU does not: "
            f"{unknown[:8]} (it has no bias; its weights are {list(known)}). "
            "Pass the state dict of one minGRU, or its `prefix` in a larger one."
        )
    weight = state[key]  # (2 * inner, dim): x @ weight.T = [hidden, gate]
    if weight.ndim != 2 or weight.shape[0] % 2:
        raise ValueError(
            f"{key!r} has shape {weight.shape}; minGRU's is (2 * inner, dim), "
            "the candidate's rows, then the gate's."
        )
    inner, dim = weight.shape[0] // 2, weight.shape[1]
    hidden, gate = weight[:inner].T, weight[inner:].T
    to_out = state.get(f"{prefix}to_out.weight")
    if to_out is not None and (to_out.ndim != 2 or to_out.shape[1] != inner):
        raise ValueError(
            f"{prefix + 'to_out.weight'!r} has shape {to_out.shape}; for "
            f"{key!r} of shape {weight.shape} it must be (out_features, {inner})."
        )
    options = {
        "log_space": True,
        "use_bias": False,
        "projection_units": None if to_out is None else to_out.shape[0],
        "return_sequences": True,
        **layer_kwargs,
    }
    layer = MinGRU(inner, **options)
    layer.build((None, None, dim))
    layer.cell.kernel.assign(np.concatenate([gate, hidden], axis=1))  # z, h
    if to_out is not None:
        layer.cell.projection_kernel.assign(to_out.T)
    return layer
