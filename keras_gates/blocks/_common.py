"""What the official xLSTM's sLSTM and mLSTM layers share: the causal
depthwise convolution with its state, and the normalizations. Not public."""

import keras
from keras import ops

# The official package's normalizations' epsilon (their scale is `1 + w`).
NORM_EPSILON = 1e-5


class XLSTMBlockBase(keras.layers.Layer):
    """The convolution and the norms of `SLSTMBlock` and `MLSTMBlock`, which
    read `self.conv_kernel_size`, `self.conv_kernel` and `self.conv_bias`."""

    def _normalized(self, x, groups=1):
        """`x` normalized over its features in `groups` groups, computed in
        float32 (in float16, `rsqrt(var + 1e-5)` overflows in the backward
        pass) and returned in float32."""
        x = ops.cast(x, "float32")
        shape = ops.shape(x)
        grouped = ops.reshape(x, (shape[0], shape[1], groups, -1))
        mean = ops.mean(grouped, axis=-1, keepdims=True)
        variance = ops.var(grouped, axis=-1, keepdims=True)
        grouped = (grouped - mean) * ops.rsqrt(variance + NORM_EPSILON)
        return ops.reshape(grouped, shape)

    def _layer_norm(self, x, scale):
        out = self._normalized(x) * ops.cast(scale, "float32")
        return ops.cast(out, self.compute_dtype)

    def _last_window(self, padded, mask):
        """Each row's convolution state after its last unmasked step: the
        `conv_kernel_size - 1` inputs that end there (the state passed in,
        for a row with no unmasked step)."""
        width = self.conv_kernel_size - 1
        steps = ops.shape(mask)[1]
        mask = ops.cast(mask, "int32")
        seen = ops.cast(ops.any(mask > 0, axis=1), "int32")
        from_end = ops.cast(ops.argmax(ops.flip(mask, axis=1), axis=1), "int32")
        last = seen * (steps - from_end)  # steps up to the last unmasked one
        index = ops.expand_dims(last, 1) + ops.arange(width, dtype="int32")
        index = ops.broadcast_to(
            ops.expand_dims(index, -1), (ops.shape(padded)[0], width, padded.shape[-1])
        )
        return ops.take_along_axis(padded, index, axis=1)

    def _convolve(self, x, conv_state):
        """The causal depthwise convolution of `x` after `conv_state` (the
        previous `conv_kernel_size - 1` inputs, zeros at a start), and the
        new state."""
        width = self.conv_kernel_size
        padded = ops.concatenate([conv_state, x], axis=1)
        steps = ops.shape(x)[1]
        y = self.conv_bias
        for k in range(width):
            y = y + padded[:, k : k + steps] * self.conv_kernel[k]
        return y, padded

    def _check_states(self, states, inputs, names, sizes):
        """A clear ValueError unless `states` are the memory's states, of
        `sizes` (their features), then the convolution's, as `return_state`
        returns them; `names` names the memory's."""
        width = self.conv_kernel_size
        names = [*names, *(["the convolution's"] if width else [])]
        cls = type(self).__name__
        if len(states) != len(names):
            raise ValueError(
                f"{cls} expects `initial_state` to be a list of {len(names)} "
                f"tensors ({', '.join(names)}), as `return_state=True` returns "
                f"them. Received {len(states)}."
            )
        batch = inputs.shape[0]
        wanted = [(batch, size) for size in sizes]
        if width:
            wanted.append((batch, width - 1, self.conv_kernel.shape[-1]))
        for k, (state, shape) in enumerate(zip(states, wanted, strict=True)):
            got = tuple(getattr(state, "shape", ()))
            if len(got) != len(shape) or any(
                a is not None and b is not None and a != b
                for a, b in zip(got, shape, strict=True)
            ):
                raise ValueError(
                    f"{cls}'s initial state {k} ({names[k]}) must have shape "
                    f"{shape}. Received: {got}."
                )
