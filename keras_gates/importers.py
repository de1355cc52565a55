"""Importers of trained weights from the reference implementations.

Each returns built keras-gates layers that compute what the original
computed, from its weights as NumPy arrays or as tensors of the original
framework (anything with `.numpy()`, or a PyTorch tensor, is read through
NumPy; no framework is imported here):

- `from_tf1_lstm_cell`: TF1's `tf.compat.v1.nn.rnn_cell.LSTMCell` (also
  with `use_peepholes`, `num_proj`, `cell_clip` and `proj_clip`), from its
  variables; `from_tf1_checkpoint` reads them from a TF1 checkpoint.
- `from_sru`: the official `sru.SRU` (uni- or bidirectional, any number of
  layers, `rescale`, `has_skip_term`, `layer_norm`, `normalize_after`,
  `projection_size`), from the module or its `state_dict`.
- `from_mingru_pytorch`: `minGRU_pytorch.minGRU`, from the module or its
  `state_dict`.
"""

import re

import numpy as np

__all__ = [
    "from_tf1_lstm_cell",
    "from_tf1_checkpoint",
    "from_sru",
    "from_mingru_pytorch",
]

# TF1's fused kernel holds the blocks in the order i, j, f, o (j being the
# candidate); Keras and keras-gates in the order i, f, c, o.
_TF1_TO_KERAS_BLOCKS = (0, 2, 1, 3)


