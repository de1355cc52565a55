import math
import numbers

import keras
from keras import ops

from keras_gates import _validation as v
from keras_gates import engine
from keras_gates.api_export import keras_gates_export
from keras_gates.blocks._common import XLSTMBlockBase
from keras_gates.layers.mlstm import MLSTM


@keras_gates_export
class MLSTMBlock(XLSTMBlockBase):
    """The official xLSTM's mLSTM layer, and optionally its residual block.

    What the `xlstm` package's `mLSTMLayer` computes, for inputs of
    `features` features (the width of the model), with `inner_units` E:

    ```
    x_m, z = split(x @ up_kernel)                  # E each
    x_c = SiLU(causal depthwise conv(x_m))
    q, k = blocks(x_c), v = blocks(x_m)            # block-diagonal projections
    i~, f~ = [q, k, v] @ gate_kernel + gate_bias   # one each per head
    h~  = MLSTM(q, k, v, i~, f~)                   # the matrix memory
    out = ((GroupNorm_heads(h~) ⊙ norm_scale) + skip ⊙ x_c) ⊙ SiLU(z)
    y   = out @ down_kernel
    ```

    The projections of q, k and v are block-diagonal, blocks of
    `qkv_block_size` features; the group norm normalises each head's
    features at each step (no offset). With `residual=True`, the package's
    `xLSTMBlock` around it: `x + layer(LayerNorm(x))`. The memory runs in
    the `form` of `keras_gates.MLSTM` (parallel, chunkwise or recurrent, the
    same numbers); the norms compute in float32 under mixed precision.
    `keras_gates.importers.from_xlstm` builds one from the package's
    weights.

    A mask zeroes the masked steps before the up-projection, so the
    convolution sees them as the zeros before a sequence's start (exact for
    left and right padding), and keeps the memory over them; the returned
    convolution state is that of each row's last unmasked step.

    Weights: `up_kernel` `(features, 2 E)` (x_m's columns first);
    `conv_kernel` `(conv_kernel_size, E)` (row k multiplies the input
    `conv_kernel_size - 1 - k` steps back) and `conv_bias`; `q_kernel`,
    `k_kernel`, `v_kernel` `(E / qkv_block_size, qkv_block_size,
    qkv_block_size)`; `gate_kernel` `(3 E, 2 num_heads)` (the input gates'
    columns first) and `gate_bias`; `norm_scale`; `skip`; `down_kernel`
    `(E, features)`; with `use_bias`, `up_bias`, `q_bias`, `k_bias`,
    `v_bias` and `down_bias`; with `residual`, `input_norm_scale`.

    Args:
        num_heads: Positive integer that divides `inner_units`: the heads of
            the memory and of the norm. Defaults to `4`.
        inner_units: None, or a positive integer E: the width inside the
            block. None takes the package's: twice the features, rounded up
            to a multiple of 64. Defaults to `None`.
        conv_kernel_size: Non-negative integer, the width of the causal
            convolution; 0 for none. Defaults to `4`.
        qkv_block_size: Positive integer that divides E: the size of the
            blocks of the q, k and v projections. Defaults to `4`.
        use_bias: Whether the up, q, k, v and down projections add a bias
            (the package's `bias`). Defaults to `False`.
        residual: Whether to add the input to the layer's output of its
            layer-normalized input (the `xLSTMBlock`). Defaults to `False`.
        dropout: Float in [0, 1): dropout of the block's output, in
            training. Defaults to `0.0`.
        return_state: If True, the call returns `[output, C, n, m]` and, with
            a convolution, its last `conv_kernel_size - 1` inputs `(batch,
            conv_kernel_size - 1, E)`: the states `initial_state` takes to go
            on. Defaults to `False`.
        form: How the memory runs: `"auto"`, `"recurrent"`, `"parallel"` or
            `"chunkwise"` (see `keras_gates.MLSTM`). Defaults to `"auto"`.
        chunk_size: Positive integer, the steps of a chunk in the chunkwise
            form. Defaults to `64`.
        kernel_initializer: Initializer of the projections' kernels.
            Defaults to `"glorot_uniform"`.
        seed: Integer, the seed of the dropout masks. Defaults to `None`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Call arguments:
        - `inputs`: A 3D tensor `(batch, timesteps, features)`.
        - `initial_state`: None, or the states that `return_state` gives.
        - `mask`: A boolean tensor `(batch, timesteps)`, False at padding.
        - `training`: Whether dropout is active; `fit` sets it.

    Examples:
        >>> import numpy as np, keras_gates
        >>> block = keras_gates.blocks.MLSTMBlock(num_heads=2, residual=True)
        >>> tuple(block(np.zeros((3, 7, 16), "float32")).shape)
        (3, 7, 16)
        >>> block.inner_units  # 2 x 16, rounded up to a multiple of 64
        64

    Reference:
        M. Beck et al., "xLSTM: Extended Long Short-Term Memory", NeurIPS
        2024 (arXiv:2405.04517), and the `xlstm` package (NX-AI).
    """

    def __init__(
        self,
        num_heads=4,
        *,
        inner_units=None,
        conv_kernel_size=4,
        qkv_block_size=4,
        use_bias=False,
        residual=False,
        dropout=0.0,
        return_state=False,
        form="auto",
        chunk_size=64,
        kernel_initializer="glorot_uniform",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = v.check_units(num_heads, "num_heads")
        self.inner_units = v.check_optional_units(inner_units, "inner_units")
        if (
            not isinstance(conv_kernel_size, numbers.Integral)
            or isinstance(conv_kernel_size, bool)
            or conv_kernel_size < 0
        ):
            raise ValueError(
                "Argument `conv_kernel_size` must be a non-negative integer "
                f"(0: no convolution). Received: conv_kernel_size={conv_kernel_size!r}"
            )
        self.conv_kernel_size = int(conv_kernel_size)
        self.qkv_block_size = v.check_units(qkv_block_size, "qkv_block_size")
        self.use_bias = v.check_bool(use_bias, "use_bias")
        self.residual = v.check_bool(residual, "residual")
        self.dropout = v.check_rate(dropout, "dropout")
        self.return_state = v.check_bool(return_state, "return_state")
        if form not in engine.FORMS:
            raise ValueError(
                f"Argument `form` must be one of {engine.FORMS}. "
                f"Received: form={form!r}"
            )
        self.form = form
        self.chunk_size = v.check_units(chunk_size, "chunk_size")
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.seed = seed
        self.supports_masking = True
        self.input_spec = keras.InputSpec(ndim=3)
        self.mlstm = None
        self._dropout = keras.layers.Dropout(
            self.dropout, seed=seed, dtype=self.dtype_policy
        )

    @staticmethod
    def official_inner_units(features, factor=2.0, multiple=64):
        """The package's inner width: `factor × features`, rounded up to a
        multiple of `multiple`."""
        return int(math.ceil(factor * features / multiple) * multiple)

    def _weight(self, name, shape, initializer=None):
        return self.add_weight(
            shape=shape, name=name, initializer=initializer or self.kernel_initializer
        )

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError(
                "MLSTMBlock needs a known number of features (its weights' "
                f"size). Received inputs of shape {tuple(input_shape)}."
            )
        self.features = features
        self.input_spec = keras.InputSpec(ndim=3, axes={-1: features})
        inner = self.inner_units or self.official_inner_units(features)
        self.inner_units = inner
        for name, size in (
            ("num_heads", self.num_heads),
            ("qkv_block_size", self.qkv_block_size),
        ):
            if inner % size:
                raise ValueError(
                    f"MLSTMBlock splits its {inner} inner units by `{name}`: "
                    f"it must divide them. Received: {name}={size}."
                )
        heads, blocks, size = (
            self.num_heads,
            inner // self.qkv_block_size,
            self.qkv_block_size,
        )
        if self.residual:
            self.input_norm_scale = self._weight(
                "input_norm_scale", (features,), "ones"
            )
        self.up_kernel = self._weight("up_kernel", (features, 2 * inner))
        if self.conv_kernel_size:
            self.conv_kernel = self._weight(
                "conv_kernel", (self.conv_kernel_size, inner)
            )
            self.conv_bias = self._weight("conv_bias", (inner,), "zeros")
        for name in ("q", "k", "v"):
            setattr(
                self,
                f"{name}_kernel",
                self._weight(f"{name}_kernel", (blocks, size, size)),
            )
        self.gate_kernel = self._weight("gate_kernel", (3 * inner, 2 * heads), "zeros")

        def gate_bias(shape, dtype=None):  # the package's start: i 0, f 3 to 6
            return ops.concatenate(
                [ops.zeros((heads,), dtype), ops.linspace(3.0, 6.0, heads, dtype=dtype)]
            )

        self.gate_bias = self._weight("gate_bias", (2 * heads,), gate_bias)
        self.norm_scale = self._weight("norm_scale", (inner,), "ones")
        self.skip = self._weight("skip", (inner,), "ones")
        self.down_kernel = self._weight("down_kernel", (inner, features))
        if self.use_bias:
            for name, width in (
                ("up", 2 * inner),
                ("q", inner),
                ("k", inner),
                ("v", inner),
                ("down", features),
            ):
                setattr(
                    self,
                    f"{name}_bias",
                    self._weight(f"{name}_bias", (width,), "zeros"),
                )
        self.mlstm = MLSTM(
            inner,
            num_heads=heads,
            input_projection=False,
            return_sequences=True,
            return_state=True,
            form=self.form,
            chunk_size=self.chunk_size,
            dtype=self.dtype_policy,
            name="mlstm",
        )
        self.mlstm.build((input_shape[0], input_shape[1], 3 * inner + 2 * heads))

    def _blocks(self, x, name):
        """The block-diagonal projection `name` (q, k or v) of `x`."""
        shape = ops.shape(x)
        size = self.qkv_block_size
        blocks = self.inner_units // size
        x = ops.reshape(x, (shape[0], shape[1], blocks, size))
        x = ops.einsum("btnd,nde->btne", x, getattr(self, f"{name}_kernel"))
        x = ops.reshape(x, (shape[0], shape[1], self.inner_units))
        return x + getattr(self, f"{name}_bias") if self.use_bias else x

    def call(self, inputs, initial_state=None, mask=None, training=False):
        x = inputs
        if mask is not None:
            x = x * ops.cast(ops.expand_dims(mask, -1), x.dtype)
        layer_in = self._layer_norm(x, self.input_norm_scale) if self.residual else x
        states = None if initial_state is None else list(initial_state)
        if states is not None:
            self._check_states(
                states, inputs, ("C", "n", "m"), self.mlstm.cell.state_size
            )
        up = ops.matmul(layer_in, self.up_kernel)
        if self.use_bias:
            up = up + self.up_bias
        x_m, z = ops.split(up, 2, axis=-1)
        if self.conv_kernel_size:
            width = self.conv_kernel_size - 1
            if states is None:
                conv_state = ops.zeros(
                    (ops.shape(x)[0], width, self.inner_units), x_m.dtype
                )
            else:
                conv_state = ops.cast(states[3], x_m.dtype)
            convolved, padded = self._convolve(x_m, conv_state)
            if mask is None:
                conv_state = padded[:, ops.shape(padded)[1] - width :]
            else:
                conv_state = self._last_window(padded, mask)
            x_c = ops.silu(convolved)
        else:
            x_c, conv_state = x_m, None
        q, k, value = (
            self._blocks(x_c, "q"),
            self._blocks(x_c, "k"),
            self._blocks(x_m, "v"),
        )
        qkv = ops.concatenate([q, k, value], axis=-1)
        gates = ops.matmul(qkv, self.gate_kernel) + self.gate_bias
        h, *memory = self.mlstm(
            ops.concatenate([qkv, gates], axis=-1),
            initial_state=None if states is None else states[:3],
            mask=mask,
            training=training,
        )
        normed = self._normalized(h, self.num_heads) * ops.cast(
            self.norm_scale, "float32"
        )
        out = ops.cast(normed, self.compute_dtype) + self.skip * x_c
        out = ops.matmul(out * ops.silu(z), self.down_kernel)
        if self.use_bias:
            out = out + self.down_bias
        out = self._dropout(out, training=training)
        if self.residual:
            out = ops.cast(inputs, self.compute_dtype) + out
        if not self.return_state:
            return out
        return [out, *memory, *([conv_state] if self.conv_kernel_size else [])]

    def compute_mask(self, inputs, mask=None):
        if self.return_state:
            return [mask] + [None] * (3 + bool(self.conv_kernel_size))
        return mask

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        if not self.return_state:
            return shape
        inner = self.inner_units or self.official_inner_units(shape[-1])
        heads = self.num_heads
        key = inner // heads
        states = [(shape[0], heads * key * key), (shape[0], inner), (shape[0], heads)]
        if self.conv_kernel_size:
            states.append((shape[0], self.conv_kernel_size - 1, inner))
        return [shape, *states]

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "inner_units": self.inner_units,
            "conv_kernel_size": self.conv_kernel_size,
            "qkv_block_size": self.qkv_block_size,
            "use_bias": self.use_bias,
            "residual": self.residual,
            "dropout": self.dropout,
            "return_state": self.return_state,
            "form": self.form,
            "chunk_size": self.chunk_size,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "seed": self.seed,
        }
