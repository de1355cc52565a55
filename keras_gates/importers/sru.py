"""Importer of the official SRU (`sru.SRU`, `sru.SRUCell`). Not public:
`keras_gates.importers` has its function."""

import re

import numpy as np

from keras_gates.importers._common import RUNNING_ARGS
from keras_gates.importers._common import check_layer_kwargs
from keras_gates.importers._common import expect_shape
from keras_gates.importers._common import flag
from keras_gates.importers._common import state_dict


def _load_sru_direction(
    layer, d, kernel, recurrent, gate_bias, projection, gamma, beta
):
    """Direction `d` of the official weights (`kernel` as `(rows,
    directions, units, blocks)`, `recurrent` and `gate_bias` as `(2,
    directions, units)`) into the `keras_gates.SRU` `layer`."""
    cell = layer.cell
    blocks = kernel.shape[-1]
    cell.kernel.assign(
        np.concatenate([kernel[:, d, :, m] for m in range(blocks)], axis=1)
    )
    cell.recurrent_kernel.assign(recurrent[:, d, :])
    cell.bias.assign(gate_bias[:, d, :].reshape(-1))
    if projection is not None:
        cell.projection_kernel.assign(projection)
    if cell.layer_norm:
        cell.norm[0].assign(gamma)
        cell.norm[1].assign(beta)


def from_sru(
    module_or_state_dict,
    *,
    bidirectional=None,
    has_skip_term=None,
    normalize_after=None,
    use_tanh=None,
    **layer_kwargs,
):
    """Keras layers that compute what an official `sru.SRU` computes.

    Takes an `sru.SRU` (or `sru.SRUCell`) module, whose flags are read from
    it, or its `state_dict` (tensors or NumPy arrays), whose flags that the
    weights do not show must then be passed: `bidirectional`,
    `has_skip_term`, `normalize_after` and `use_tanh` (as the module's
    arguments; default False, True, False, False). The weights show the
    rest: the layers, `projection_size` (`weight_proj`), `layer_norm`, the
    `input_to_hidden` projection, and `rescale` (the `scale_x` buffer, which
    holds the factor `sqrt(1 + 2·exp(highway_bias))` when `rescale` is on).

    Returns a `keras.Sequential` of one `keras_gates.SRU` per official layer
    (a `keras.layers.Bidirectional` of two when bidirectional, the backward
    layer's highway reading the second half of its input as the official),
    preceded by a bias-free `Dense` for `input_to_hidden`. The official
    layout, a fused kernel interleaved per unit (column `(d·units + j)·k + m`
    for direction d, unit j, block m) with the directions side by side, is
    split into each direction's blocked kernel. Each layer returns the whole
    sequence with `zero_output_for_mask=True`, as the official zeroes the
    output at padded steps (`mask_pad`); its inputs are batch-major,
    `(batch, steps, features)`, where the official's are time-major. A
    bidirectional SRU with `normalize_after` normalizes over both directions
    together: that normalization is a `keras.layers.LayerNormalization`
    after the `Bidirectional`.

    Args:
        module_or_state_dict: An `sru.SRU` or `sru.SRUCell`, or its
            `state_dict`.
        bidirectional: The module's `bidirectional` flag; None reads it
            from the module.
        has_skip_term: The module's `has_skip_term`; None reads it.
        normalize_after: The module's `normalize_after`; None reads it.
        use_tanh: The module's `use_tanh`; None reads it.
        **layer_kwargs: Further arguments of every `keras_gates.SRU`
            (`fast_path`, `dtype`, ...).

    Returns:
        A built `keras.Sequential`.
    """
    import keras

    from keras_gates.layers.sru import SRU

    check_layer_kwargs(layer_kwargs, "from_sru", "the SRU", RUNNING_ARGS)
    state, module = state_dict(module_or_state_dict)
    first_cell = module
    if module is not None and hasattr(module, "rnn_lst"):
        first_cell = module.rnn_lst[0]
    bidirectional = bool(flag(module, "bidirectional", bidirectional, False))
    has_skip_term = bool(flag(module, "has_skip_term", has_skip_term, True))
    normalize_after = bool(flag(first_cell, "normalize_after", normalize_after, False))
    if use_tanh is None:
        use_tanh = getattr(first_cell, "activation_type", 0) == 1
    directions = 2 if bidirectional else 1
    prefixes = _sru_prefixes(state)

    layers = []
    first = state.get(f"{prefixes[0]}weight_proj", state[f"{prefixes[0]}weight"])
    in_features = first.shape[0]
    if "input_to_hidden.weight" in state:
        weight = state["input_to_hidden.weight"]  # (out, in), torch.nn.Linear
        if weight.ndim != 2 or weight.shape[0] != in_features:
            raise ValueError(
                f"input_to_hidden.weight has shape {weight.shape}; the first "
                f"layer reads {in_features} features, so it must be "
                f"({in_features}, in_features)."
            )
        in_features = weight.shape[1]
        dense = keras.layers.Dense(weight.shape[0], use_bias=False)
        dense.build((None, None, in_features))
        dense.kernel.assign(weight.T)
        layers.append(dense)

    previous = first.shape[0]
    for prefix in prefixes:
        weight = state[f"{prefix}weight"]
        bias = state[f"{prefix}bias"]
        weight_c = state[f"{prefix}weight_c"]
        projection = state.get(f"{prefix}weight_proj")
        gamma = state.get(f"{prefix}layer_norm.weight")
        beta = state.get(f"{prefix}layer_norm.bias")
        scale = float(state.get(f"{prefix}scale_x", np.ones(1))[0])
        if bias.ndim != 1 or bias.shape[0] % (2 * directions):
            raise ValueError(
                f"{prefix}bias has shape {bias.shape}; the SRU's is (2 * "
                f"{directions} * units,) ({'bi' if bidirectional else 'uni'}"
                "directional)."
            )
        out = bias.shape[0] // 2
        units = out // directions
        blocks = weight.shape[1] // out if weight.ndim == 2 else 0
        rows = weight.shape[0]
        size = rows if projection is None else projection.shape[0]
        if blocks not in (3, 4) or weight.shape[1] != blocks * out:
            raise ValueError(
                f"{prefix}weight of shape {weight.shape} does not match a bias "
                f"of {2 * out} values (3 or 4 blocks of {out} columns)."
            )
        expect_shape(weight_c, (2 * out,), f"{prefix}weight_c", f"a bias of {2 * out}")
        if projection is not None:
            expect_shape(
                projection,
                (size, rows),
                f"{prefix}weight_proj",
                f"a weight of {rows} rows",
            )
        if (gamma is None) != (beta is None):
            raise ValueError(
                f"{prefix}layer_norm has {'weight' if beta is None else 'bias'} "
                "without its counterpart: give both or neither."
            )
        if size != previous:
            raise ValueError(
                f"{prefix}weight reads {size} features, but the layer before "
                f"outputs {previous}."
            )
        previous = out
        if not has_skip_term:
            highway = "auto"
        elif blocks == 4:
            highway = "projection"
        else:
            highway = "split" if bidirectional else "auto"
        identity = has_skip_term and blocks == 3
        rescale = identity and abs(scale - 1.0) > 1e-7
        options = {
            "activation": "tanh" if use_tanh else "linear",
            "skip_term": has_skip_term,
            "highway": highway,
            "rescale": rescale,
            # scale = sqrt(1 + 2 exp(b)), the official factor, inverted.
            "highway_bias": float(np.log((scale**2 - 1.0) / 2.0)) if rescale else 0.0,
            "layer_norm": gamma is not None and not (normalize_after and bidirectional),
            "normalize_after": normalize_after and gamma is not None,
            "input_projection_units": None
            if projection is None
            else projection.shape[1],
            "return_sequences": True,
            "zero_output_for_mask": True,
            **layer_kwargs,
        }
        if not options["layer_norm"]:
            options["normalize_after"] = False

        # (rows, directions, units, blocks): the official interleaving.
        kernel = weight.reshape(rows, directions, units, blocks)
        recurrent = weight_c.reshape(2, directions, units)
        gate_bias = bias.reshape(2, directions, units)

        weights = (kernel, recurrent, gate_bias, projection, gamma, beta)
        shape = (None, None, size)
        if bidirectional:
            layer = keras.layers.Bidirectional(SRU(units, **options))
            layer.build(shape)
            _load_sru_direction(layer.forward_layer, 0, *weights)
            _load_sru_direction(layer.backward_layer, 1, *weights)
        else:
            layer = SRU(units, **options)
            layer.build(shape)
            _load_sru_direction(layer, 0, *weights)
        layers.append(layer)
        if gamma is not None and normalize_after and bidirectional:
            norm = keras.layers.LayerNormalization(epsilon=1e-5)
            norm.build((None, None, out))
            norm.gamma.assign(gamma)
            norm.beta.assign(beta)
            layers.append(norm)

    model = keras.Sequential(layers)
    model.build((None, None, in_features))
    return model


