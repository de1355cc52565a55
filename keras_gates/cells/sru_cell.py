import math

from keras import initializers
from keras import ops

from keras_gates import _validation as v
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.base_cell import RecurrentCell

# Zero mean, variance 1/2: the reference implementation's initialization of
# the recurrent gate vectors v_f and v_r.
_V_LIMIT = math.sqrt(1.5)


@keras_gates_export
class SRUCell(RecurrentCell):
    """Cell of the Simple Recurrent Unit (Lei et al., 2018).

    Every matrix product depends on the input only; the recurrence is
    element-wise. The gates see the previous cell state through the vectors
    `v_f` and `v_r`, and a highway connection carries the input (or its
    projection) to the output.

    ```
    u   = x_t @ kernel                     # blocks x~, f, r (+ x' if input_dim != units)
    f_t = σ(u_f + v_f ⊙ c_{t-1} + b_f)
    r_t = σ(u_r + v_r ⊙ c_{t-1} + b_r)
    c_t = f_t ⊙ c_{t-1} + (1 - f_t) ⊙ u_x~
    h_t = r_t ⊙ g(c_t) + (1 - r_t) ⊙ x'_t   # x'_t = x_t if input_dim == units, else u_x'
    ```

    The state is `[c_t]` and the output is `h_t`. Weights: `kernel` of shape
    `(input_dim, 3 * units)`, or `(input_dim, 4 * units)` with the highway
    projection block x' when `input_dim != units`; `recurrent_kernel` of shape
    `(2, units)` holding the rows `v_f`, `v_r` (None when
    `recurrent_gates=False`); `bias` `(2 * units,)`, blocks f, r.

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: `g`, applied to the cell state in the output. Defaults to
            `"linear"`, the reference implementation's default; `"tanh"`
            gives the 2017 paper's form.
        recurrent_gates: If True, the gates see `c_{t-1}` through `v_f` and
            `v_r` (the 2018 form). If False (the 2017 form, `v = 0`), there is
            no `recurrent_kernel` and the recurrence is linear in `c`.
            Defaults to `True`.
        recurrent_activation: Activation of the gates. Defaults to
            `"sigmoid"`.
        use_bias: Whether the gates have a bias vector. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`. Defaults to
            `"glorot_uniform"`.
        recurrent_initializer: Initializer of `recurrent_kernel`. Defaults to
            uniform on `[-sqrt(1.5), sqrt(1.5)]` (zero mean, variance 1/2), as
            in the reference implementation.
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        chrono_init: None, or an integer T of at least 3: chrono
            initialization of the memory gate's bias (Tallec & Ollivier,
            2018), each unit starting with a memory of 2 to T steps (see
            `keras_gates.initializers.Chrono`); it replaces
            `bias_initializer` and `unit_forget_bias` for that gate.
            Defaults to `None`.
        kernel_regularizer: Regularizer of `kernel`. Defaults to `None`.
        recurrent_regularizer: Regularizer of `recurrent_kernel`. Defaults to
            `None`.
        bias_regularizer: Regularizer of `bias`. Defaults to `None`.
        kernel_constraint: Constraint on `kernel`. Defaults to `None`.
        recurrent_constraint: Constraint on `recurrent_kernel`. Defaults to
            `None`.
        bias_constraint: Constraint on `bias`. Defaults to `None`.
        dropout: Float in [0, 1): fraction of the inputs dropped before the
            input projection (the identity highway sees the inputs
            undropped). One mask per sequence, in training only. Defaults to
            `0.0`.
        recurrent_dropout: Float in [0, 1): fraction of `c_{t-1}` dropped
            where it enters the gates (`v ⊙ c_{t-1}`); the carried state is
            never dropped. Needs `recurrent_gates=True`. Defaults to `0.0`.
        seed: Integer seed of the dropout masks. Defaults to `None`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A 2D tensor of shape `(batch, input_dim)`, one time step.
        states: A list `[c_{t-1}]` with a tensor of shape `(batch, units)`.
        training: Whether dropout is active.

    Example:

    >>> import numpy as np, keras, keras_gates
    >>> rnn = keras.layers.RNN(keras_gates.SRUCell(4))
    >>> tuple(rnn(np.zeros((2, 3, 5), "float32")).shape)
    (2, 4)

    Reference:
        T. Lei, Y. Zhang, S. I. Wang, H. Dai and Y. Artzi, "Simple Recurrent
        Units for Highly Parallelizable Recurrence", EMNLP 2018
        (arXiv:1709.02755).
    """

    def __init__(
        self,
        units,
        *,
        activation="linear",
        recurrent_gates=True,
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer=None,
        bias_initializer="zeros",
        chrono_init=None,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        recurrent_gates = v.check_bool(recurrent_gates, "recurrent_gates")
        if not recurrent_gates and recurrent_dropout:
            raise ValueError(
                "SRUCell with `recurrent_gates=False` has no recurrent "
                "connection for `recurrent_dropout` to act on. Received: "
                f"recurrent_gates=False, recurrent_dropout={recurrent_dropout}"
            )
        if recurrent_initializer is None:
            recurrent_initializer = initializers.RandomUniform(-_V_LIMIT, _V_LIMIT)
        super().__init__(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            chrono_init=chrono_init,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            **kwargs,
        )
        self.recurrent_gates = recurrent_gates
        self.state_size = [self.units]
        self.output_size = self.units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.projects_highway = input_dim != self.units
        self.kernel = self._add_kernel(input_dim, 4 if self.projects_highway else 3)
        self.recurrent_kernel = (
            self._add_recurrent_kernel((2, self.units))
            if self.recurrent_gates
            else None
        )
        self.bias = self._add_bias(2)

    output_is_first_state = False  # outputs h, keeps c
    state_names = ("c",)
    GATES = ("forget", "reset")
    CHRONO_LAYOUT = "sru"

    @property
    def reads_undropped_inputs(self):
        return not self.projects_highway  # the identity highway: the input

    def _step_constants(self):
        """`(b_f, b_r, v_f, v_r)`, None for the absent ones."""
        b_f = b_r = v_f = v_r = None
        if self.use_bias:
            b_f, b_r = ops.split(self.bias, 2)
        if self.recurrent_gates:
            v_f, v_r = self.recurrent_kernel[0], self.recurrent_kernel[1]
        return b_f, b_r, v_f, v_r

    def _split_projection(self, u, inputs, constants):
        """The blocks of `u = x @ kernel` for one step or a whole sequence:
        `(u_x, gate pre-activations f and r with their bias, highway)`.
        `inputs` are the undropped inputs (the identity highway)."""
        if self.projects_highway:
            u_x, u_f, u_r, highway = ops.split(u, 4, axis=-1)
        else:
            u_x, u_f, u_r = ops.split(u, 3, axis=-1)
            highway = inputs
        b_f, b_r, _, _ = constants
        if self.use_bias:
            u_f = u_f + b_f
            u_r = u_r + b_r
        return u_x, u_f, u_r, highway

    def _output(self, c, r, highway):
        # r * g(c) + (1 - r) * highway, with one product fewer.
        return highway + r * (self.activation(c) - highway)

    def _gated_update(self, blocks, c_tm1, c_in, constants):
        """`(h, c, gates)` from the blocks of `_split_projection`.

        `c_tm1` is the previous state (carried), `c_in` the same after
        recurrent dropout (seen by the gates).
        """
        u_x, u_f, u_r, highway = blocks
        if self.recurrent_gates:
            _, _, v_f, v_r = constants
            u_f = u_f + v_f * c_in
            u_r = u_r + v_r * c_in
        f = self.recurrent_activation(u_f)
        r = self.recurrent_activation(u_r)
        # f * c_tm1 + (1 - f) * u_x, with one product fewer.
        c = u_x + f * (c_tm1 - u_x)
        return self._output(c, r, highway), c, {"forget": f, "reset": r}

    def _project_inputs(self, dropped, inputs):
        # The four blocks side by side, the gate biases added: all the loop
        # reads from the inputs (the highway too when it is the identity).
        u = ops.matmul(dropped, self.kernel)
        blocks = self._split_projection(u, inputs, self._step_constants())
        return ops.concatenate(blocks, axis=-1)

    def _gated_step(self, projected, states, constants, training):
        c_tm1 = states[0]
        c_in = self._drop_recurrent(c_tm1, training)
        blocks = ops.split(projected, 4, axis=-1)
        h, c, gates = self._gated_update(blocks, c_tm1, c_in, constants)
        return h, [c], gates

    def _step(self, dropped, inputs, states, constants, training):
        # Without the concatenation of `_project_inputs`: one op fewer a step.
        c_tm1 = states[0]
        u = ops.matmul(dropped, self.kernel)
        c_in = self._drop_recurrent(c_tm1, training)
        blocks = self._split_projection(u, inputs, constants)
        h, c, _ = self._gated_update(blocks, c_tm1, c_in, constants)
        return h, [c]

    def get_config(self):
        return {**super().get_config(), "recurrent_gates": self.recurrent_gates}
