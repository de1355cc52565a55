import math

import keras
import numpy as np
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
from keras_gates.cells.protocol import masked
from keras_gates.cells.recurrent_cell import RecurrentCell

# The largest cycle of the clock (the least common multiple of the periods)
# that a dtype counts exactly: past it, `clock + 1` no longer changes.
_EXACT_INTEGERS = {"float16": 2**11, "bfloat16": 2**8, "float32": 2**24}


def check_periods(periods):
    """`periods` as a tuple of increasing positive integers; an integer g is
    the paper's exponential series 1, 2, 4, ..., 2**(g-1)."""
    if isinstance(periods, (int, np.integer)) and not isinstance(periods, bool):
        if periods < 1:
            raise ValueError(
                "Argument `periods` as an integer is the number of modules, "
                f"which must be at least 1. Received: periods={periods}"
            )
        return tuple(2**i for i in range(int(periods)))
    try:
        values = tuple(periods)
    except TypeError:
        values = None
    if (
        not values
        or not all(
            isinstance(p, (int, np.integer)) and not isinstance(p, bool) and p >= 1
            for p in values
        )
        or any(b <= a for a, b in zip(values, values[1:], strict=False))
    ):
        raise ValueError(
            "Argument `periods` must be a non-empty, strictly increasing list of "
            "positive integers (the clock period of each module, fastest "
            f"first), or an integer number of modules. Received: periods={periods!r}"
        )
    return tuple(int(p) for p in values)


