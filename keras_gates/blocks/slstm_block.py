import math
import numbers

import keras
from keras import ops

from keras_gates import _validation as v
from keras_gates.api_export import keras_gates_export
from keras_gates.blocks._common import XLSTMBlockBase
from keras_gates.layers.slstm import SLSTM


def _squared_relu(x):
    return ops.square(ops.relu(x))


# The feed-forward's activations, by the official package's names.
FEEDFORWARD_ACTIVATIONS = {
    "gelu": lambda x: ops.gelu(x, approximate=False),  # PyTorch's, exact
    "relu": ops.relu,
    "relu^2": _squared_relu,
    "sigmoid": ops.sigmoid,
    "swish": ops.silu,
    "selu": ops.selu,
}


@keras_gates_export
class SLSTMBlock(XLSTMBlockBase):
    """The official xLSTM's sLSTM layer, and optionally its block around it.

    What the `xlstm` package's `sLSTMLayer` computes, for inputs of
    `features` features (the width of the model):

    ```
    x^  = SiLU(causal depthwise conv(x))       (conv_kernel_size = 0: x^ = x)
    pre = [x^ @ W_i, x^ @ W_f, x @ W_z, x @ W_o]   # each W per head
    y   = SLSTM(pre)                             # the cell, `SLSTMCell`
    out = GroupNorm_heads(y) ⊙ norm_scale
    ```

    The projections `W` are block-diagonal (head k maps the k-th slice of
    the input to its own units), the group norm normalises each head's
    units at each step (no offset). With `residual=True`, the block of the
    package's `xLSTMBlock`: `x + layer(LayerNorm(x))`, and with
    `feedforward_units=F` then `x + FFN(LayerNorm(x))`, the gated
    feed-forward `(act(x @ W_g) ⊙ (x @ W_u)) @ W_down` of `F` hidden units
    (the package takes `F` as 1.3 × features rounded up to a multiple of
    64, and `act` the exact GELU). The norms compute in float32 under
    mixed precision, as Keras' own. `keras_gates.importers.from_xlstm` builds one from the package's
    weights.

    A mask (from an `Embedding(mask_zero=True)` or `Masking`) zeroes the
    masked steps before the convolution, which then sees them as the zeros
    before a sequence's start (exact for left and right padding), and
    keeps the sLSTM's states over them; the returned convolution state is
    that of each row's last unmasked step.

    Weights: `conv_kernel` `(conv_kernel_size, features)` (row k multiplies
    the input `conv_kernel_size - 1 - k` steps back) and `conv_bias`;
    `gate_kernel` `(4, num_heads, head_units, head_units)`, the per-head
    projections of the blocks i, f, z, o; the sLSTM's `recurrent_kernel`
    and `bias` (`SLSTMCell`); `norm_scale`; with `residual`, `input_norm_scale`;
    with `feedforward_units`, `feedforward_norm_scale`, `up_kernel`
    `(features, 2 F)` (the gate's columns first) and `down_kernel`, and
    with `feedforward_bias` `up_bias` and `down_bias`.

    Args:
        num_heads: Positive integer that divides the features: the heads of
            the projections, of the recurrent matrices and of the norm.
            Defaults to `4`.
        conv_kernel_size: Non-negative integer, the width of the causal
            convolution; 0 for none. Defaults to `4`.
        residual: Whether to add the input to the layer's output of its
            layer-normalized input (the `xLSTMBlock`). Defaults to `False`.
        feedforward_units: None, or a positive integer F: the gated
            feed-forward after the sLSTM, with F hidden units (needs
            `residual`). Defaults to `None`.
        feedforward_activation: The feed-forward gate's activation, by the
            official package's names: `"gelu"` (exact), `"relu"`,
            `"relu^2"`, `"sigmoid"`, `"swish"` or `"selu"`. Defaults to
            `"gelu"`.
        feedforward_bias: Whether the feed-forward's two products add a
            bias. Defaults to `False`.
        group_norm_scale: Whether the group norm has a learned scale.
            Defaults to `True`.
        exponential_forget_gate: The sLSTM's forget gate, `exp` rather than
            `σ` (see `SLSTMCell`). Defaults to `False`.
        dropout: Float in [0, 1): dropout of the sLSTM's outputs and of the
            feed-forward's, in training. Defaults to `0.0`.
        return_state: If True, the call returns `[output, h, c, n, m]` and,
            with a convolution, the last `conv_kernel_size - 1` inputs of
            the convolution, `(batch, conv_kernel_size - 1, features)`: the
            states `initial_state` takes to go on. Defaults to `False`.
        kernel_initializer: Initializer of the projections and of the
            feed-forward's kernels. Defaults to `"glorot_uniform"`.
        recurrent_initializer: Initializer of the sLSTM's recurrent kernel.
            Defaults to `"orthogonal"`.
        seed: Integer, the seed of the dropout masks. Defaults to `None`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Call arguments:
        - `inputs`: A 3D tensor `(batch, timesteps, features)`.
        - `initial_state`: None, or the states that `return_state` gives.
        - `mask`: A boolean tensor `(batch, timesteps)`, False at padding.
        - `training`: Whether dropout is active; `fit` sets it.

    Examples:
        >>> import numpy as np, keras_gates
        >>> block = keras_gates.blocks.SLSTMBlock(num_heads=2, residual=True)
        >>> tuple(block(np.zeros((3, 7, 8), "float32")).shape)
        (3, 7, 8)

    Reference:
        M. Beck et al., "xLSTM: Extended Long Short-Term Memory", NeurIPS
        2024 (arXiv:2405.04517), and the `xlstm` package (NX-AI).
    """

    def __init__(
        self,
        num_heads=4,
        *,
        conv_kernel_size=4,
        residual=False,
        feedforward_units=None,
        feedforward_activation="gelu",
        feedforward_bias=False,
        group_norm_scale=True,
        exponential_forget_gate=False,
        dropout=0.0,
        return_state=False,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = v.check_units(num_heads, "num_heads")
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
        self.residual = v.check_bool(residual, "residual")
        self.feedforward_units = v.check_optional_units(
            feedforward_units, "feedforward_units"
        )
        if self.feedforward_units and not self.residual:
            raise ValueError(
                "SLSTMBlock's feed-forward belongs to the residual block: "
                "`feedforward_units` needs `residual=True`."
            )
        if feedforward_activation not in FEEDFORWARD_ACTIVATIONS:
            raise ValueError(
                "Argument `feedforward_activation` must be one of "
                f"{sorted(FEEDFORWARD_ACTIVATIONS)} (the official package's "
                f"names). Received: feedforward_activation={feedforward_activation!r}"
            )
        self.feedforward_activation = feedforward_activation
        self.feedforward_bias = v.check_bool(feedforward_bias, "feedforward_bias")
        self.group_norm_scale = v.check_bool(group_norm_scale, "group_norm_scale")
        self.exponential_forget_gate = v.check_bool(
            exponential_forget_gate, "exponential_forget_gate"
        )
        self.dropout = v.check_rate(dropout, "dropout")
        self.return_state = v.check_bool(return_state, "return_state")
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.seed = seed
        self.supports_masking = True
        self.input_spec = keras.InputSpec(ndim=3)
        self.slstm = None
        self._dropout = keras.layers.Dropout(
            self.dropout, seed=seed, dtype=self.dtype_policy
        )

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError(
                "SLSTMBlock needs a known number of features (its weights' "
                f"size). Received inputs of shape {tuple(input_shape)}."
            )
        if features % self.num_heads:
            raise ValueError(
                f"SLSTMBlock splits its inputs' features into {self.num_heads} "
                "heads: `num_heads` must divide them. Received inputs of shape "
                f"{tuple(input_shape)}."
            )
        self.features = features
        self.input_spec = keras.InputSpec(ndim=3, axes={-1: features})
        heads, size = self.num_heads, features // self.num_heads
        if self.residual:
            self.input_norm_scale = self.add_weight(
                shape=(features,), name="input_norm_scale", initializer="ones"
            )
        if self.conv_kernel_size:
            self.conv_kernel = self.add_weight(
                shape=(self.conv_kernel_size, features),
                name="conv_kernel",
                initializer=self.kernel_initializer,
            )
            self.conv_bias = self.add_weight(
                shape=(features,), name="conv_bias", initializer="zeros"
            )
        self.gate_kernel = self.add_weight(
            shape=(4, heads, size, size),
            name="gate_kernel",
            initializer=self.kernel_initializer,
        )
        self.slstm = SLSTM(
            features,
            num_heads=heads,
            exponential_forget_gate=self.exponential_forget_gate,
            recurrent_initializer=self.recurrent_initializer,
            input_projection=False,
            return_sequences=True,
            return_state=True,
            dtype=self.dtype_policy,
            name="slstm",
        )
        self.slstm.build((input_shape[0], input_shape[1], 4 * features))
        if self.group_norm_scale:
            self.norm_scale = self.add_weight(
                shape=(features,), name="norm_scale", initializer="ones"
            )
        if self.feedforward_units:
            units = self.feedforward_units
            self.feedforward_norm_scale = self.add_weight(
                shape=(features,), name="feedforward_norm_scale", initializer="ones"
            )
            self.up_kernel = self.add_weight(
                shape=(features, 2 * units),
                name="up_kernel",
                initializer=self.kernel_initializer,
            )
            self.down_kernel = self.add_weight(
                shape=(units, features),
                name="down_kernel",
                initializer=self.kernel_initializer,
            )
            if self.feedforward_bias:
                self.up_bias = self.add_weight(
                    shape=(2 * units,), name="up_bias", initializer="zeros"
                )
                self.down_bias = self.add_weight(
                    shape=(features,), name="down_bias", initializer="zeros"
                )

    @staticmethod
    def official_feedforward_units(features, factor=1.3, multiple=64):
        """The feed-forward width of the package's `xLSTMBlock`: `factor ×
        features`, rounded up to a multiple of `multiple`."""
        return int(math.ceil(factor * features / multiple) * multiple)

    def _heads(self, x, block):
        """The per-head projection `block` (0..3: i, f, z, o) of `x`."""
        shape = ops.shape(x)
        x = ops.reshape(x, (shape[0], shape[1], self.num_heads, -1))
        x = ops.einsum("bthd,hde->bthe", x, self.gate_kernel[block])
        return ops.reshape(x, (shape[0], shape[1], self.features))

    def call(self, inputs, initial_state=None, mask=None, training=False):
        x = inputs
        if mask is not None:
            x = x * ops.cast(ops.expand_dims(mask, -1), x.dtype)
        layer_in = self._layer_norm(x, self.input_norm_scale) if self.residual else x
        batch = ops.shape(x)[0]
        states = None if initial_state is None else list(initial_state)
        if states is not None:
            self._check_states(
                states, inputs, ("h", "c", "n", "m"), [self.features] * 4
            )
        if self.conv_kernel_size:
            if states is None:
                conv_state = ops.zeros(
                    (batch, self.conv_kernel_size - 1, self.features), layer_in.dtype
                )
            else:
                conv_state = ops.cast(states[4], layer_in.dtype)
            convolved, padded = self._convolve(layer_in, conv_state)
            if mask is None:
                width = self.conv_kernel_size - 1
                conv_state = padded[:, ops.shape(padded)[1] - width :]
            else:
                conv_state = self._last_window(padded, mask)
            x_conv = ops.silu(convolved)
        else:
            x_conv, conv_state = layer_in, None
        pre = ops.concatenate(
            [
                self._heads(x_conv, 0),
                self._heads(x_conv, 1),
                self._heads(layer_in, 2),
                self._heads(layer_in, 3),
            ],
            axis=-1,
        )
        y, *slstm_states = self.slstm(
            pre,
            initial_state=None if states is None else states[:4],
            mask=mask,
            training=training,
        )
        y = self._dropout(y, training=training)
        out = self._normalized(y, self.num_heads)
        if self.group_norm_scale:
            out = out * ops.cast(self.norm_scale, "float32")
        out = ops.cast(out, self.compute_dtype)
        if self.residual:
            out = ops.cast(inputs, self.compute_dtype) + out
        if self.feedforward_units:
            normed = self._layer_norm(out, self.feedforward_norm_scale)
            up = ops.matmul(normed, self.up_kernel)
            if self.feedforward_bias:
                up = up + self.up_bias
            gate, up = ops.split(up, 2, axis=-1)
            hidden = FEEDFORWARD_ACTIVATIONS[self.feedforward_activation](gate) * up
            down = ops.matmul(hidden, self.down_kernel)
            if self.feedforward_bias:
                down = down + self.down_bias
            out = out + self._dropout(down, training=training)
        if not self.return_state:
            return out
        return [out, *slstm_states, *([conv_state] if self.conv_kernel_size else [])]

    def compute_mask(self, inputs, mask=None):
        if self.return_state:
            return [mask] + [None] * (4 + bool(self.conv_kernel_size))
        return mask

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        if not self.return_state:
            return shape
        states = [(shape[0], shape[-1])] * 4
        if self.conv_kernel_size:
            states.append((shape[0], self.conv_kernel_size - 1, shape[-1]))
        return [shape, *states]

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "conv_kernel_size": self.conv_kernel_size,
            "residual": self.residual,
            "feedforward_units": self.feedforward_units,
            "feedforward_activation": self.feedforward_activation,
            "feedforward_bias": self.feedforward_bias,
            "group_norm_scale": self.group_norm_scale,
            "exponential_forget_gate": self.exponential_forget_gate,
            "dropout": self.dropout,
            "return_state": self.return_state,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(
                self.recurrent_initializer
            ),
            "seed": self.seed,
        }
