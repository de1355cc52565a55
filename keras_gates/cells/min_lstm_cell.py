import keras
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
from keras_gates._arguments import Units
from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.gated_cell import GatedCell
from keras_gates.cells.min_gru_cell import _SIGMOIDS
from keras_gates.cells.min_gru_cell import log_positive_g
from keras_gates.cells.min_gru_cell import positive_g


@keras_gates_export
class MinLSTMCell(GatedCell):
    """Cell of the minimal LSTM that is parallel in time (Feng et al., 2024).

    Beside `MinGRUCell`: a forget and an input gate, both of the input only,
    normalised to sum to one, so that the update is linear in the state and
    bounded: `h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ h~_t`. Step by step (this cell in
    `keras.layers.RNN`) it serves streaming and one-step export; the
    `MinLSTM` layer computes the same function for a whole sequence at once
    with a parallel scan.

    ```
    f_t  = σ(x_t @ kernel[:, f] + bias[f])
    i_t  = σ(x_t @ kernel[:, i] + bias[i])
    h~_t = x_t @ kernel[:, h] + bias[h]
    f'_t = f_t / (f_t + i_t);   i'_t = i_t / (f_t + i_t)
    h_t  = f'_t ⊙ h_{t-1} + i'_t ⊙ h~_t
    ```

    With `log_space=True`, the paper's log-space form (its appendix B.3, as
    `mingru-pytorch`'s `minLSTM`): the candidate passes through `g(v) = v +
    0.5` for `v ≥ 0`, `σ(v)` otherwise, so that the states stay positive,
    and the layer's parallel scan runs on `log f'_t` and `log(i'_t ⊙
    g(h~_t))` in log space, with `log f' = -softplus(softplus(-k_f) -
    softplus(-k_i))` for the gates' pre-activations `k`:

    ```
    h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ g(h~_t)
    ```

    With `projection_units=P` the output is `h_t @ projection_kernel`
    (`mingru-pytorch`'s `to_out`), P features, and the state stays `h_t`.

    The state is `[h_t]` and the output is `h_t`. Weights: `kernel` of shape
    `(input_dim, 3 * units)` and `bias` `(3 * units,)`, blocks f, i, h;
    there is no recurrent kernel; `projection_kernel` `(units, P)` with a
    projection. `keras_gates.inspect` reports the normalised gates `f'` and
    `i'` as `forget` and `input`. The sum `f + i` has
    `keras.config.epsilon()` added, so where both gates are 0 (a
    `recurrent_activation` such as `"hard_sigmoid"`) the state resets to 0;
    the log-space form computes the shares from the pre-activations exactly.

    Args:
        units: Positive integer, the size of the output and of the state.
        recurrent_activation: Activation function of the gates. Defaults to
            `"sigmoid"`.
        use_bias: Whether the layer adds a bias vector to each gate's input
            product. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`, the weights of the inputs.
            Defaults to `"glorot_uniform"`.
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        kernel_regularizer: Regularizer applied to `kernel`. Defaults to `None`.
        bias_regularizer: Regularizer applied to `bias`. Defaults to `None`.
        kernel_constraint: Constraint applied to `kernel`. Defaults to `None`.
        bias_constraint: Constraint applied to `bias`. Defaults to `None`.
        dropout: Float in [0, 1): the fraction of the inputs dropped in
            training, with one mask per sequence. Defaults to `0.0`.
        seed: Integer, the seed of the dropout masks. Defaults to `None`.
        log_space: Whether to use the paper's log-space form, exactly as
            `mingru-pytorch`'s `minLSTM`: the candidate through `g` (positive
            states) and the scan in log space (see `MinLSTMCell`). Defaults to
            `False`.
        projection_units: None, or a positive integer: the output is `h_t @
            projection_kernel` with this many features (`mingru-pytorch`'s
            `to_out`); the state stays `h_t`. Defaults to `None`.
        projection_initializer: Initializer of `projection_kernel`. Defaults to
            `"glorot_uniform"`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Examples:
        >>> import keras, numpy as np, keras_gates
        >>> rnn = keras.layers.RNN(keras_gates.MinLSTMCell(6, projection_units=2))
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
                "MinLSTMCell with `log_space=True` computes the logarithms of "
                "the normalised sigmoid gates: `recurrent_activation` must be "
                "the sigmoid ('sigmoid', keras.activations.sigmoid or "
                "keras.ops.sigmoid). Received: recurrent_activation="
                f"{activations.serialize(self.recurrent_activation)!r}"
            )
        self.projection_kernel = None
        self.state_size = [self.units]
        self.output_size = self.projection_units or self.units

    def build(self, input_shape):
        self.kernel = self.add_kernel(input_shape[-1], 3)
        self.bias = self.add_bias(3)
        if self.projection_units is not None:
            # The kernel's regularizer and constraint, its own initializer.
            self.projection_kernel = self.add_weight_from(
                "projection_kernel",
                (self.units, self.projection_units),
                "kernel",
                initializer=self.projection_initializer,
            )

    GATES = ("forget", "input")
    protocol_tested = True
    is_linear = True

    @property
    def output_state(self):
        return None if self.projection_units else 0

    @property
    def log_space_scan(self):
        return self.log_space

    def input_side(self, inputs, constants=()):
        """The normalised gates `f'`, `i'` and the candidate `h~` (they see
        the input only); in log space, the gates' pre-activations and `h~`
        before `g`."""
        x = ops.matmul(inputs, self.kernel)
        if self.use_bias:
            x = x + self.bias
        f, i, candidate = ops.split(x, 3, axis=-1)
        if self.log_space:
            return f, i, candidate
        f, i = self.recurrent_activation(f), self.recurrent_activation(i)
        return (*_normalised(f, i), candidate)

    def _output(self, h):
        if self.projection_kernel is None:
            return h
        return ops.matmul(h, self.projection_kernel)

    def recurrent_step(self, projected, states, constants=(), recurrent_mask=None):
        f, i, candidate = projected
        if self.log_space:
            f, i = _normalised_sigmoids(f, i)
            candidate = positive_g(candidate)
        h = f * states[0] + i * candidate
        return self._output(h), [h], {"forget": f, "input": i}

    def linear_recurrence(self, projected):
        f, i, candidate = projected
        if self.log_space:
            log_f, log_i = _log_normalised_sigmoids(f, i)
            return log_f, log_i + log_positive_g(candidate)
        return f, i * candidate

    def linear_output(self, projected, states):
        return self._output(states)


def _normalised(f, i):
    """`f / (f + i)` and `i / (f + i)`, with `keras.config.epsilon()` added
    to the sum: 0 each where both gates are 0, and no comparison (which
    TFLite's int16 quantization lacks)."""
    total = f + i + keras.config.epsilon()
    return f / total, i / total


def _log_normalised_sigmoids(f, i):
    """`log(σ(f) / (σ(f) + σ(i)))` and `log(σ(i) / (σ(f) + σ(i)))`, from
    `d = log σ(i) - log σ(f)`: `-softplus(d)` and `-softplus(-d)`."""
    d = ops.softplus(-f) - ops.softplus(-i)
    return -ops.softplus(d), -ops.softplus(-d)


def _normalised_sigmoids(f, i):
    """`σ(f) / (σ(f) + σ(i))` and `σ(i) / (σ(f) + σ(i))` from the
    pre-activations, as `σ(∓d)`: the log-space form's shares."""
    d = ops.softplus(-f) - ops.softplus(-i)
    return ops.sigmoid(-d), ops.sigmoid(d)