@keras_gates_export
class ClockworkRNNCell(RecurrentCell):
    """Cell of the Clockwork RNN (Koutník, Greff, Gomez and Schmidhuber, 2014).

    The hidden state is split into `len(periods)` modules of `units //
    len(periods)` units each, in the order of `periods`. Module `i` runs at
    step `t` only when `t mod periods[i] == 0`; otherwise it keeps its
    state. Slower modules feed faster ones, never the reverse: the recurrent
    matrix is block upper-triangular, module `i` reading the modules `j >=
    i`.

    ```
    a_t[i] = (t mod T_i == 0)                        # which modules run
    h~_t   = tanh(x_t @ kernel + h_{t-1} @ R + bias)  # R: block upper-triangular
    h_t[i] = h~_t[i] if a_t[i] else h_{t-1}[i]
    ```

    `tanh` is `activation`. The clock `t` counts the steps from 0, so every
    module runs at the first step. It is the cell's second state, per row of
    the batch, kept modulo the common cycle of the periods: a masked step
    keeps it (a padded step does not advance a row's clock), `stateful`
    layers carry it from one call to the next, and the streaming export
    carries it as a state. An initial state passed by the user starts it
    where the user says (`[h_0, clock_0]`, the clock a float of shape
    `(batch, 1)`, read rounded to a whole step, half-way to the even one;
    a clock that is not finite runs no module).

    The states are `[h_t, clock_t]` and the output is `h_t`. Weights:
    `kernel` `(input_dim, units)`, `bias` `(units,)`, and per module `i` its
    block column of `R`, `recurrent_kernel_i` of shape `((g - i) * m, m)`
    (`g` modules of `m` units: the rows of modules `i` to `g - 1`), so that
    `count_params()` counts only the weights the paper has. The gate that
    `keras_gates.inspect` reports, `active`, is 1 where a module ran, one
    column per module.

    With `skip_inactive=True` a step computes only the modules up to the
    slowest one that runs in some row (a branch per count, chosen by
    `keras.ops.cond`): on the exponential clock of 8 modules a step
    multiplies by 2 of the 8 block columns of R on average
    (1 + 1/2 + 1/4 + ...), a quarter of the dense step's recurrent
    product. The default, False, computes every module and then keeps the
    inactive ones. Both give the same numbers. Skipping pays at large sizes
    and costs at small ones, where the branches cost more than the products
    they save: the guide "Clockwork RNN and Depth-Gated LSTM" has the
    measured times. TensorFlow's XLA (`jit_compile=True`) cannot
    differentiate the branches: on TensorFlow a skipping cell sets
    `supports_jit = False`, so that `compile()` leaves XLA off, by default
    (Keras turns it on for a GPU) and when asked for with
    `jit_compile=True` (Keras then warns).

    Args:
        units: Positive integer, the size of the output and of the state.
        activation: Activation function of the candidate state (in the LSTMs
            also of the cell output, unless set apart). Defaults to `"tanh"`.
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
        periods: The clock period of each module, a strictly increasing list of
            positive integers, fastest first; or an integer g, the paper's
            exponential series 1, 2, 4, ..., 2**(g-1). Defaults to `(1, 2, 4,
            8)`.
        skip_inactive: Whether a step computes only the modules up to the
            slowest one that runs (True) or every module (False). Same numbers;
            which is faster depends on the size and the backend (see
            `ClockworkRNNCell`). Defaults to `False`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Examples:
        >>> import numpy as np, keras_gates
        >>> cell = keras_gates.ClockworkRNNCell(8, periods=[1, 4])
        >>> layer = keras_gates.GatedRNN(cell, return_state=True)
        >>> output, h, clock = layer(np.ones((2, 6, 3), "float32"))
        >>> np.asarray(clock)[:, 0].tolist()  # 6 steps, modulo the cycle of 4
        [2.0, 2.0]

    Reference:
        J. Koutník, K. Greff, F. Gomez and J. Schmidhuber, "A Clockwork RNN",
        ICML 2014 (arXiv:1402.3511).
    """

    GATES = ("active",)
    protocol_tested = True
    state_names = ("h", "clock")
    output_state = 0

    def __init__(
        self,
        units: Units,
        activation: Activation = "tanh",
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
        periods=(1, 2, 4, 8),
        skip_inactive: Flag = False,
        **kwargs,
    ):
        super().__init__(**arguments(locals()))
        self.periods = check_periods(self.periods)
        modules = len(self.periods)
        if self.units % modules:
            raise ValueError(
                f"ClockworkRNNCell splits its {self.units} units into "
                f"{modules} equal modules (one per period in {list(self.periods)}): "
                f"`units` must be a multiple of {modules}."
            )
        self.module_units = self.units // modules
        self.cycle = math.lcm(*self.periods)
        exact = _EXACT_INTEGERS.get(self.compute_dtype)
        if exact is not None and self.cycle > exact:
            raise ValueError(
                f"The clock of ClockworkRNNCell counts steps modulo {self.cycle} "
                f"(the common cycle of periods {list(self.periods)}) in its "
                f"compute dtype, {self.compute_dtype}, which counts integers "
                f"exactly only up to {exact}. Use periods with a shorter cycle "
                "(powers of 2 up to that bound)"
                + (", or a float32 dtype for this layer." if exact < 2**24 else ".")
            )
        self.state_size = [self.units, 1]
        self.output_size = self.units
        if self.skip_inactive and keras.backend.backend() == "tensorflow":
            # XLA cannot differentiate the branches: Keras' "auto" then
            # leaves XLA off (it turns it on for TensorFlow on a GPU).
            self.supports_jit = False

    def build(self, input_shape):
        input_dim = input_shape[-1]
        m, g = self.module_units, len(self.periods)
        self.kernel = self.add_kernel(input_dim, 1)
        self.recurrent_kernels = [
            self.add_weight_from(f"recurrent_kernel_{i}", ((g - i) * m, m), "recurrent")
            for i in range(g)
        ]
        self.bias = self.add_bias(1)

    def step_constants(self):
        # R, block upper-triangular: column block i is module i's kernel
        # below i * m rows of zeros.
        m = self.module_units
        columns = [
            ops.pad(kernel, [[i * m, 0], [0, 0]])
            for i, kernel in enumerate(self.recurrent_kernels)
        ]
        recurrent = ops.concatenate(columns, axis=1)
        return (recurrent,)

    def input_side(self, inputs, constants=()):
        z = ops.matmul(inputs, self.kernel)
        return z + self.bias if self.use_bias else z

    def active_modules(self, clock):
        """Which modules run at `clock` (batch, 1): (batch, modules) bools."""
        periods = ops.convert_to_tensor(self.periods, clock.dtype)
        return ops.equal(ops.mod(clock, periods), 0)

    def read_clock(self, clock):
        """The clock as an integer step count in [0, cycle): rounded, so
        that a clock given as an initial state, or carried through a
        quantized model, counts whole steps."""
        return ops.mod(ops.round(clock), self.cycle)

    def recurrent_step(self, z_x, states, constants=(), recurrent_mask=None):
        h_tm1, clock = states
        clock = self.read_clock(clock)
        (recurrent,) = constants
        h_in = masked(h_tm1, recurrent_mask)
        active = self.active_modules(clock)
        m, g = self.module_units, len(self.periods)
        if self.skip_inactive and g > 1:

            def first_modules(k):
                def compute(z_x, h_in, h_tm1):
                    if k == 0:
                        return h_tm1
                    width = k * m
                    pre = z_x[:, :width] + ops.matmul(h_in, recurrent[:, :width])
                    new = self.activation(pre)
                    return (
                        new if k == g else ops.concatenate([new, h_tm1[:, width:]], 1)
                    )

                return compute

            # The slowest module that runs in any row, counted from 1, picks
            # the branch, through a balanced tree of conds (TFLite runs
            # `cond`'s IF op; it has no op for `switch`'s CASE).
            order = ops.arange(1, g + 1, dtype="int32")
            count = ops.max(ops.where(active, order, 0))

            def choose(low, high):
                if low == high:
                    return first_modules(low)
                middle = (low + high) // 2
                below, above = choose(low, middle), choose(middle + 1, high)
                return lambda *args: ops.cond(
                    count <= middle, lambda: below(*args), lambda: above(*args)
                )

            lowest = 0 if self.periods[0] > 1 else 1  # period 1 always runs
            candidate = choose(lowest, g)(z_x, h_in, h_tm1)
        else:
            candidate = self.activation(z_x + ops.matmul(h_in, recurrent))
        active_units = ops.repeat(active, m, axis=1)
        h = ops.where(active_units, candidate, h_tm1)
        new_clock = ops.mod(clock + 1, self.cycle)
        return h, [h, new_clock], {"active": ops.cast(active, h.dtype)}

    def get_config(self):
        return {**super().get_config(), "periods": list(self.periods)}
