from keras import ops

from keras_gates._arguments import Activation
from keras_gates._arguments import Constraint
from keras_gates._arguments import Flag
from keras_gates._arguments import Initializer
from keras_gates._arguments import Rate
from keras_gates._arguments import Regularizer
from keras_gates._arguments import Seed
from keras_gates._arguments import Timescale
from keras_gates._arguments import Units
from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.protocol import masked
from keras_gates.cells.recurrent_cell import RecurrentCell


@keras_gates_export
class MinimalGRUCell(RecurrentCell):
    """Cell of the minimal gated unit, a GRU with one gate (Zhou et al., 2016).

    One gate `f` decides both how much of the state is rewritten and (with
    `reset=True`, the MGU) how much of the old state the candidate sees. Two
    gate blocks instead of the GRU's three: a third fewer parameters.

    ```
    f_t  = σ(x_t @ kernel[:, f] + h_{t-1} @ recurrent_kernel[:, f] + bias[f])
    reset=True:  h~_t = tanh(x_t @ kernel[:, h] + (f_t ⊙ h_{t-1}) @ recurrent_kernel[:, h] + bias[h])
    reset=False: h~_t = tanh(x_t @ kernel[:, h] + h_{t-1} @ recurrent_kernel[:, h] + bias[h])
    h_t  = (1 - f_t) ⊙ h_{t-1} + f_t ⊙ h~_t
    ```

    Gate convention: `f` weights the NEW candidate (f = 1 rewrites the state,
    f = 0 keeps it). `keras.layers.GRU` does the opposite: its `z` weights the
    OLD state (`h = z ⊙ h_{t-1} + (1 - z) ⊙ h~`). Keep this in mind when
    reading or porting gate values and biases.

    The state is `[h_t]` and the output is `h_t`. Weights: `kernel` of shape
    `(input_dim, 2 * units)`, `recurrent_kernel` `(units, 2 * units)`, `bias`
    `(2 * units,)`, blocks f, h.

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
        reset: If True (the MGU), the gate also scales the state the candidate
            sees; if False, the update-gate-only GRU. Defaults to `True`.
        chrono_init: None, or an integer T of at least 3: chrono initialization
            (Tallec & Ollivier, 2018) of the bias of the gate that keeps the
            memory, for dependencies of up to about T steps; the other blocks
            keep `bias_initializer`. Defaults to `None`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Examples:
        >>> import numpy as np, keras_gates
        >>> layer = keras_gates.GatedRNN(keras_gates.MinimalGRUCell(4), return_state=True)
        >>> output, h = layer(np.ones((2, 3, 5), "float32"))
        >>> bool(np.allclose(output, h))
        True

    Reference:
        G.-B. Zhou, J. Wu, C.-L. Zhang and Z.-H. Zhou, "Minimal Gated Unit
        for Recurrent Neural Networks", IJAC 2016 (arXiv:1603.09420).
    """

    def __init__(
        self,
        units: Units,
        activation: Activation = "tanh",
        recurrent_activation: Activation = "sigmoid",
        use_bias: Flag = True,
        kernel_initializer: Initializer = "glorot_uniform",
        recurrent_initializer: Initializer = "orthogonal",
        bias_initializer: Initializer = "zeros",
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
        reset: Flag = True,
        chrono_init: Timescale = None,
        **kwargs,
    ):
        super().__init__(**arguments(locals()))
        self.state_size = [self.units]
        self.output_size = self.units

    GATES = ("forget",)
    protocol_tested = True
    output_state = 0
    CHRONO_LAYOUT = "minimal_gru"

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_kernel(input_dim, 2)
        self.recurrent_kernel = self.add_recurrent_kernel((self.units, 2 * self.units))
        self.bias = self.add_bias(2)

    def step_constants(self):
        if self.reset:  # the two blocks are used in two separate products
            return tuple(ops.split(self.recurrent_kernel, 2, axis=1))
        return (self.recurrent_kernel,)

    def input_side(self, inputs, constants=()):
        x_proj = ops.matmul(inputs, self.kernel)
        if self.use_bias:
            x_proj = x_proj + self.bias
        return x_proj

    def recurrent_step(self, x_proj, states, constants=(), recurrent_mask=None):
        h_tm1 = states[0]
        h_in = masked(h_tm1, recurrent_mask)  # what the products see
        x_f, x_h = ops.split(x_proj, 2, axis=-1)
        if self.reset:
            r_kernel_f, r_kernel_h = constants
            f = self.recurrent_activation(x_f + ops.matmul(h_in, r_kernel_f))
            r_h = ops.matmul(f * h_in, r_kernel_h)
        else:
            (r_kernel,) = constants
            r_f, r_h = ops.split(ops.matmul(h_in, r_kernel), 2, axis=-1)
            f = self.recurrent_activation(x_f + r_f)
        candidate = self.activation(x_h + r_h)
        # (1 - f) * h_tm1 + f * candidate, with one product fewer.
        h = h_tm1 + f * (candidate - h_tm1)
        return h, [h], {"forget": f}
