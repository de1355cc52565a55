from keras_gates.api_export import keras_gates_export
from keras_gates.cells.coupled_lstm_cell import CoupledLSTMCell
from keras_gates.layers.base_rnn import LSTMVariantLayer
from keras_gates.layers.base_rnn import with_common_args_doc


@keras_gates_export
@with_common_args_doc
class CoupledLSTM(LSTMVariantLayer):
    """Coupled input-forget gate LSTM layer, CIFG (Greff et al., 2015).

    A `keras.layers.RNN` over a `CoupledLSTMCell`, used like
    `keras.layers.LSTM`: the forget gate is `1 - input gate`, a quarter fewer
    parameters and multiply-adds than an LSTM of the same size. See
    `CoupledLSTMCell` for the equations and the weights.

    Args:
        units: Positive integer, dimensionality of the output space.
        peepholes: The gates that get a peephole, from `"input"` and
            `"output"`; a name, a list, or None. Defaults to `None`.
        unit_forget_bias: If True, the input-gate bias starts at -1, so the
            forget gate `1 - i` starts at `σ(1)`, as in a Keras LSTM with
            `unit_forget_bias=True`. Defaults to `True`.
        activation: Activation of the candidate and of the cell state in the
            output. Defaults to `"tanh"`.
        peephole_initializer: Initializer of the peephole vectors. Defaults
            to `"zeros"`.
        peephole_regularizer: Regularizer of the peephole vectors. Defaults
            to `None`.
        peephole_constraint: Constraint on the peephole vectors. Defaults to
            `None`.
        {lstm_args}
        {common_args}

    Example:

    >>> import numpy as np, keras, keras_gates
    >>> model = keras.Sequential([
    ...     keras.Input((10, 8)),
    ...     keras_gates.CoupledLSTM(16),
    ...     keras.layers.Dense(1),
    ... ])
    >>> tuple(model(np.zeros((4, 10, 8), "float32")).shape)
    (4, 1)
    >>> model.layers[0].count_params()  # 3 blocks: 3 * (8 * 16 + 16 * 16 + 16)
    1200
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
        unit_forget_bias=True,
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
        peepholes=None,
        chrono_init=None,
        peephole_initializer="zeros",
        peephole_regularizer=None,
        peephole_constraint=None,
        zero_output_for_mask=False,
        fast_path="auto",
        cell_clip=None,
        projection_units=None,
        projection_clip=None,
        projection_initializer="glorot_uniform",
        projection_regularizer=None,
        projection_constraint=None,
        layer_norm=False,
        norm_gamma_initializer="ones",
        norm_beta_initializer="zeros",
        norm_epsilon=1e-3,
        **kwargs,
    ):
        cell = CoupledLSTMCell(
            units,
            peepholes=peepholes,
            unit_forget_bias=unit_forget_bias,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            chrono_init=chrono_init,
            peephole_initializer=peephole_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            peephole_regularizer=peephole_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            peephole_constraint=peephole_constraint,
            cell_clip=cell_clip,
            projection_units=projection_units,
            projection_clip=projection_clip,
            projection_initializer=projection_initializer,
            projection_regularizer=projection_regularizer,
            projection_constraint=projection_constraint,
            layer_norm=layer_norm,
            norm_gamma_initializer=norm_gamma_initializer,
            norm_beta_initializer=norm_beta_initializer,
            norm_epsilon=norm_epsilon,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="coupled_lstm_cell",
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
