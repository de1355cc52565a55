"""Importer of the official xLSTM's sLSTM and mLSTM (`xlstm` package,
NX-AI). Not public: `keras_gates.importers` has its function."""

import numpy as np

from keras_gates.importers._common import OUTPUT_ARGS
from keras_gates.importers._common import RUNNING_ARGS
from keras_gates.importers._common import check_layer_kwargs
from keras_gates.importers._common import expect_shape
from keras_gates.importers._common import state_dict

_CELL = "_recurrent_kernel_"


def _get(state, key, what):
    """`state[key]`, or a ValueError that names the missing weight."""
    if key not in state:
        raise ValueError(
            f"from_xlstm: the weights of {what} lack {key!r}. Pass the "
            "module, or its complete `state_dict()`."
        )
    return state[key]


def _cell_weights(state, prefix, num_heads, backend):
    """The sLSTM cell's recurrent kernel as `(heads, head_units, 4 *
    head_units)` (each head's blocks i, f, z, o) and its bias gate-major,
    from the cell's internal layout of `backend`."""
    kernel = _get(state, prefix + _CELL, "the sLSTM cell")
    bias = _get(state, prefix + "_bias_", "the sLSTM cell")
    if kernel.ndim != 3:
        raise ValueError(
            f"from_xlstm: the recurrent kernel {prefix + _CELL!r} has shape "
            f"{kernel.shape}; the package's is (heads, 4 * head_units, "
            "head_units) or (heads, head_units, 4 * head_units)."
        )
    heads = kernel.shape[0]
    if num_heads is not None and num_heads != heads:
        raise ValueError(
            f"The recurrent kernel has {heads} heads (shape {kernel.shape}), "
            f"but num_heads={num_heads} was passed."
        )
    if backend is None:  # vanilla (heads, 4 out, in); cuda (heads, in, 4 out)
        backend = "vanilla" if kernel.shape[1] == 4 * kernel.shape[2] else "cuda"
    layouts = {
        "vanilla": kernel.shape[1] == 4 * kernel.shape[2],
        "cuda": kernel.shape[2] == 4 * kernel.shape[1],
    }
    if backend in layouts and not layouts[backend]:
        raise ValueError(
            f"from_xlstm: backend={backend!r} keeps the recurrent kernel as "
            f"{'(heads, 4 * head_units, head_units)' if backend == 'vanilla' else '(heads, head_units, 4 * head_units)'}"
            f", but these weights' has shape {kernel.shape}: they were saved "
            "by the other backend (pass its name, or None to read it from "
            "the shape)."
        )
    if backend == "vanilla":
        size = kernel.shape[2]
        # (heads, 4, out, in) -> (heads, in, 4, out)
        kernel = kernel.reshape(heads, 4, size, size).transpose(0, 3, 1, 2)
        bias = bias.reshape(-1)  # gate-major already
    elif backend == "cuda":
        size = kernel.shape[1]
        bias = bias.reshape(heads, 4, size).transpose(1, 0, 2).reshape(-1)
    else:
        raise ValueError(
            f"Argument `backend` must be 'vanilla' or 'cuda' (the layout of "
            f"the cell's weights). Received: backend={backend!r}"
        )
    return kernel.reshape(heads, size, 4 * size), bias


