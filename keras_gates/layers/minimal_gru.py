from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.minimal_gru_cell import MinimalGRUCell
from keras_gates.layers.cell_layer import CellLayer


@keras_gates_export
class MinimalGRU(CellLayer, cell_class=MinimalGRUCell):
    """Minimal gated unit layer, a GRU with one gate (Zhou et al., 2016).

    A `keras.layers.RNN` over a `MinimalGRUCell`, used like
    `keras.layers.GRU`, with a third fewer parameters. Its gate `f` weights
    the NEW candidate (f = 1 rewrites the state), the opposite of the `z` of
    `keras.layers.GRU`. See `MinimalGRUCell` for the equations and the
    weights.

    The arguments it shares with every keras-gates layer (in the signature,
    positionally in the order of Keras' own layers), its call arguments and
    masking are documented once: the cell's in `keras_gates.GatedCell` and
    `keras_gates.RecurrentCell`, the recurrent layer's in
    `keras_gates.GatedRNN`.

    Args:
        units: Positive integer, dimensionality of the output space.
        reset: If True (the MGU), the gate also scales the state the
            candidate sees; if False, the update-gate-only GRU. Defaults to
            `True`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Examples:
        >>> import numpy as np, keras, keras_gates
        >>> model = keras.Sequential([
        ...     keras.Input((10, 8)),
        ...     keras_gates.MinimalGRU(16),
        ...     keras.layers.Dense(1),
        ... ])
        >>> tuple(model(np.zeros((4, 10, 8), "float32")).shape)
        (4, 1)
        >>> model.layers[0].count_params()  # 2 blocks: 2 * (8 * 16 + 16 * 16 + 16)
        800
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        *,
        reset=True,
        chrono_init=None,
        zero_output_for_mask=False,
        fast_path="auto",
        **kwargs,
    ):
        super().__init__(**arguments(locals()))
