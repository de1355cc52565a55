from keras import ops

from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells import lstm_family
from keras_gates.cells.recurrent_cell import RecurrentCell

PEEPHOLE_GATES = ("input", "output")
ABSENT_GATES = {"forget": "its forget gate is 1 - input gate, not learned."}


@keras_gates_export
class CoupledLSTMCell(RecurrentCell):
    """Cell of the coupled input-forget gate LSTM, CIFG (Greff et al., 2015).

    The forget gate is not learned: it is `1 - i_t`, so the cell forgets
    exactly as much as it writes. That removes one of the four gate blocks: a
    quarter fewer parameters and multiply-adds than an LSTM of the same size,
    for an accuracy that Greff et al. found on par with the full LSTM.

    ```
    z   = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias    # blocks i, c, o
    i_t = σ(z_i [+ p_i ⊙ c_{t-1}])
    c_t = (1 - i_t) ⊙ c_{t-1} + i_t ⊙ tanh(z_c)
    o_t = σ(z_o [+ p_o ⊙ c_t])
    h_t = o_t ⊙ tanh(c_t)
    ```

    With the options of `PeepholeLSTMCell`: `cell_clip`, the output
    projection (`projection_units`, `projection_clip`; `h` then has size
    `projection_units`) and `layer_norm`, defined there.

    The states are `[h_t, c_t]` and the output is `h_t`. Weights: `kernel`
    of shape `(input_dim, 3 * units)`, `recurrent_kernel`
    `(units, 3 * units)`, `bias` `(3 * units,)`, blocks i, c, o; optional
    peephole vectors `input_peephole` and `output_peephole` of shape
    `(units,)` (None when not enabled).

    This is Greff et al.'s direction: the forget gate is derived from the
    input gate. The TF1 contrib `CoupledInputForgetGateLSTMCell` derived the
    input gate from the forget gate instead; the two are re-parameterizations
    of the same family and their weights are not interchangeable.

    Args:
        units: Positive integer, dimensionality of the output space.
        peepholes: The gates that get a peephole, from `"input"` and
            `"output"`; a name, a list, or None. There is no forget-gate
            peephole, since there is no forget gate. Defaults to `None`.
        cell_clip: If set, a positive float: the cell state is clipped to
            `[-cell_clip, cell_clip]` after each update. Defaults to `None`.
        projection_units: None, or a positive integer P: the output
            projection (LSTMP), as in `PeepholeLSTMCell`. Defaults to `None`.
        projection_clip: If set, a positive float: the projected output is
            clipped to `[-projection_clip, projection_clip]`. Defaults to
            `None`.
        projection_initializer: Initializer of `projection_kernel`. Defaults
            to `"glorot_uniform"`.
        projection_regularizer: Regularizer of `projection_kernel`. Defaults
            to `None`.
        projection_constraint: Constraint on `projection_kernel`. Defaults to
            `None`.
        layer_norm: Whether to apply layer normalization, as in
            `PeepholeLSTMCell`. Defaults to `False`.
        norm_gamma_initializer: Initializer of the normalizations' scale
            `norm_gamma`. Defaults to `"ones"`.
        norm_beta_initializer: Initializer of the normalizations' offset
            `norm_beta`. Defaults to `"zeros"`.
        norm_epsilon: The normalizations' epsilon. Defaults to `1e-3`.
        unit_forget_bias: If True, the input-gate block of the bias starts at
            -1, so the forget gate `1 - i` starts at `σ(1) ≈ 0.73`, as the
            forget gate of a Keras LSTM with `unit_forget_bias=True`. Without
            it the cell starts by forgetting half its state at every step,
            which makes long-range dependencies hard to learn. Defaults to
            `True`.
        peephole_initializer: Initializer of the peephole vectors. Defaults to
            `"zeros"`.
        peephole_regularizer: Regularizer of the peephole vectors. Defaults to
            `None`.
        peephole_constraint: Constraint on the peephole vectors. Defaults to
            `None`.
        **kwargs: The arguments of `keras_gates.RecurrentCell` and
            `keras_gates.GatedCell`, where they are documented: the
            activations, `use_bias`, the initializers, regularizers and
            constraints of `kernel`, `recurrent_kernel` and `bias`,
            `chrono_init`, `dropout`, `recurrent_dropout` and `seed`; and the
            base layer's, such as `name` and `dtype`.

    Call arguments:
        inputs: A 2D tensor of shape `(batch, input_dim)`, one time step.
        states: A list `[h_{t-1}, c_{t-1}]`, each of shape `(batch, units)`.
        training: Whether dropout is active.

    Examples:
        >>> import numpy as np, keras, keras_gates
        >>> rnn = keras.layers.RNN(keras_gates.CoupledLSTMCell(4))
        >>> tuple(rnn(np.zeros((2, 3, 5), "float32")).shape)
        (2, 4)

    Reference:
        K. Greff, R. K. Srivastava, J. Koutník, B. R. Steunebrink and
        J. Schmidhuber, "LSTM: A Search Space Odyssey", IEEE TNNLS 2017
        (arXiv:1503.04069).
    """

    GATES = ("input", "output")  # and forget = 1 - input, by `derived_gates`
    state_names = ("h", "c")
    output_state = 0
    CHRONO_LAYOUT = "coupled_lstm"

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
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        *,
        peepholes=None,
        chrono_init=None,
        peephole_initializer="zeros",
        peephole_regularizer=None,
        peephole_constraint=None,
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
        lstm_family.setup(self, PEEPHOLE_GATES, ABSENT_GATES)

    def build(self, input_shape):
        # The i block starts at -1 under unit_forget_bias: f = 1 - σ(-1) = σ(1).
        lstm_family.build(self, input_shape[-1], 3, forget_bias_init=(0, -1.0))

    def input_side(self, inputs, constants=()):
        return lstm_family.input_product(self, inputs)

    def recurrent_step(self, z_x, states, constants=(), recurrent_mask=None):
        h_tm1, c_tm1 = states
        z = z_x + lstm_family.recurrent_product(self, h_tm1, recurrent_mask)
        z_i, z_c, z_o = ops.split(z, 3, axis=-1)
        i = self.recurrent_activation(lstm_family.peep(z_i, self.input_peephole, c_tm1))
        # (1 - i) * c_tm1 + i * g, written with one product fewer.
        c = lstm_family.carried_state(self, c_tm1 + i * (self.activation(z_c) - c_tm1))
        o, h = lstm_family.output(self, z_o, c)
        return h, [h, c], {"input": i, "output": o}

    def derived_gates(self, gates):
        return {**gates, "forget": 1.0 - gates["input"]}