def from_xlstm(
    module_or_state_dict,
    *,
    num_heads=None,
    conv1d_kernel_size=None,
    group_norm_weight=None,
    backend=None,
    function=None,
    act_fn=None,
    **layer_kwargs,
):
    """A Keras layer that computes what an official xLSTM sLSTM or mLSTM
    computes.

    Takes one of the `xlstm` package's (version 2) sLSTM or mLSTM modules,
    or its `state_dict` (tensors or NumPy arrays), with the module's config
    fields that the weights do not show passed as keyword arguments:

    - an `mLSTMLayer` gives a `keras_gates.blocks.MLSTMBlock`, an
      `xLSTMBlock` with an mLSTM layer one with `residual=True` (the
      weights show every size);
    - an `sLSTMLayer` gives a `keras_gates.blocks.SLSTMBlock`;
    - an `xLSTMBlock` with an sLSTM layer gives an `SLSTMBlock` with
      `residual=True` (and its feed-forward, when it has one);
    - an `sLSTMCell` gives a `keras_gates.SLSTM` with
      `input_projection=False` (its inputs are the four blocks'
      pre-activations, as the cell's).

    The weights show the heads, the convolution's width and whether the
    group norm has a scale; the cell's internal layout depends on its
    `backend` (`"vanilla"` or `"cuda"`), which the recurrent kernel's shape
    shows too. Only `function="slstm"` (the default) is an sLSTM. The layers
    return whole sequences and, with `return_state=True`, their final
    states `[h, c, n, m]` (and the convolution's state), which the package
    stacks as one `(4, batch, units)` tensor. The inputs are batch-major,
    as the package's.

    Args:
        module_or_state_dict: An `sLSTMLayer`, an `xLSTMBlock` or an
            `sLSTMCell` of the `xlstm` package, or its `state_dict`.
        num_heads: The config's `num_heads`; checked against the weights.
        conv1d_kernel_size: The config's `conv1d_kernel_size`; checked.
        group_norm_weight: The config's `group_norm_weight`; checked.
        backend: The config's `backend`, the layout of the cell's
            weights; None reads it from the module, else from the shapes.
        function: The config's `function`; only `"slstm"` is imported.
        act_fn: The feed-forward config's `act_fn` (of an `xLSTMBlock`'s
            state dict); None reads it from the module, else `"gelu"`.
        **layer_kwargs: Further arguments of the layer: `name`, `dtype`,
            `return_state`, and for `SLSTM` those that change how it runs
            (`fast_path`, `stateful`, ...).

    Returns:
        A built `keras_gates.blocks.SLSTMBlock` or `keras_gates.SLSTM`.

    Examples:
        >>> import numpy as np, keras_gates
        >>> rng = np.random.default_rng(0)
        >>> state = {  # an sLSTMCell of 8 units in 2 heads, vanilla layout
        ...     "_recurrent_kernel_": rng.normal(size=(2, 16, 4)),
        ...     "_bias_": rng.normal(size=(32,)),
        ... }
        >>> layer = keras_gates.importers.from_xlstm(state)
        >>> layer.num_heads, layer.input_projection
        (2, False)
    """
    state, module = state_dict(module_or_state_dict)
    config = getattr(module, "config", None)

    def field(name, passed):
        if passed is not None:
            return passed
        return getattr(config, name, None)

    function = field("function", function)
    if function not in (None, "slstm"):
        raise ValueError(
            f"from_xlstm imports the sLSTM (function='slstm'); this module "
            f"computes function={function!r}."
        )
    for prefix in ("", "xlstm."):
        if prefix + _MLSTM_GATE in state:
            mlstm_config = getattr(config, "mlstm", config)
            return _import_mlstm_layer(
                state, prefix, field("num_heads", num_heads), mlstm_config, layer_kwargs
            )
    backend = field("backend", backend)
    num_heads = field("num_heads", num_heads)
    if _CELL in state:
        return _import_cell(state, num_heads, backend, layer_kwargs)
    if any(key.startswith("blocks.") for key in state):
        raise ValueError(
            "from_xlstm imports one sLSTM layer or block; these weights are "
            "of a stack of blocks (keys 'blocks.<i>....'). Import each sLSTM "
            "block on its own: `from_xlstm(stack.blocks[i])`, or the keys "
            "of block i with their 'blocks.<i>.' prefix removed."
        )
    for prefix in ("", "xlstm."):
        if prefix + "slstm_cell." + _CELL in state:
            break
    else:
        raise ValueError(
            "from_xlstm found no sLSTM in these weights: it takes an "
            "sLSTMCell, an sLSTMLayer or an xLSTMBlock with an sLSTM layer "
            f"(a key ending in 'slstm_cell.{_CELL}'). Received the keys "
            f"{sorted(state)[:8]}."
        )
    layer_config = getattr(config, "slstm", config)  # an xLSTMBlock's
    feedforward = getattr(config, "feedforward", None)
    if act_fn is None:
        act_fn = getattr(feedforward, "act_fn", None) or "gelu"
    return _import_layer(
        state,
        prefix,
        num_heads
        if num_heads is not None
        else getattr(layer_config, "num_heads", None),
        field("conv1d_kernel_size", conv1d_kernel_size)
        if conv1d_kernel_size is not None or config is None
        else getattr(layer_config, "conv1d_kernel_size", None),
        group_norm_weight
        if group_norm_weight is not None
        else getattr(layer_config, "group_norm_weight", None),
        backend if backend is not None else getattr(layer_config, "backend", None),
        act_fn,
        layer_kwargs,
    )