_SRU_KEYS = (
    "weight",
    "weight_c",
    "bias",
    "scale_x",
    "weight_proj",
    "layer_norm.weight",
    "layer_norm.bias",
)
_SRU_REQUIRED = ("weight", "weight_c", "bias")


def _sru_prefixes(state):
    """The key prefix of each SRU layer of `state`, in order (`""` for an
    `SRUCell`), checking that the layers are 0, 1, ... with no gap, that
    each has its required weights and that no key is left unread."""
    if "weight" in state:  # an SRUCell
        prefixes = [""]
        unknown = [key for key in state if key not in _SRU_KEYS]
    else:
        found, unknown = set(), []
        for key in state:
            match = re.fullmatch(r"rnn_lst\.(\d+)\.(.+)", key)
            if match and match.group(2) in _SRU_KEYS:
                found.add(int(match.group(1)))
            elif key != "input_to_hidden.weight":
                unknown.append(key)
        if not found:
            raise ValueError(
                "No SRU weights found: expected the keys 'rnn_lst.<i>.weight' "
                "(an sru.SRU) or 'weight' (an sru.SRUCell). Received keys: "
                f"{sorted(state)[:8]}"
            )
        gaps = sorted(set(range(max(found) + 1)) - found)
        if gaps:
            raise ValueError(
                f"The state dict has SRU layers {sorted(found)} but not "
                f"{gaps}: layers are numbered 0, 1, ... (a layer's weights "
                "are missing, or the dict mixes models)."
            )
        prefixes = [f"rnn_lst.{i}." for i in sorted(found)]
    if unknown:
        raise ValueError(
            f"The state dict has keys that no SRU weight goes by: "
            f"{sorted(unknown)[:8]}. Expected 'rnn_lst.<i>.<name>' with <name> "
            f"one of {list(_SRU_KEYS)}, and 'input_to_hidden.weight'."
        )
    for prefix in prefixes:
        missing = [f"{prefix}{k}" for k in _SRU_REQUIRED if f"{prefix}{k}" not in state]
        if missing:
            raise ValueError(
                f"The state dict lacks {missing}, which every SRU layer has."
            )
    return prefixes