def _array(value, what):
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
_RUNNING_ARGS = frozenset(
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
_OUTPUT_ARGS = frozenset(
    {
        "name",
        "return_sequences",
        "return_state",
        "go_backwards",
        "stateful",
        "zero_output_for_mask",
    }
)


def _check_layer_kwargs(layer_kwargs, importer, original, allowed):
    refused = sorted(set(layer_kwargs) - allowed)
    if refused:
        raise ValueError(
            f"{importer} does not take {', '.join(f'`{k}`' for k in refused)}: "
            f"the layer would no longer compute what {original} computed with "
            f"these weights. It takes the arguments that change how the layer "
            f"runs: {', '.join(sorted(allowed))}."
        )


def _expect_shape(array, shape, what, hint):
    if array.shape != tuple(shape):
        raise ValueError(
            f"{what} has shape {array.shape}, but {hint} needs shape {tuple(shape)}."
        )


def from_tf1_lstm_cell(
    kernel,
    bias,
    w_i_diag=None,
    w_f_diag=None,
    w_o_diag=None,
    projection=None,
    *,
    forget_bias=1.0,
    cell_clip=None,
    projection_clip=None,
    activation="tanh",
    **layer_kwargs,
):
    """A `PeepholeLSTM` that computes what TF1's `LSTMCell` computes.

    Takes the cell's variables by value: `kernel` (`lstm_cell/kernel`, shape
    `(input_dim + h_dim, 4 * units)`, the rows of the input first, then
    those of the previous output, columns in TF1's gate order i, j, f, o),
    `bias` (`(4 * units,)`), the peephole vectors `w_i_diag`, `w_f_diag`,
    `w_o_diag` (`use_peepholes=True`; any subset may be given) and the
    projection `projection` (`lstm_cell/projection/kernel`, `(units,
    num_proj)`, with `num_proj`). Pass the cell's `forget_bias` (added to
    the forget gate's pre-activation; TF1's default is 1.0), `cell_clip`,
    `proj_clip` as `projection_clip` and `activation`.

    The layer splits the kernel in `kernel` and `recurrent_kernel`, orders
    the blocks as Keras (i, f, c, o) and folds `forget_bias` into the bias.
    Its states are `[h, c]` where TF1's `LSTMStateTuple` is `(c, h)`.

    Args:
        kernel: The TF1 `kernel`, `(input_dim + h, 4 * units)` with `h` the
            output size (`units`, or `num_proj` with a projection), a NumPy
            array or a tensor.
        bias: The TF1 `bias`, `(4 * units,)`.
        w_i_diag: The input gate's peephole, or None.
        w_f_diag: The forget gate's peephole, or None.
        w_o_diag: The output gate's peephole, or None.
        projection: The projection kernel `(units, num_proj)`, or None.
        forget_bias: The TF1 cell's `forget_bias`. Defaults to 1.0, TF1's.
        cell_clip: The TF1 cell's `cell_clip`, or None.
        projection_clip: The TF1 cell's `proj_clip`, or None.
        activation: The TF1 cell's `activation`. Defaults to `"tanh"`.
        **layer_kwargs: Further `PeepholeLSTM` arguments
            (`return_sequences`, `name`, ...).

    Returns:
        A built `keras_gates.PeepholeLSTM`.

    Examples:
        >>> import numpy as np, keras_gates
        >>> layer = keras_gates.importers.from_tf1_lstm_cell(
        ...     np.zeros((3 + 2, 4 * 4)), np.zeros(4 * 4),
        ...     projection=np.zeros((4, 2)), projection_clip=1.0)
        >>> layer.units, layer.projection_units, tuple(layer.cell.kernel.shape)
        (4, 2, (3, 16))
    """
    from keras_gates.layers.peephole_lstm import PeepholeLSTM

    _check_layer_kwargs(
        layer_kwargs,
        "from_tf1_lstm_cell",
        "TF1's LSTMCell",
        _RUNNING_ARGS | _OUTPUT_ARGS,
    )
    kernel = _array(kernel, "kernel")
    bias = _array(bias, "bias")
    if bias is None:
        raise ValueError(
            "bias is missing: TF1's LSTMCell always has one (`lstm_cell/bias`, "
            "of shape (4 * units,))."
        )
    projection = _array(projection, "projection")
    if kernel is None or kernel.ndim != 2 or kernel.shape[1] % 4:
        raise ValueError(
            "kernel must be TF1's fused LSTM kernel, of shape (input_dim + "
            "h_dim, 4 * units). Received shape "
            f"{None if kernel is None else kernel.shape}."
        )
    units = kernel.shape[1] // 4
    h_dim = units
    if projection is not None:
        if projection.ndim != 2 or projection.shape[0] != units:
            raise ValueError(
                f"projection must have shape (units, num_proj) = ({units}, "
                f"num_proj) for a kernel of {4 * units} columns. Received shape "
                f"{projection.shape}."
            )
        h_dim = projection.shape[1]
    input_dim = kernel.shape[0] - h_dim
    if input_dim <= 0:
        raise ValueError(
            f"kernel has {kernel.shape[0]} rows, which leaves no input rows "
            f"after the {h_dim} rows of the recurrent state."
        )
    _expect_shape(bias, (4 * units,), "bias", f"a kernel of {4 * units} columns")
    diags = {"input": w_i_diag, "forget": w_f_diag, "output": w_o_diag}
    diags = {gate: _array(d, f"w_{gate[0]}_diag") for gate, d in diags.items()}
    peepholes = [gate for gate, d in diags.items() if d is not None]
    for gate in peepholes:
        _expect_shape(diags[gate], (units,), f"w_{gate[0]}_diag", "the cell")

    order = np.concatenate(
        [np.arange(b * units, (b + 1) * units) for b in _TF1_TO_KERAS_BLOCKS]
    )
    bias = bias[order].copy()
    bias[units : 2 * units] += np.float32(forget_bias)  # the f block

    layer = PeepholeLSTM(
        units,
        peepholes=peepholes,
        cell_clip=cell_clip,
        projection_units=None if projection is None else h_dim,
        projection_clip=projection_clip,
        activation=activation,
        **layer_kwargs,
    )
    layer.build((None, None, input_dim))
    cell = layer.cell
    cell.kernel.assign(kernel[:input_dim][:, order])
    cell.recurrent_kernel.assign(kernel[input_dim:][:, order])
    cell.bias.assign(bias)
    for gate in peepholes:
        getattr(cell, f"{gate}_peephole").assign(diags[gate])
    if projection is not None:
        cell.projection_kernel.assign(projection)
    return layer


def from_tf1_checkpoint(path, scope="rnn/lstm_cell", **kwargs):
    """`from_tf1_lstm_cell` with the variables of a TF1 checkpoint.

    Reads `{scope}/kernel`, `{scope}/bias`, and where present
    `{scope}/w_i_diag`, `{scope}/w_f_diag`, `{scope}/w_o_diag` and
    `{scope}/projection/kernel` (the names TF1's `LSTMCell` gives them; the
    default scope is that of a cell run by `tf.compat.v1.nn.dynamic_rnn`).
    Needs TensorFlow.

    A TF1 SavedModel keeps its variables in the same format: pass
    `"<export_dir>/variables/variables"`.

    Args:
        path: The checkpoint's prefix or folder.
        scope: The cell's variable scope.
        **kwargs: `forget_bias`, `cell_clip`, `projection_clip`,
            `activation` and the layer's arguments, as for
            `from_tf1_lstm_cell`.
    """
    try:
        import tensorflow as tf
    except ImportError as e:
        raise ImportError(
            "from_tf1_checkpoint reads the checkpoint with TensorFlow, which "
            'is not installed: pip install "keras-gates[tensorflow]"'
        ) from e

    reader = tf.train.load_checkpoint(path)
    names = reader.get_variable_to_shape_map()

    def read(name):
        key = f"{scope}/{name}"
        return reader.get_tensor(key) if key in names else None

    if read("kernel") is None:
        found = sorted(n for n in names if n.endswith("/kernel"))
        raise ValueError(
            f"No variable {scope}/kernel in the checkpoint {path}. Kernels "
            f"found: {found}. Pass the cell's scope as `scope`."
        )
    return from_tf1_lstm_cell(
        read("kernel"),
        read("bias"),
        read("w_i_diag"),
        read("w_f_diag"),
        read("w_o_diag"),
        read("projection/kernel"),
        **kwargs,
    )


# ----------------------------------------------------------------- SRU


def _state_dict(module_or_state_dict):
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
    return {key: _array(value, key) for key, value in state.items()}, module


def _flag(module, name, passed, default):
    """A flag passed explicitly, else read from the module, else `default`."""
    if passed is not None:
        return passed
    if module is not None and hasattr(module, name):
        return getattr(module, name)
    return default


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

    _check_layer_kwargs(layer_kwargs, "from_sru", "the SRU", _RUNNING_ARGS)
    state, module = _state_dict(module_or_state_dict)
    first_cell = module
    if module is not None and hasattr(module, "rnn_lst"):
        first_cell = module.rnn_lst[0]
    bidirectional = bool(_flag(module, "bidirectional", bidirectional, False))
    has_skip_term = bool(_flag(module, "has_skip_term", has_skip_term, True))
    normalize_after = bool(_flag(first_cell, "normalize_after", normalize_after, False))
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
        _expect_shape(weight_c, (2 * out,), f"{prefix}weight_c", f"a bias of {2 * out}")
        if projection is not None:
            _expect_shape(
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


# -------------------------------------------------------------- minGRU


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

    _check_layer_kwargs(
        layer_kwargs,
        "from_mingru_pytorch",
        "minGRU_pytorch.minGRU",
        _RUNNING_ARGS | _OUTPUT_ARGS,
    )
    state, _ = _state_dict(module_or_state_dict)
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
