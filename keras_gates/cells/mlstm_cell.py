import keras
from keras import ops

from keras_gates._arguments import Constraint
from keras_gates._arguments import Flag
from keras_gates._arguments import Initializer
from keras_gates._arguments import OptionalUnits
from keras_gates._arguments import Plain
from keras_gates._arguments import Rate
from keras_gates._arguments import Regularizer
from keras_gates._arguments import Seed
from keras_gates._arguments import Units
from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.gated_cell import GatedCell
from keras_gates.ops import mlstm


@keras_gates_export
class MLSTMCell(GatedCell):
    """Cell of the mLSTM of xLSTM (Beck et al., 2024): a matrix memory.

    Each of `num_heads` heads keeps a matrix `C` that a step writes a
    key-value pair into, `C_t = f' C_{t-1} + i' k_t v_tᵀ`, and a query
    reads, so that one head can hold many associations where a vector
    state holds one summary. The input gate is exponential, with a
    normaliser `n` and a stabiliser `m` (as in `SLSTMCell`); the forget
    gate is `σ`. There is no recurrent kernel: the gates and `q`, `k`, `v`
    see the input only, which is what lets the `MLSTM` layer compute a
    whole sequence in parallel or by chunks, to the same numbers. The step
    is the official mlstm-kernels' (`keras_gates/ops/mlstm.py` has the
    three forms):

    ```
    q, k, v, o~, i~, f~ = x_t @ kernel + bias     # i~, f~: one per head
    m_t  = max(log σ(f~) + m_{t-1}, i~)
    f'   = exp(log σ(f~) + m_{t-1} - m_t);   i' = exp(i~ - m_t)
    C_t  = f' C_{t-1} + i' k vᵀ;   n_t = f' n_{t-1} + i' k
    h~_t = (q/√dk)ᵀ C_t / (max(|(q/√dk)ᵀ n_t|, exp(-m_t)) + 1e-6)
    h_t  = σ(o~) ⊙ h~_t
    ```

    per head, `dk = key_units / num_heads` and `dv = units / num_heads`.
    `m` cancels from the outputs (the `1e-6` aside): it keeps `i'` and `f'`
    in [0, 1] so that inputs of any size stay finite.

    The states are `[C, n, m]`, flattened per row: `C` `(batch, num_heads *
    dk * dv)` (head, key, value), `n` `(batch, key_units)`, `m` `(batch,
    num_heads)`, zeros at the start; the output is `h_t`, `units` features.
    Weights: `kernel` `(input_dim, 2 * key_units + 2 * units + 2 *
    num_heads)` and `bias`, blocks q, k, v, o, i, f (heads side by side in
    each). With `input_projection=False` the cell has no weights and no
    output gate: its inputs are `q, k, v, i~, f~` side by side (`2 *
    key_units + units + 2 * num_heads` features) and its output is `h~_t`,
    as the official mLSTM layer feeds its cell (`keras_gates.blocks.MLSTMBlock`).
    `keras_gates.inspect` reports `input` and `forget` (`i'` and `f'`) and
    `m`, one value per head.

    Args:
        units: Positive integer, the size of the output and of the state.
        num_heads: Positive integer that divides `units` and `key_units`: the
            number of heads, each with its own matrix memory. Defaults to `4`.
        key_units: None, or a positive integer: the size of the queries and
            keys, all heads together (the xLSTM-7B layer's are half `units`).
            Defaults to `None` (`units`).
        use_bias: Whether the layer adds a bias vector to each gate's input
            product. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`, the weights of the inputs.
            Defaults to `"glorot_uniform"`.
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        forget_bias_range: None, or a pair `(low, high)`: the forget gate's bias
            starts evenly spaced from `low` to `high` over the heads (the
            official package's `(3.0, 6.0)`, a long memory from the start); None
            leaves it to `bias_initializer`. Defaults to `(3.0, 6.0)`.
        kernel_regularizer: Regularizer applied to `kernel`. Defaults to `None`.
        bias_regularizer: Regularizer applied to `bias`. Defaults to `None`.
        kernel_constraint: Constraint applied to `kernel`. Defaults to `None`.
        bias_constraint: Constraint applied to `bias`. Defaults to `None`.
        dropout: Float in [0, 1): the fraction of the inputs dropped in
            training, with one mask per sequence. Defaults to `0.0`.
        seed: Integer, the seed of the dropout masks. Defaults to `None`.
        input_projection: Whether the cell multiplies its inputs by `kernel`;
            with False its inputs are `q, k, v, i~, f~` side by side and it has
            no weights and no output gate. Defaults to `True`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Examples:
        >>> import keras_gates
        >>> cell = keras_gates.MLSTMCell(8, num_heads=2)
        >>> cell.state_size  # C: 2 heads of 4 x 4; n; m
        [32, 8, 2]

    Reference:
        M. Beck, K. Pöppel, M. Spanring, A. Auer, O. Prudnikova, M. Kopp,
        G. Klambauer, J. Brandstetter and S. Hochreiter, "xLSTM: Extended
        Long Short-Term Memory", NeurIPS 2024 (arXiv:2405.04517).
    """

    GATES = ("input", "forget", "m")
    state_names = ("C", "n", "m")
    protocol_tested = True
    # Runs a whole sequence in the parallel and chunkwise forms too
    # (`run_form`; `keras_gates.engine.choose_form`).
    forms = True

    def __init__(
        self,
        units: Units,
        *,
        num_heads: Units = 4,
        key_units: OptionalUnits = None,
        use_bias: Flag = True,
        kernel_initializer: Initializer = "glorot_uniform",
        bias_initializer: Initializer = "zeros",
        forget_bias_range: Plain = (3.0, 6.0),
        kernel_regularizer: Regularizer = None,
        bias_regularizer: Regularizer = None,
        kernel_constraint: Constraint = None,
        bias_constraint: Constraint = None,
        dropout: Rate = 0.0,
        seed: Seed = None,
        input_projection: Flag = True,
        **kwargs,
    ):
        super().__init__(**arguments(locals()))
        self.key_units = self.key_units or self.units
        for name in ("units", "key_units"):
            if getattr(self, name) % self.num_heads:
                raise ValueError(
                    f"MLSTMCell splits its {name} into `num_heads` heads of "
                    f"equal size: `num_heads` must divide `{name}`. Received: "
                    f"{name}={getattr(self, name)}, num_heads={self.num_heads}"
                )
        self.forget_bias_range = _check_range(self.forget_bias_range)
        self.kernel = self.bias = None
        heads = self.num_heads
        self.state_size = [
            heads * (self.key_units // heads) * (self.units // heads),
            self.key_units,
            heads,
        ]
        self.output_size = self.units

    @property
    def features(self):
        """The widths of the blocks q, k, v, o, i~, f~ (no o without the
        input projection)."""
        key, heads = self.key_units, self.num_heads
        if self.input_projection:
            return (key, key, self.units, self.units, heads, heads)
        return (key, key, self.units, heads, heads)

    @property
    def input_dim(self):
        if self.kernel is None:
            return sum(self.features)
        return self.kernel.shape[0]

    def build(self, input_shape):
        width = sum(self.features)
        if not self.input_projection:
            if input_shape[-1] is not None and input_shape[-1] != width:
                raise ValueError(
                    "MLSTMCell with `input_projection=False` takes q, k, v, "
                    f"i~ and f~ side by side, 2 * key_units + units + 2 * "
                    f"num_heads = {width} features. Received inputs of "
                    f"{input_shape[-1]} features."
                )
            return
        self.kernel = self.add_weight_from("kernel", (input_shape[-1], width), "kernel")
        if self.use_bias:
            self.bias = self.add_weight_from(
                "bias", (width,), "bias", initializer=self._bias_initializer()
            )

    def _bias_initializer(self):
        if self.forget_bias_range is None:
            return self.bias_initializer
        base, heads = self.bias_initializer, self.num_heads
        low, high = self.forget_bias_range

        def initializer(shape, dtype=None):
            start = base((shape[0] - heads,), dtype=dtype)
            forget = ops.linspace(low, high, heads, dtype=dtype)
            return ops.concatenate([start, forget])

        return initializer

    def input_side(self, inputs, constants=()):
        x = inputs
        if self.kernel is not None:
            x = ops.matmul(x, self.kernel)
            if self.bias is not None:
                x = x + self.bias
        splits, at = [], 0
        for width in self.features[:-1]:
            at += width
            splits.append(at)
        return tuple(ops.split(x, splits, axis=-1))

    def heads(self, projected):
        """`(q, k, v, i~, f~)` of `input_side` with a head axis: `q`, `k`
        `(..., heads, dk)`, `v` `(..., heads, dv)`, `i~`, `f~` `(...,
        heads)`."""
        q, k, v, *gates = projected
        if self.input_projection:
            gates = gates[1:]

        def split(x):  # every size given: -1 beside an unknown axis is unknown
            size = x.shape[-1] // self.num_heads
            return ops.reshape(x, (*ops.shape(x)[:-1], self.num_heads, size))

        return (split(q), split(k), split(v), *gates)

    def output(self, projected, h):
        """`h~` `(..., heads, dv)` as the output: joined heads, through the
        output gate."""
        h = ops.reshape(h, (*ops.shape(h)[:-2], self.units))
        if self.input_projection:
            h = ops.sigmoid(projected[3]) * h
        return h

    def unflatten(self, states):
        """The states `[C, n, m]` with a head axis (`keras_gates.ops.mlstm`)."""
        c, n, m = states
        heads, key = self.num_heads, self.key_units // self.num_heads
        value = self.units // heads
        c = ops.reshape(c, (*ops.shape(c)[:-1], heads, key, value))
        n = ops.reshape(n, (*ops.shape(n)[:-1], heads, key))
        return [c, n, m]

    def flatten(self, states):
        """The states `[C, n, m]` as the layers carry them."""
        c, n, m = states
        c = ops.reshape(c, (*ops.shape(c)[:-3], self.state_size[0]))
        n = ops.reshape(n, (*ops.shape(n)[:-2], self.key_units))
        return [c, n, m]

    def recurrent_step(self, projected, states, constants=(), recurrent_mask=None):
        dtype = states[0].dtype
        q, k, v, i, f = _float32(self.heads(projected))
        states = _float32(self.unflatten(states))
        h, new_states, (write, forget) = mlstm.step(q, k, v, i, f, states)
        gates = {"input": write, "forget": forget, "m": new_states[2]}
        h, new_states = ops.cast(h, dtype), [ops.cast(x, dtype) for x in new_states]
        gates = {name: ops.cast(x, dtype) for name, x in gates.items()}
        return self.output(projected, h), self.flatten(new_states), gates

    def run_form(self, form, projected, states, valid=None, chunk_size=64):
        """The whole sequence in the parallel or the chunkwise form, from
        `input_side` of every step (time-major) and the initial states;
        `valid`: None or `(steps, batch)` booleans. Returns the outputs
        `(steps, batch, units)` and the final states, equal to the steps'."""

        def batch_major(x):
            return (
                ops.moveaxis(x, 0, 2) if len(x.shape) == 4 else ops.moveaxis(x, 0, -1)
            )

        dtype = states[0].dtype
        q, k, v, i, f = _float32(batch_major(x) for x in self.heads(projected))
        if valid is not None:
            valid = ops.transpose(valid, (1, 0))
        run = mlstm.parallel if form == "parallel" else mlstm.chunkwise
        options = {} if form == "parallel" else {"chunk_size": chunk_size}
        states = _float32(self.unflatten(states))
        h, final = run(q, k, v, i, f, states, valid, **options)
        h = ops.cast(ops.moveaxis(h, 2, 0), dtype)  # (steps, batch, heads, dv)
        final = [ops.cast(x, dtype) for x in final]
        return self.output(projected, h), self.flatten(final)


def _float32(tensors):
    """Half-precision tensors as float32: the memory runs in float32 under a
    mixed precision policy, as the official kernels keep it (float16's
    exponent range is too narrow for its decays and sums)."""
    return [
        ops.cast(x, "float32")
        if keras.backend.standardize_dtype(x.dtype) in ("float16", "bfloat16")
        else x
        for x in tensors
    ]


def _check_range(value):
    if value is None:
        return None
    ok = isinstance(value, (tuple, list)) and len(value) == 2
    if ok:
        try:
            return (float(value[0]), float(value[1]))
        except (TypeError, ValueError):
            pass
    raise ValueError(
        "Argument `forget_bias_range` must be None or a pair of numbers "
        f"(low, high). Received: forget_bias_range={value!r}"
    )
