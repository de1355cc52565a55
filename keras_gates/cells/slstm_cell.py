from keras import ops

from keras_gates._arguments import Activation
from keras_gates._arguments import Constraint
from keras_gates._arguments import Flag
from keras_gates._arguments import Initializer
from keras_gates._arguments import Rate
from keras_gates._arguments import Regularizer
from keras_gates._arguments import Seed
from keras_gates._arguments import Units
from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.recurrent_cell import RecurrentCell


@keras_gates_export
class SLSTMCell(RecurrentCell):
    """Cell of the sLSTM of xLSTM (Beck et al., 2024): exponential gating.

    An LSTM whose input gate is an exponential, with a normaliser state `n`
    that divides it out of the output and a stabiliser state `m` that keeps
    the exponentials from overflowing, and whose recurrent matrices are
    block-diagonal: `num_heads` heads of `units / num_heads` units, each
    mixing its own units only. This is the step of the official `xlstm`
    package's sLSTM (its vanilla backend), from which
    `keras_gates.importers.from_xlstm` imports weights exactly.

    ```
    z~ = x_t @ kernel + h_{t-1} @ R + bias       # blocks i, f, z, o
    log f_t = log σ(f~)        (exponential_forget_gate=True: f~)
    m_t  = max(i~, log f_t + m_{t-1})    (m_t = i~ where n_{t-1} = 0)
    i'_t = exp(i~ - m_t);   f'_t = min(exp(log f_t + m_{t-1} - m_t), 1)
    c_t  = f'_t ⊙ c_{t-1} + i'_t ⊙ tanh(z~)
    n_t  = f'_t ⊙ n_{t-1} + i'_t
    h_t  = σ(o~) ⊙ c_t / n_t
    ```

    `R` is block-diagonal: head `k` maps `h_{t-1}[k]` (its `units /
    num_heads` units) to its own units of the four blocks. `m` cancels from
    the outputs exactly; it only keeps `i'` and `f'` in [0, 1], so that
    inputs of any size and sequences of any length stay finite. A fresh
    state (`n = 0`, as the zero initial state) takes `m_t = i~`, decided
    for each unit on its own (the official package decides it once for the
    whole batch, which changes the final `m` of a row that starts fresh
    beside rows that do not, and never the outputs).

    The states are `[h, c, n, m]` and the output is `h_t`. Weights:
    `kernel` `(input_dim, 4 * units)`, `recurrent_kernel` `(num_heads,
    head_units, 4 * head_units)` (each head's blocks i, f, z, o side by
    side), `bias` `(4 * units)`; the blocks of `kernel` and `bias` are i, f,
    z, o of `units` each, heads side by side within a block. With
    `input_projection=False` the cell has no `kernel`: its inputs are the
    pre-activations `x_t @ W` of the four blocks (`4 * units` features), as
    the official `sLSTMCell` takes them (`keras_gates.blocks.SLSTMBlock`
    computes them). `keras_gates.inspect` reports `input` and `forget` (the
    stabilised `i'` and `f'`), `output`, and the states `n` and `m`.

    Args:
        units: Positive integer, the size of the output and of the state.
        num_heads: Positive integer that divides `units`: the number of blocks
            of the block-diagonal recurrent matrices. Defaults to `4` (the
            official package's default).
        activation: Activation of the cell input `z~`. Defaults to `"tanh"`.
        recurrent_activation: Activation of the output gate (the input gate is
            exponential, the forget gate `σ` or `exp`). Defaults to `"sigmoid"`.
        exponential_forget_gate: Whether the forget gate is `exp(f~)` (the
            paper's other choice) rather than `σ(f~)`. Defaults to `False` (the
            official package's).
        use_bias: Whether the layer adds a bias vector to each gate's input
            product. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`, the weights of the inputs.
            Defaults to `"glorot_uniform"`.
        recurrent_initializer: Initializer of `recurrent_kernel`, the weights of
            the recurrent state. Defaults to `"orthogonal"`.
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        unit_forget_bias: If True, the forget-gate bias starts at 1 (the other
            blocks at `bias_initializer`), as in `keras.layers.LSTM`. Defaults
            to `True`.
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
        input_projection: Whether the cell multiplies its inputs by `kernel`;
            with False its inputs are the four blocks' pre-activations (`4 *
            units` features, blocks i, f, z, o), as the official `sLSTMCell`
            takes them. Defaults to `True`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Examples:
        >>> import keras_gates
        >>> cell = keras_gates.SLSTMCell(8, num_heads=2)
        >>> cell.state_size
        [8, 8, 8, 8]

    Reference:
        M. Beck, K. Pöppel, M. Spanring, A. Auer, O. Prudnikova, M. Kopp,
        G. Klambauer, J. Brandstetter and S. Hochreiter, "xLSTM: Extended
        Long Short-Term Memory", NeurIPS 2024 (arXiv:2405.04517).
    """

    GATES = ("input", "forget", "output", "n", "m")
    state_names = ("h", "c", "n", "m")
    output_state = 0
    protocol_tested = True

    def __init__(
        self,
        units: Units,
        *,
        num_heads: Units = 4,
        activation: Activation = "tanh",
        recurrent_activation: Activation = "sigmoid",
        exponential_forget_gate: Flag = False,
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
        input_projection: Flag = True,
        **kwargs,
    ):
        super().__init__(**arguments(locals()))
        if self.units % self.num_heads:
            raise ValueError(
                f"SLSTMCell splits its {self.units} units into `num_heads` "
                "heads of equal size: `num_heads` must divide `units`. "
                f"Received: units={self.units}, num_heads={self.num_heads}"
            )
        self.kernel = None
        self.state_size = [self.units] * 4
        self.output_size = self.units

    @property
    def head_units(self):
        """The units of one head: `units // num_heads`."""
        return self.units // self.num_heads

    @property
    def input_dim(self):
        if self.kernel is None:
            return 4 * self.units
        return self.kernel.shape[0]

    def build(self, input_shape):
        if self.input_projection:
            self.kernel = self.add_kernel(input_shape[-1], 4)
        elif input_shape[-1] is not None and input_shape[-1] != 4 * self.units:
            raise ValueError(
                "SLSTMCell with `input_projection=False` takes the four "
                f"blocks' pre-activations, 4 * units = {4 * self.units} "
                f"features. Received inputs of {input_shape[-1]} features."
            )
        heads, size = self.num_heads, self.head_units
        self.recurrent_kernel = self.add_recurrent_kernel((heads, size, 4 * size))
        self.bias = self.add_bias(
            4, constant_block=1 if self.unit_forget_bias else None
        )

    def input_side(self, inputs, constants=()):
        z = inputs if self.kernel is None else ops.matmul(inputs, self.kernel)
        return z + self.bias if self.use_bias else z

    def step_constants(self):
        """The recurrent kernel as one dense `(units, 4 * units)` matrix,
        zero off the heads' blocks, columns in the blocks i, f, z, o of the
        kernel: one matrix product a step (the zeros add exact zeros)."""
        heads, size = self.num_heads, self.head_units
        blocks = ops.reshape(self.recurrent_kernel, (heads, size, 4, 1, size))
        eye = ops.reshape(ops.eye(heads, dtype=blocks.dtype), (heads, 1, 1, heads, 1))
        return (ops.reshape(blocks * eye, (self.units, 4 * self.units)),)

    def recurrent_step(self, z_x, states, constants=(), recurrent_mask=None):
        (recurrent,) = constants or self.step_constants()
        h, c, n, m = states
        if recurrent_mask is not None:
            h = h * recurrent_mask
        z = z_x + ops.matmul(h, recurrent)
        z_i, z_f, z_z, z_o = ops.split(z, 4, axis=-1)
        log_f = z_f if self.exponential_forget_gate else ops.log_sigmoid(z_f)
        log_f_m = log_f + m
        # m_new = z_i where n = 0 (a fresh start), else max(z_i, log_f_m):
        # in arithmetic, as TFLite Micro has no SELECT.
        fresh = ops.cast(ops.equal(n, 0.0), z_i.dtype)
        m_new = ops.maximum(z_i, log_f_m) - fresh * ops.relu(log_f_m - z_i)
        i = ops.exp(z_i - m_new)
        # At a fresh start m_new = z_i may lie below log_f_m: f' is capped
        # at 1 there (it multiplies n = c = 0), and never overflows.
        f = ops.exp(ops.minimum(log_f_m - m_new, 0.0))
        c_new = f * c + i * self.activation(z_z)
        n_new = f * n + i
        o = self.recurrent_activation(z_o)
        h_new = o * (c_new / n_new)
        gates = {"input": i, "forget": f, "output": o, "n": n_new, "m": m_new}
        return h_new, [h_new, c_new, n_new, m_new], gates
