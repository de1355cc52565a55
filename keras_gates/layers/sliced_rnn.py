"""`SlicedRNN`: a recurrent layer made parallel over long sequences by
reading slices side by side (Yu & Liu, COLING 2018)."""

import math
import numbers

import keras
import numpy as np
from keras import ops

from keras_gates.api_export import keras_gates_export


def _is_recurrent(layer):
    return isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))


def _with_return_sequences(config, value):
    """`config` (a layer's serialized config, nested for Bidirectional) with
    every `return_sequences` set to `value`."""
    if "return_sequences" in config:
        config["return_sequences"] = value
    for key in ("layer", "backward_layer"):
        inner = config.get(key)
        if isinstance(inner, dict) and isinstance(inner.get("config"), dict):
            _with_return_sequences(inner["config"], value)
    return config


def _unbuilt_config(layer):
    """`layer` serialized without its build config: what deserializes to a
    new, unbuilt layer of its config."""
    config = keras.layers.serialize(layer)
    config.pop("build_config", None)
    return config


def _copy(layer):
    """A new, unbuilt layer of `layer`'s config."""
    return keras.layers.deserialize(_unbuilt_config(layer))


def _is_count(n):
    return (
        isinstance(n, numbers.Integral)
        and not isinstance(n, (bool, np.bool_))
        and n >= 1
    )


def _check_slices(slices):
    """`slices` as a tuple of ints: a positive integer (Python or NumPy) or a
    non-empty sequence of them."""
    counts = (slices,) if isinstance(slices, numbers.Integral) else slices
    try:
        counts = tuple(counts)
    except TypeError:
        counts = ()
    if not counts or not all(_is_count(n) for n in counts):
        raise ValueError(
            "Argument `slices` must be a positive integer or a non-empty "
            f"tuple of them. Received: slices={slices!r}"
        )
    return tuple(int(n) for n in counts)


