from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.coupled_lstm_cell import CoupledLSTMCell
from keras_gates.layers.cell_layer import CellLayer


@keras_gates_export
class CoupledLSTM(CellLayer, cell_class=CoupledLSTMCell):
    """Coupled input-forget gate LSTM layer, CIFG (Greff et al., 2015).

    A `keras.layers.RNN` over a `CoupledLSTMCell`, used like
    `keras.layers.LSTM`: the forget gate is `1 - input gate`, a quarter fewer
    parameters and multiply-adds than an LSTM of the same size. See
    `CoupledLSTMCell` for the equations and the weights.

    The arguments it shares with every keras-gates layer (in the signature,
    positionally in the order of Keras' own layers), its call arguments and
    masking are documented once: the cell's in `keras_gates.GatedCell` and
    `keras_gates.RecurrentCell`, the recurrent layer's in
    `keras_gates.GatedRNN`.

    Args:
        units: Positive integer, dimensionality of the output space.
        peepholes: The gates that get a peephole, from `"input"` and
            `"output"`; a name, a list, or None. Defaults to `None`.
        unit_forget_bias: If True, the input-gate bias starts at -1, so the
            forget gate `1 - i` starts at `σ(1)`, as in a Keras LSTM with
            `unit_forget_bias=True`. Defaults to `True`.
        peephole_initializer: Initializer of the peephole vectors. Defaults
            to `"zeros"`.
        peephole_regularizer: Regularizer of the peephole vectors. Defaults
            to `None`.
        peephole_constraint: Constraint on the peephole vectors. Defaults to
            `None`.
        cell_clip: If set, a positive float: the cell state is clipped to
            `[-cell_clip, cell_clip]` after each update. Defaults to `None`.
        projection_units: None, or a positive integer P: the output
            projection of LSTMP (Sak et al., 2014; TF1's `num_proj`), `h_t =
            (o_t ⊙ tanh(c_t)) @ projection_kernel`; the output and the state
            `h` then have P features. Defaults to `None`.
        projection_clip: If set, a positive float: the projected output is
            clipped to `[-projection_clip, projection_clip]` (TF1's
            `proj_clip`). Needs `projection_units`. Defaults to `None`.
        projection_initializer: Initializer of `projection_kernel`. Defaults to `"glorot_uniform"`.
        projection_regularizer: Regularizer of `projection_kernel`. Defaults to `None`.
        projection_constraint: Constraint on `projection_kernel`. Defaults to `None`.
        layer_norm: Whether to apply layer normalization as
            tensorflow-addons' `LayerNormLSTMCell`: to the fused input
            product, to the fused recurrent product and to the new cell state
            (which is carried normalized). Defaults to `False`.
        norm_gamma_initializer: Initializer of the normalizations' scale `norm_gamma`. Defaults to `"ones"`.
        norm_beta_initializer: Initializer of the normalizations' offset `norm_beta`. Defaults to `"zeros"`.
        norm_epsilon: The normalizations' epsilon. Defaults to `1e-3`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Examples:
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
        super().__init__(**arguments(locals()))
