from keras import ops

from keras_gates._arguments import Activation
from keras_gates._arguments import Clip
from keras_gates._arguments import Constraint
from keras_gates._arguments import Epsilon
from keras_gates._arguments import Flag
from keras_gates._arguments import Initializer
from keras_gates._arguments import OptionalUnits
from keras_gates._arguments import Rate
from keras_gates._arguments import Regularizer
from keras_gates._arguments import Seed
from keras_gates._arguments import Timescale
from keras_gates._arguments import Units
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
        units: Positive integer, the size of the output and of the state.
        activation: Activation function of the candidate state (in the LSTMs
            also of the cell output, unless set apart). Defaults to `"tanh"`.
        recurrent_activation: Activation function of the gates. Defaults to
            `"sigmoid"`.
        use_bias: Whether the layer adds a bias vector to each gate's input
            product. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`, the weights of the inputs.
            Defaults to `"glorot_uniform"`.
        recurrent_initializer: Initializer of `recurrent_kernel`, the weights of
            the recurrent state. Defaults to `"orthogonal"`.
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        unit_forget_bias: If True, the input-gate bias starts at -1, so the
            forget gate `1 - i` starts at `σ(1)`, as in a Keras LSTM with
            `unit_forget_bias=True`. Defaults to `True`.
        kernel_regularizer: Regularizer applied to `kernel`. Defaults to `None`.
        recurrent_regularizer: Regularizer applied to `recurrent_kernel`.
            Defaults to `None`.
        bias_regularizer: Regularizer applied to `bias`. Defaults to `None`.
        kernel_constraint: Constraint applied to `kernel`. Defaults to `None`.
        recurrent_constraint: Constraint applied to `recurrent_kernel`. Defaults
            to `None`.
        bias_constraint: Constraint applied to `bias`. Defaults to `None`.
        dropout: Float in [0, 1): the fraction of the inputs dropped in
            training, with one mask per sequence. Defaults to `0.0`.
        recurrent_dropout: Float in [0, 1): the fraction of the state dropped
            where it enters the recurrent product in training, one mask per
            sequence. Defaults to `0.0`.
        seed: Integer, the seed of the dropout masks. Defaults to `None`.
        peepholes: The gates that get a peephole, from `"input"` and `"output"`;
            a name, a list, or None. Defaults to `None`.
        chrono_init: None, or an integer T of at least 3: chrono initialization
            (Tallec & Ollivier, 2018) of the bias of the gate that keeps the
            memory, for dependencies of up to about T steps; the other blocks
            keep `bias_initializer`. Defaults to `None`.
        peephole_initializer: Initializer of the peephole vectors. Defaults to
            `"zeros"`.
        peephole_regularizer: Regularizer of the peephole vectors. Defaults to
            `None`.
        peephole_constraint: Constraint on the peephole vectors. Defaults to
            `None`.
        cell_clip: If set, a positive float: the cell state is clipped to
            `[-cell_clip, cell_clip]` after each update. Defaults to `None`.
        projection_units: None, or a positive integer P: the output projection
            of LSTMP (Sak et al., 2014; TF1's `num_proj`), `h_t = (o_t ⊙
            tanh(c_t)) @ projection_kernel`; the output and the state `h` then
            have P features. Defaults to `None`.
        projection_clip: If set, a positive float: the projected output is
            clipped to `[-projection_clip, projection_clip]` (TF1's
            `proj_clip`). Needs `projection_units`. Defaults to `None`.
        projection_initializer: Initializer of `projection_kernel`. Defaults to
            `"glorot_uniform"`.
        projection_regularizer: Regularizer of `projection_kernel`. Defaults to
            `None`.
        projection_constraint: Constraint on `projection_kernel`. Defaults to
            `None`.
        layer_norm: Whether to apply layer normalization as tensorflow-addons'
            `LayerNormLSTMCell`: to the fused input product, to the fused
            recurrent product and to the new cell state (which is carried
            normalized). Defaults to `False`.
        norm_gamma_initializer: Initializer of the normalizations' scale
            `norm_gamma`. Defaults to `"ones"`.
        norm_beta_initializer: Initializer of the normalizations' offset
            `norm_beta`. Defaults to `"zeros"`.
        norm_epsilon: The normalizations' epsilon. Defaults to `1e-3`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Examples:
        >>> import keras_gates
        >>> cell = keras_gates.CoupledLSTMCell(8, projection_units=3)
        >>> cell.state_size, cell.output_size
        ([3, 8], 3)

    Reference:
        K. Greff, R. K. Srivastava, J. Koutník, B. R. Steunebrink and
        J. Schmidhuber, "LSTM: A Search Space Odyssey", IEEE TNNLS 2017
        (arXiv:1503.04069).
    """

    GATES = ("input", "output")  # and forget = 1 - input, by `derived_gates`
    state_names = ("h", "c")
    output_state = 0
    CHRONO_LAYOUT = "coupled_lstm"
    protocol_tested = True  # by tests/test_numerics.py, against NumPy
    coupled = True
    blocks = ("input", "cell", "output")

    def __init__(
        self,
        units: Units,
        activation: Activation = "tanh",
        recurrent_activation: Activation = "sigmoid",
        use_bias: Flag = True,
        kernel_initializer: Initializer = "glorot_uniform",
        recurrent_initializer: Initializer = "orthogonal",
        bias_initializer: Initializer = "zeros",
        unit_forget_bias: Flag = True,
        kernel_regularizer: Regularizer = None,
        recurrent_regularizer: Regularizer = None,
        bias_regularizer: Regularizer = None,
        kernel_constraint: Constraint = None,
        recurrent_constraint: Constraint = None,
        bias_constraint: Constraint = None,
        dropout: Rate = 0.0,
        recurrent_dropout: Rate = 0.0,
        seed: Seed = None,
        *,
        peepholes=None,
        chrono_init: Timescale = None,
        peephole_initializer: Initializer = "zeros",
        peephole_regularizer: Regularizer = None,
        peephole_constraint: Constraint = None,
        cell_clip: Clip = None,
        projection_units: OptionalUnits = None,
        projection_clip: Clip = None,
        projection_initializer: Initializer = "glorot_uniform",
        projection_regularizer: Regularizer = None,
        projection_constraint: Constraint = None,
        layer_norm: Flag = False,
        norm_gamma_initializer: Initializer = "ones",
        norm_beta_initializer: Initializer = "zeros",
        norm_epsilon: Epsilon = 0.001,
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

    def lstm_form(self):
        """What the cell computes, for the runners that take an LSTM (see
        `keras_gates.cells.lstm_family.LSTMForm`)."""
        return lstm_family.form(self)
