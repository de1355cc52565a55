from keras import activations
from keras import ops

from keras_gates._arguments import Activation
from keras_gates._arguments import Constraint
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
from keras_gates.cells.gated_cell import GatedCell

# The sigmoid, as Keras' activations and its ops each name it: the log-space
# forms compute log σ from the pre-activations, so they take it alone.
_SIGMOIDS = (activations.sigmoid, ops.sigmoid)


@keras_gates_export
class MinGRUCell(GatedCell):
    """Cell of the minimal GRU that is parallel in time (Feng et al., 2024).

    The gate and the candidate see the input only, never the state, so the
    update is linear in the state: `h_t = a_t ⊙ h_{t-1} + b_t`. Step by step
    (this cell in `keras.layers.RNN`) it serves streaming and one-step
    export; the `MinGRU` layer computes the same function for a whole
    sequence at once with a parallel scan.

    ```
    z_t  = σ(x_t @ kernel[:, z] + bias[z])
    h~_t = x_t @ kernel[:, h] + bias[h]
    h_t  = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h~_t
    ```

    With `log_space=True`, the paper's log-space form (its appendix B.3,
    as `mingru-pytorch`): the candidate passes through `g(v) = v + 0.5` for
    `v ≥ 0`, `σ(v)` otherwise, so that the states stay positive, and the
    layer's parallel scan runs on `log(1 - z_t) = -softplus(k_z)` and
    `log(z_t ⊙ g(h~_t))` in log space:

    ```
    h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ g(h~_t)
    ```

    With `projection_units=P` the output is `h_t @ projection_kernel`
    (`mingru-pytorch`'s `to_out`), P features, and the state stays `h_t`.

    The state is `[h_t]` and the output is `h_t`. Weights: `kernel` of shape
    `(input_dim, 2 * units)` and `bias` `(2 * units,)`, blocks z, h; there is
    no recurrent kernel; `projection_kernel` `(units, P)` with a projection.

    Args:
        units: Positive integer, the size of the output and of the state.
        recurrent_activation: Activation function of the gates. Defaults to
            `"sigmoid"`.
        use_bias: Whether the layer adds a bias vector to each gate's input
            product. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`, the weights of the inputs.
            Defaults to `"glorot_uniform"`.
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        chrono_init: None, or an integer T of at least 3: chrono initialization
            (Tallec & Ollivier, 2018) of the bias of the gate that keeps the
            memory, for dependencies of up to about T steps; the other blocks
            keep `bias_initializer`. Defaults to `None`.
        kernel_regularizer: Regularizer applied to `kernel`. Defaults to `None`.
        bias_regularizer: Regularizer applied to `bias`. Defaults to `None`.
        kernel_constraint: Constraint applied to `kernel`. Defaults to `None`.
        bias_constraint: Constraint applied to `bias`. Defaults to `None`.
        dropout: Float in [0, 1): the fraction of the inputs dropped in
            training, with one mask per sequence. Defaults to `0.0`.
        seed: Integer, the seed of the dropout masks. Defaults to `None`.
        log_space: Whether to use the paper's log-space form, exactly as
            `mingru-pytorch`: the candidate through `g` (positive states) and
            the scan in log space (see `MinGRUCell`). Defaults to `False`.
        projection_units: None, or a positive integer: the output is `h_t @
            projection_kernel` with this many features (`mingru-pytorch`'s
            `to_out`); the state stays `h_t`. Defaults to `None`.
        projection_initializer: Initializer of `projection_kernel`. Defaults to
            `"glorot_uniform"`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Examples:
        >>> import keras, numpy as np, keras_gates
        >>> rnn = keras.layers.RNN(keras_gates.MinGRUCell(6, projection_units=2))
        >>> rnn(np.zeros((1, 4, 3), "float32")).shape[-1]
        2

    Reference:
        L. Feng, F. Tung, M. O. Ahmed, Y. Bengio and H. Hajimirsadeghi,
        "Were RNNs All We Needed?", 2024 (arXiv:2410.01201).
    """

    def __init__(
        self,
        units: Units,
        *,
        recurrent_activation: Activation = "sigmoid",
        use_bias: Flag = True,
        kernel_initializer: Initializer = "glorot_uniform",
        bias_initializer: Initializer = "zeros",
        chrono_init: Timescale = None,
        kernel_regularizer: Regularizer = None,
        bias_regularizer: Regularizer = None,
        kernel_constraint: Constraint = None,
        bias_constraint: Constraint = None,
        dropout: Rate = 0.0,
        seed: Seed = None,
        log_space: Flag = False,
        projection_units: OptionalUnits = None,
        projection_initializer: Initializer = "glorot_uniform",
        **kwargs,
    ):
        super().__init__(**arguments(locals()))
        if self.log_space and self.recurrent_activation not in _SIGMOIDS:
            raise ValueError(
                "MinGRUCell with `log_space=True` computes log(1 - z) and log(z) "
                "of the sigmoid gate: `recurrent_activation` must be the "
                "sigmoid ('sigmoid', keras.activations.sigmoid or keras.ops.sigmoid). "
                "Received: recurrent_activation="
                f"{activations.serialize(self.recurrent_activation)!r}"
            )
        self.projection_kernel = None
        self.state_size = [self.units]
        self.output_size = self.projection_units or self.units

    def build(self, input_shape):
        self.kernel = self.add_kernel(input_shape[-1], 2)
        self.bias = self.add_bias(2)
        if self.projection_units is not None:
            # The kernel's regularizer and constraint, its own initializer.
            self.projection_kernel = self.add_weight_from(
                "projection_kernel",
                (self.units, self.projection_units),
                "kernel",
                initializer=self.projection_initializer,
            )

    GATES = ("update",)
    protocol_tested = True
    CHRONO_LAYOUT = "min_gru"
    is_linear = True

    @property
    def output_state(self):
        return None if self.projection_units else 0

    @property
    def log_space_scan(self):
        return self.log_space

    def input_side(self, inputs, constants=()):
        """The gate `z` and the candidate `h~` (the gate sees the input
        only); in log space, the gate's pre-activation and `h~` before `g`."""
        x = ops.matmul(inputs, self.kernel)
        if self.use_bias:
            x = x + self.bias
        z, candidate = ops.split(x, 2, axis=-1)
        if self.log_space:
            return z, candidate
        return self.recurrent_activation(z), candidate

    def _output(self, h):
        if self.projection_kernel is None:
            return h
        return ops.matmul(h, self.projection_kernel)

    def recurrent_step(self, projected, states, constants=(), recurrent_mask=None):
        z, candidate = projected
        if self.log_space:
            z, candidate = self.recurrent_activation(z), positive_g(candidate)
        h_tm1 = states[0]
        # (1 - z) * h_tm1 + z * candidate, with one product fewer.
        h = h_tm1 + z * (candidate - h_tm1)
        return self._output(h), [h], {"update": z}

    def linear_recurrence(self, projected):
        z, candidate = projected
        if self.log_space:  # (log(1 - z), log(z * g(h~))) of z = σ(k)
            return -ops.softplus(z), -ops.softplus(-z) + log_positive_g(candidate)
        return 1.0 - z, z * candidate

    def linear_output(self, projected, states):
        return self._output(states)


def positive_g(x):
    """The paper's `g`: `x + 0.5` for `x ≥ 0`, `σ(x)` otherwise (positive,
    continuous, linear growth)."""
    return ops.where(x >= 0, x + 0.5, ops.sigmoid(x))


def log_positive_g(x):
    """`log(g(x))`, computed without forming `g(x)` for negative `x`."""
    return ops.where(x >= 0, ops.log(ops.relu(x) + 0.5), -ops.softplus(-x))
