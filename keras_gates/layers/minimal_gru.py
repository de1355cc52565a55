from keras_gates.api_export import keras_gates_export
from keras_gates.cells.minimal_gru_cell import MinimalGRUCell
from keras_gates.layers.base_rnn import RecurrentCellLayer
from keras_gates.layers.base_rnn import cell_property
from keras_gates.layers.base_rnn import with_common_args_doc


@keras_gates_export
@with_common_args_doc
class MinimalGRU(RecurrentCellLayer):
    """Minimal gated unit layer, a GRU with one gate (Zhou et al., 2016).

    A `keras.layers.RNN` over a `MinimalGRUCell`, used like
    `keras.layers.GRU`, with a third fewer parameters. Its gate `f` weights
    the NEW candidate (f = 1 rewrites the state), the opposite of the `z` of
    `keras.layers.GRU`. See `MinimalGRUCell` for the equations and the
    weights.

    Args:
        units: Positive integer, dimensionality of the output space.
        reset: If True (the MGU), the gate also scales the state the
            candidate sees; if False, the update-gate-only GRU. Defaults to
            `True`.
        activation: Activation of the candidate. Defaults to `"tanh"`.
        {common_args}

    Example:

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
        cell = MinimalGRUCell(
            units,
            reset=reset,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            chrono_init=chrono_init,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="minimal_gru_cell",
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            fast_path=fast_path,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )

    reset = cell_property("reset")