@keras_gates_export
class SlicedRNN(keras.layers.Layer):
    """A recurrent layer read as a tree of slices: the Sliced RNN (Yu & Liu,
    COLING 2018), parallel over the time axis.

    With `slices=(n_1, ..., n_k)` the sequence of T steps is cut into
    `N = n_1 * ... * n_k` minimal slices of `T / N` steps each. Level 0
    (`layer`) reads all of them side by side, as one batch, and keeps each
    slice's last output. Each following level reads the last outputs of
    `n_k`, then `n_(k-1)`, ... consecutive slices of the level below, as
    sequences, until level k reads one sequence of `n_1` summaries per
    sample. For example `slices=(8, 8)` at T = 512: 64 slices of 8 steps,
    then 8 sequences of 8 summaries, then one of 8. The longest chain of
    steps run one after another is `T / N + n_k + ... + n_1` instead of T.

    Masks: each slice is read under its part of the mask; a slice (or a
    group of slices) that is all padding is masked at the level above, so
    it changes nothing, and the output is that of the last slice holding a
    real step.

    Args:
        layer: The recurrent layer of level 0: a keras-gates layer, a Keras
            RNN layer (`keras.layers.LSTM`, `GRU`, `RNN(cell)`, ...) or a
            `keras.layers.Bidirectional` of one, with `return_sequences`,
            `return_state` and `stateful` off.
        slices: The slice counts `(n_1, ..., n_k)`, top level first; an
            int for one level above level 0.
        layers: The layers of levels 1 to k, bottom first (the last one
            reads the n_1 summaries). Defaults to new layers with `layer`'s
            config. Like `keras.layers.Bidirectional`, the SlicedRNN runs
            copies of `layer` and `layers` (the `levels`), so one instance
            may be handed to several; a built instance's weights are
            copied too.
        return_sequences: If True, the top level's output at each of its
            n_1 steps, shape `(batch, n_1, units)`; else its last output,
            `(batch, units)`. Defaults to False.
        pad: If True, a sequence whose length T is not a multiple of N is
            padded at its end with masked steps up to one. If False (the
            default), such a T raises a ValueError.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Examples:
        >>> import numpy as np, keras, keras_gates
        >>> layer = keras_gates.PeepholeLSTM(16)
        >>> sliced = keras_gates.SlicedRNN(layer, (4, 4), name="tree")
        >>> tuple(sliced(np.zeros((2, 64, 8), "float32")).shape)
        (2, 16)
        >>> [level.name for level in sliced.levels[1:]]
        ['tree_level_1', 'tree_level_2']
    """

    def __init__(
        self,
        layer,
        slices,
        layers=None,
        return_sequences=False,
        pad=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.slices = slices = _check_slices(slices)
        self.return_sequences = bool(return_sequences)
        self.pad = bool(pad)
        if layers is None:
            layers = [self._level_like(layer, j) for j in range(1, len(slices) + 1)]
        layers = list(layers)
        if len(layers) != len(slices):
            raise ValueError(
                f"`layers` must hold one layer per level above level 0 "
                f"({len(slices)} for slices={slices}). Received {len(layers)}."
            )
        for j, level in enumerate([layer, *layers]):
            self._check_level(level, j, top=j == len(layers))
        # Copies, as keras.layers.Bidirectional makes: an instance handed to
        # two SlicedRNNs (or to one twice) gives independent levels. A built
        # instance's weights go to its copy when the copy is built.
        self.levels = [_copy(level) for level in [layer, *layers]]
        self._pending_weights = [
            level.get_weights() if level.built else None for level in [layer, *layers]
        ]
        self.supports_masking = True

    @property
    def layer(self):
        """The layer of level 0."""
        return self.levels[0]

    @property
    def minimal_slices(self):
        """N, the number of minimal slices a sequence is cut into."""
        return math.prod(self.slices)

    def _level_like(self, layer, j):
        """A layer of `layer`'s config for level j (fresh weights)."""
        config = _unbuilt_config(layer)
        config["config"]["name"] = f"{self.name}_level_{j}"
        top = j == len(self.slices)
        _with_return_sequences(config["config"], self.return_sequences and top)
        return keras.layers.deserialize(config)

    def _check_level(self, level, j, top):
        if not _is_recurrent(level):
            raise ValueError(
                "Each level of a SlicedRNN must be a recurrent layer (a "
                "keras.layers.RNN such as keras_gates.PeepholeLSTM or "
                f"keras.layers.LSTM, or a Bidirectional of one). Level {j}: "
                f"{level!r}"
            )
        wanted = self.return_sequences and top
        if bool(level.return_sequences) != wanted:
            raise ValueError(
                f"Level {j} ({level.name}) has return_sequences="
                f"{level.return_sequences}; "
                + (
                    "the top level returns what the SlicedRNN returns "
                    f"(return_sequences={self.return_sequences})."
                    if top
                    else "a level below the top passes on its last output only."
                )
            )
        bidirectional = isinstance(level, keras.layers.Bidirectional)
        if bidirectional and level.merge_mode is None:
            raise ValueError(
                f"A Bidirectional level of a SlicedRNN must merge its two "
                f"directions: level {j} ({level.name}) has merge_mode=None. "
                "Pass merge_mode='concat' (the default), 'sum', 'mul' or 'ave'."
            )
        inner = (
            [level.forward_layer, level.backward_layer] if bidirectional else [level]
        )
        for sub in inner:
            for flag in ("return_state", "stateful"):
                if getattr(sub, flag, False):
                    raise ValueError(
                        f"A SlicedRNN level cannot be {flag}: level {j} "
                        f"({level.name}) is."
                    )

    def _slice_length(self, steps):
        if steps is None:
            return None
        n = self.minimal_slices
        if steps % n and not self.pad:
            raise ValueError(
                f"A SlicedRNN with slices={self.slices} cuts a sequence into "
                f"{n} slices of equal length, so its length must be a multiple "
                f"of {n}. Received a length of {steps}. Pass pad=True to pad "
                "it at its end with masked steps."
            )
        return -(-steps // n)

    def _level_shapes(self, input_shape, build=False):
        """The output shape of the top level for `input_shape`, passing
        each level the shape it reads (and building it, with `build`)."""
        shape = (None, self._slice_length(input_shape[1]), input_shape[2])
        for level, n in zip(self.levels, (None, *reversed(self.slices)), strict=True):
            if n is not None:
                shape = (None, n, shape[-1])
            if build and not level.built:
                level.build(shape)
                self._load_pending_weights(level)
            shape = level.compute_output_shape(shape)
        return shape

    def _load_pending_weights(self, level):
        j = self.levels.index(level)
        weights, self._pending_weights[j] = self._pending_weights[j], None
        if weights is not None:
            level.set_weights(weights)

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                "A SlicedRNN takes inputs of shape (batch, time, features). "
                f"Received input_shape={input_shape}"
            )
        self._level_shapes(input_shape, build=True)

    def compute_output_shape(self, input_shape):
        shape = self._level_shapes(input_shape)
        return (input_shape[0], *tuple(shape)[1:])

    def _padded(self, inputs, mask):
        """The inputs and the mask (None when absent and not padded), the
        time axis padded at its end to a multiple of N when `pad`."""
        n = self.minimal_slices
        steps = inputs.shape[1]
        self._slice_length(steps)  # the error for a bad static length
        if not self.pad or (steps is not None and steps % n == 0):
            return inputs, mask
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], "bool")
        extra = (-ops.shape(inputs)[1]) % n
        inputs = ops.pad(inputs, [[0, 0], [0, extra], [0, 0]])
        # Padded as integers: TFLite before TensorFlow 2.19 has no PAD of
        # booleans.
        mask = ops.pad(ops.cast(mask, "int32"), [[0, 0], [0, extra]]) > 0
        return inputs, mask

    def call(self, inputs, mask=None, training=None):
        inputs, mask = self._padded(inputs, mask)
        features = inputs.shape[-1]
        length = ops.shape(inputs)[1] // self.minimal_slices
        # Each level's batch: the samples' static batch (an export's fixed
        # one) times the sequences per sample, so that a loop that needs a
        # static step shape (Keras' own, in TFLite) gets one.
        batch = inputs.shape[0]
        sequences = self.minimal_slices

        def rows():
            return -1 if batch is None else batch * sequences

        x = ops.reshape(inputs, (rows(), length, features))
        if mask is not None:
            mask = ops.reshape(ops.cast(mask, "bool"), (rows(), ops.shape(x)[1]))
        x = self.levels[0](x, mask=mask, training=training)
        for level, n in zip(self.levels[1:], reversed(self.slices), strict=True):
            sequences //= n
            x = ops.reshape(x, (rows(), n, x.shape[-1]))
            if mask is not None:
                mask = ops.reshape(ops.any(mask, axis=-1), (rows(), n))
            x = level(x, mask=mask, training=training)
        # In the SlicedRNN's compute dtype, as keras.layers.Bidirectional
        # returns its own: the levels keep the policy they were built with.
        return ops.cast(x, self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        if not self.return_sequences or (mask is None and not self.pad):
            return None
        # Group g of the top level holds the padded steps [g * G, (g + 1) *
        # G), G = ceil(T / N) * N / n_1; it is real when one of its steps
        # is. In ops of the steps' positions rather than a reshape, so that
        # it holds in a functional model for a length unknown until run time
        # (what Keras traces there is what it runs).
        self._slice_length(inputs.shape[1])  # the error for a bad static length
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], "bool")
        mask = ops.cast(mask, "int32")
        position = ops.cumsum(ops.ones_like(mask), axis=1) - 1
        steps = ops.max(position, axis=1, keepdims=True) + 1
        n = self.minimal_slices
        group_size = (steps + n - 1) // n * (n // self.slices[0])
        groups = ops.one_hot(position // group_size, self.slices[0], dtype="int32")
        return ops.max(groups * ops.expand_dims(mask, -1), axis=1) > 0

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "layer": keras.layers.serialize(self.levels[0]),
                "slices": list(self.slices),
                "layers": [keras.layers.serialize(level) for level in self.levels[1:]],
                "return_sequences": self.return_sequences,
                "pad": self.pad,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.layers.deserialize(config["layer"])
        config["layers"] = [keras.layers.deserialize(c) for c in config["layers"]]
        return cls(**config)
