"""Importer of `minGRU_pytorch.minGRU` and `minLSTM` (the `mingru-pytorch`
package). Not public: `keras_gates.importers` has its function."""

import numpy as np

from keras_gates.importers._common import OUTPUT_ARGS
from keras_gates.importers._common import RUNNING_ARGS
from keras_gates.importers._common import check_layer_kwargs
from keras_gates.importers._common import state_dict

# Per module of the package: its fused input weight, the blocks of that
# weight's rows in order, and the blocks of the keras-gates kernel in order.
_MODULES = {
    "minGRU": ("to_hidden_and_gate.weight", ("hidden", "gate"), ("gate", "hidden")),
    "minLSTM": (
        "to_hidden_and_f_i_gate.weight",
        ("hidden", "forget", "input"),
        ("forget", "input", "hidden"),
    ),
}


def from_mingru_pytorch(module_or_state_dict, *, prefix="", **layer_kwargs):
    """A `keras_gates.MinGRU` that computes what `minGRU_pytorch.minGRU`
    (the `mingru-pytorch` package) computes, or a `keras_gates.MinLSTM`
    for its `minLSTM`.

    Takes the module or its `state_dict`: a minGRU's
    `to_hidden_and_gate.weight`, of shape `(2 * inner, dim)`, the
    candidate's rows first, then the gate's; a minLSTM's
    `to_hidden_and_f_i_gate.weight`, `(3 * inner, dim)`, the candidate's
    rows, the forget gate's, the input gate's; `to_out.weight` `(dim,
    inner)` when the module projects its output. `prefix` selects one module
    inside a larger state dict (for instance `"layers.0.1."` in a `minLM`).
    The layer has `log_space=True` (the package's `g` and log-space scan),
    no bias (the package has none), `projection_units` for `to_out`, and
    returns the whole sequence; its state is the package's
    `next_prev_hidden`, and an `initial_state` plays the part of
    `prev_hidden`. (The package's minLSTM, over more than one step, takes
    `g(prev_hidden)` as its state, where its one-step form and the paper
    take `prev_hidden`: the layer follows the latter, so `initial_state=
    [g(prev_hidden)]` gives the package's many-step outputs.)

    Args:
        module_or_state_dict: A `minGRU` or `minLSTM` module or its
            `state_dict`.
        prefix: The keys' prefix in `state_dict`.
        **layer_kwargs: Further `MinGRU` or `MinLSTM` arguments
            (`fast_path`, ...).

    Returns:
        A built `keras_gates.MinGRU` or `keras_gates.MinLSTM`.
    """
    from keras_gates.layers.min_gru import MinGRU
    from keras_gates.layers.min_lstm import MinLSTM

    check_layer_kwargs(
        layer_kwargs,
        "from_mingru_pytorch",
        "minGRU_pytorch.minGRU",
        RUNNING_ARGS | OUTPUT_ARGS,
    )
    state, _ = state_dict(module_or_state_dict)
    found = [m for m, (key, _, _) in _MODULES.items() if f"{prefix}{key}" in state]
    if len(found) != 1:
        keys = " or ".join(repr(prefix + key) for key, _, _ in _MODULES.values())
        raise ValueError(
            f"No {keys} in the state dict: pass a minGRU_pytorch.minGRU or "
            f"minLSTM, its state_dict, or the `prefix` of one. Keys: "
            f"{sorted(state)[:8]}"
        )
    (kind,) = found
    name, rows, columns = _MODULES[kind]
    key = prefix + name
    known = (key, f"{prefix}to_out.weight")
    unknown = sorted(k for k in state if k.startswith(prefix) and k not in known)
    if unknown:
        raise ValueError(
            f"The state dict has keys that minGRU_pytorch.{kind} does not: "
            f"{unknown[:8]} (it has no bias; its weights are {list(known)}). "
            f"Pass the state dict of one {kind}, or its `prefix` in a larger one."
        )
    weight = state[key]  # (blocks * inner, dim): x @ weight.T, blocks as `rows`
    blocks = len(rows)
    if weight.ndim != 2 or weight.shape[0] % blocks:
        raise ValueError(
            f"{key!r} has shape {weight.shape}; {kind}'s is ({blocks} * inner, "
            f"dim), the rows of {', '.join(rows)} in turn."
        )
    inner, dim = weight.shape[0] // blocks, weight.shape[1]
    block = dict(zip(rows, np.split(weight, blocks, axis=0), strict=True))
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
    layer = {"minGRU": MinGRU, "minLSTM": MinLSTM}[kind](inner, **options)
    layer.build((None, None, dim))
    layer.cell.kernel.assign(np.concatenate([block[b].T for b in columns], axis=1))
    if to_out is not None:
        layer.cell.projection_kernel.assign(to_out.T)
    return layer