_MLSTM_GATE = "mlstm_cell.igate.weight"


def _import_mlstm_layer(state, prefix, num_heads, config, kwargs):
    from keras_gates.blocks.mlstm_block import MLSTMBlock

    check_layer_kwargs(
        kwargs,
        "from_xlstm",
        "the mLSTM layer",
        frozenset(
            {"name", "dtype", "trainable", "return_state", "dropout", "seed"}
            | {"form", "chunk_size"}
        ),
    )
    if any(key.startswith("ffn.") for key in state):
        raise ValueError(
            "from_xlstm: this xLSTMBlock has a feed-forward after its mLSTM "
            "layer, which MLSTMBlock does not compute (the package's mLSTM "
            "blocks have none by default)."
        )

    def weight(name):
        return _get(state, prefix + name, "the mLSTM layer")

    gate = weight(_MLSTM_GATE)  # (heads, 3 E)
    heads, inner = gate.shape[0], gate.shape[1] // 3
    if num_heads is not None and num_heads != heads:
        raise ValueError(
            f"The mLSTM's gates have {heads} heads (igate.weight of shape "
            f"{gate.shape}), but num_heads={num_heads} was passed."
        )
    up = weight("proj_up.weight")  # (2 E, features)
    expect_shape(up, (2 * inner, up.shape[1]), "proj_up.weight", "the mLSTM layer")
    features = up.shape[1]
    q = weight("q_proj.weight")  # (blocks, out, in)
    size = q.shape[-1]
    conv = state.get(prefix + "conv1d.conv.weight")  # (E, 1, width)
    width = 0 if conv is None else conv.shape[-1]
    use_bias = prefix + "proj_up.bias" in state
    block = MLSTMBlock(
        heads,
        inner_units=inner,
        conv_kernel_size=width,
        qkv_block_size=size,
        use_bias=use_bias,
        residual=prefix == "xlstm.",
        **kwargs,
    )
    block.build((None, None, features))
    block.up_kernel.assign(up.T)
    for name in ("q", "k", "v"):
        kernel = weight(f"{name}_proj.weight")
        expect_shape(
            kernel,
            (inner // size, size, size),
            f"{name}_proj.weight",
            "the mLSTM layer",
        )
        getattr(block, f"{name}_kernel").assign(kernel.transpose(0, 2, 1))
    if width:
        block.conv_kernel.assign(conv[:, 0, :].T)
        block.conv_bias.assign(weight("conv1d.conv.bias"))
    forget = weight("mlstm_cell.fgate.weight")
    expect_shape(forget, gate.shape, "mlstm_cell.fgate.weight", "the mLSTM layer")
    block.gate_kernel.assign(np.concatenate([gate, forget]).T)
    block.gate_bias.assign(
        np.concatenate(
            [weight("mlstm_cell.igate.bias"), weight("mlstm_cell.fgate.bias")]
        )
    )
    norm = state.get(prefix + "mlstm_cell.outnorm.weight")
    block.norm_scale.assign(np.ones(inner) if norm is None else 1.0 + norm)
    block.skip.assign(weight("learnable_skip"))
    block.down_kernel.assign(weight("proj_down.weight").T)
    if use_bias:
        block.up_bias.assign(weight("proj_up.bias"))
        for name in ("q", "k", "v"):
            getattr(block, f"{name}_bias").assign(weight(f"{name}_proj.bias"))
        block.down_bias.assign(weight("proj_down.bias"))
    if prefix == "xlstm.":
        block.input_norm_scale.assign(
            1.0 + _get(state, "xlstm_norm.weight", "the block")
        )
    del config  # every size is in the weights
    return block


def _import_cell(state, num_heads, backend, layer_kwargs):
    from keras_gates.layers.slstm import SLSTM

    check_layer_kwargs(
        layer_kwargs,
        "from_xlstm",
        "the sLSTM cell",
        RUNNING_ARGS | OUTPUT_ARGS,
    )
    recurrent, bias = _cell_weights(state, "", num_heads, backend)
    heads, size = recurrent.shape[:2]
    layer = SLSTM(
        heads * size,
        num_heads=heads,
        input_projection=False,
        **{"return_sequences": True, **layer_kwargs},
    )
    layer.build((None, None, 4 * heads * size))
    layer.cell.recurrent_kernel.assign(recurrent)
    layer.cell.bias.assign(bias)
    return layer


def _import_layer(
    state, prefix, num_heads, kernel_size, norm_weight, backend, act_fn, kwargs
):
    from keras_gates.blocks.slstm_block import SLSTMBlock

    check_layer_kwargs(
        kwargs,
        "from_xlstm",
        "the sLSTM layer",
        frozenset({"name", "dtype", "trainable", "return_state", "dropout", "seed"}),
    )
    recurrent, bias = _cell_weights(state, prefix + "slstm_cell.", num_heads, backend)
    heads, size = recurrent.shape[:2]
    features = heads * size
    conv = state.get(prefix + "conv1d.conv.weight")  # (features, 1, width)
    width = 0 if conv is None else conv.shape[-1]
    if conv is None and prefix + "conv1d.conv.bias" in state:
        raise ValueError(
            "from_xlstm: the weights hold 'conv1d.conv.bias' but not "
            "'conv1d.conv.weight'. Pass the module, or its complete `state_dict()`."
        )
    if kernel_size is not None and kernel_size != width:
        raise ValueError(
            f"The weights hold a convolution of width {width}, but "
            f"conv1d_kernel_size={kernel_size} was passed."
        )
    scale = state.get(prefix + "group_norm.weight")
    if norm_weight is not None and bool(norm_weight) != (scale is not None):
        raise ValueError(
            f"group_norm_weight={norm_weight} was passed, but the weights "
            f"{'hold' if scale is not None else 'lack'} 'group_norm.weight'."
        )
    residual = prefix == "xlstm."
    up = state.get("ffn.proj_up.weight")  # (2 F, features)
    from keras_gates.blocks.slstm_block import FEEDFORWARD_ACTIVATIONS

    if up is not None and act_fn not in FEEDFORWARD_ACTIVATIONS:
        raise ValueError(
            f"from_xlstm: the feed-forward's act_fn={act_fn!r} is not one "
            f"that SLSTMBlock computes ({sorted(FEEDFORWARD_ACTIVATIONS)})."
        )
    block = SLSTMBlock(
        heads,
        conv_kernel_size=width,
        residual=residual,
        feedforward_units=None if up is None else up.shape[0] // 2,
        feedforward_activation=act_fn,
        feedforward_bias="ffn.proj_up.bias" in state,
        group_norm_scale=scale is not None,
        **kwargs,
    )
    block.build((None, None, features))
    # The package's `fgate` module feeds the input gate and `igate` the
    # forget gate: the blocks i, f, z, o are its fgate, igate, zgate, ogate.
    gates = []
    for name in ("fgate", "igate", "zgate", "ogate"):
        weight = _get(state, prefix + name + ".weight", "the sLSTM layer")
        expect_shape(weight, (heads, size, size), f"{name}.weight", "the sLSTM layer")
        gates.append(weight.transpose(0, 2, 1))
    block.gate_kernel.assign(np.stack(gates))
    if width:
        block.conv_kernel.assign(conv[:, 0, :].T)
        block.conv_bias.assign(_get(state, prefix + "conv1d.conv.bias", "the layer"))
    block.slstm.cell.recurrent_kernel.assign(recurrent)
    block.slstm.cell.bias.assign(bias)
    if scale is not None:
        block.norm_scale.assign(1.0 + scale)  # the package's scale is 1 + w
    if residual:
        block.input_norm_scale.assign(
            1.0 + _get(state, "xlstm_norm.weight", "the block")
        )
    if up is not None:
        norm = _get(state, "ffn_norm.weight", "the block's feed-forward")
        block.feedforward_norm_scale.assign(1.0 + norm)
        block.up_kernel.assign(up.T)
        down = _get(state, "ffn.proj_down.weight", "the block's feed-forward")
        block.down_kernel.assign(down.T)
        if block.feedforward_bias:
            block.up_bias.assign(state["ffn.proj_up.bias"])
            block.down_bias.assign(
                _get(state, "ffn.proj_down.bias", "the block's feed-forward")
            )
    return block
