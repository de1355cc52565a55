import math

from keras import initializers
from keras import ops

from keras_gates._arguments import Activation
from keras_gates._arguments import Constraint
from keras_gates._arguments import Epsilon
from keras_gates._arguments import Flag
from keras_gates._arguments import Initializer
from keras_gates._arguments import Number
from keras_gates._arguments import OptionalUnits
from keras_gates._arguments import Rate
from keras_gates._arguments import Regularizer
from keras_gates._arguments import Seed
from keras_gates._arguments import Timescale
from keras_gates._arguments import Units
from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.normalization import add_norm
from keras_gates.cells.normalization import normalize
from keras_gates.cells.protocol import masked
from keras_gates.cells.recurrent_cell import RecurrentCell

# Zero mean, variance 1/2: the reference implementation's initialization of
# the recurrent gate vectors v_f and v_r.
_V_LIMIT = math.sqrt(1.5)

# The cell's highway: "auto" is the identity when input_dim == units and a
# projection block otherwise; the halves are those of the official
# bidirectional SRU, whose directions each read their half of the input.
HIGHWAYS = ("auto", "projection", "first_half", "second_half")


def rescale_factor(highway_bias):
    """The official SRU's `rescale` factor of the identity highway,
    `sqrt(1 + 2·exp(highway_bias))`."""
    return math.sqrt(1.0 + 2.0 * math.exp(highway_bias))


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

    The options of the official implementation (`sru` 2.6):

    - `skip_term=False`: no highway, `h_t = r_t ⊙ g(c_t)`.
    - `rescale=True`: the identity highway is `x'_t = s · x_t` with `s =
      sqrt(1 + 2·exp(highway_bias))` (a projected highway starts with its
      block scaled by `s` instead); `highway_bias` is also the reset gate's
      initial bias.
    - `layer_norm=True`: `x_t` is layer-normalized before the matrix
      product (the identity highway still reads the raw `x_t`), or, with
      `normalize_after=True`, the output `h_t` is.
    - `input_projection_units=P` (the official `n_proj`): the kernel is
      factorized, `u = (x_t @ projection_kernel) @ kernel`, with
      `projection_kernel` of shape `(input_dim, P)` and `kernel` `(P, k·units)`.
    - `highway="first_half"` / `"second_half"`: with `input_dim = 2·units`,
      the identity highway reads that half of `x_t` (each direction of the
      official bidirectional SRU); `"projection"` always projects it.

    The state is `[c_t]` and the output is `h_t`. Weights: `kernel` of shape
    `(input_dim, 3 * units)`, or `(input_dim, 4 * units)` with the highway
    projection block x' when `input_dim != units`; `recurrent_kernel` of shape
    `(2, units)` holding the rows `v_f`, `v_r` (None when
    `recurrent_gates=False`); `bias` `(2 * units,)`, blocks f, r.

    Args:
        units: Positive integer, the size of the output and of the state.
        activation: `g`, applied to the cell state in the output. Defaults to
            `"linear"`; `"tanh"` gives the 2017 paper's form.
        recurrent_activation: Activation function of the gates. Defaults to
            `"sigmoid"`.
        use_bias: Whether the layer adds a bias vector to each gate's input
            product. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`, the weights of the inputs.
            Defaults to `"glorot_uniform"`.
        recurrent_initializer: Initializer of `recurrent_kernel`, the weights of
            the recurrent state. Defaults to `None`.
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
        recurrent_gates: If True, the gates see `c_{t-1}` through `v_f` and
            `v_r`; if False (the 2017 form), the recurrence is linear in `c`.
            Defaults to `True`.
        chrono_init: None, or an integer T of at least 3: chrono initialization
            (Tallec & Ollivier, 2018) of the bias of the gate that keeps the
            memory, for dependencies of up to about T steps; the other blocks
            keep `bias_initializer`. Defaults to `None`.
        skip_term: Whether the output has the highway term. Defaults to `True`.
        highway: `"auto"` (the identity when the input has `units` features, a
            projection otherwise), `"projection"` (always a projection), or
            `"split"`: in `keras.layers.Bidirectional` over inputs of `2 *
            units` features, each direction's identity highway reads its half of
            the input (the forward layer the first, the backward layer the
            second), as the official bidirectional SRU. Defaults to `"auto"`.
        rescale: Whether the identity highway is scaled by `sqrt(1 +
            2·exp(highway_bias))` (the official `rescale`). Defaults to `False`.
        highway_bias: The reset gate's initial bias, when not 0, and the
            argument of `rescale`'s factor. Defaults to `0.0`.
        layer_norm: Whether to layer-normalize the input before the matrix
            product (the official placement), or the output with
            `normalize_after=True`. Defaults to `False`.
        normalize_after: See `layer_norm`. Defaults to `False`.
        norm_gamma_initializer: Initializer of the normalization's scale
            `norm_gamma`. Defaults to `"ones"`.
        norm_beta_initializer: Initializer of the normalization's offset
            `norm_beta`. Defaults to `"zeros"`.
        norm_epsilon: The normalization's epsilon. Defaults to `1e-5`.
        input_projection_units: None, or a positive integer: the kernel is
            factorized through a projection of the input to this many features
            (the official `n_proj`). Defaults to `None`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Examples:
        >>> import keras_gates
        >>> keras_gates.SRUCell(4).state_names, keras_gates.SRUCell(4).output_state
        (('c',), None)

    Reference:
        T. Lei, Y. Zhang, S. I. Wang, H. Dai and Y. Artzi, "Simple Recurrent
        Units for Highly Parallelizable Recurrence", EMNLP 2018
        (arXiv:1709.02755).
    """

    def __init__(
        self,
        units: Units,
        activation: Activation = "linear",
        recurrent_activation: Activation = "sigmoid",
        use_bias: Flag = True,
        kernel_initializer: Initializer = "glorot_uniform",
        recurrent_initializer: Initializer = None,
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
        recurrent_gates: Flag = True,
        chrono_init: Timescale = None,
        skip_term: Flag = True,
        highway="auto",
        rescale: Flag = False,
        highway_bias: Number = 0.0,
        layer_norm: Flag = False,
        normalize_after: Flag = False,
        norm_gamma_initializer: Initializer = "ones",
        norm_beta_initializer: Initializer = "zeros",
        norm_epsilon: Epsilon = 1e-05,
        input_projection_units: OptionalUnits = None,
        **kwargs,
    ):
        given = arguments(locals())
        if given["highway"] not in HIGHWAYS:
            raise ValueError(
                f"Argument `highway` must be one of {HIGHWAYS}. "
                f"Received: highway={given['highway']!r}"
            )
        if given["recurrent_initializer"] is None:
            given["recurrent_initializer"] = initializers.RandomUniform(
                -_V_LIMIT, _V_LIMIT
            )
        super().__init__(**given)
        if not self.recurrent_gates and self.recurrent_dropout:
            raise ValueError(
                "SRUCell with `recurrent_gates=False` has no recurrent "
                "connection for `recurrent_dropout` to act on. Received: "
                f"recurrent_gates=False, recurrent_dropout={self.recurrent_dropout}"
            )
        if self.normalize_after and not self.layer_norm:
            raise ValueError(
                "Argument `normalize_after` places the layer normalization, "
                "which needs `layer_norm=True`."
            )
        self.projection_kernel = None
        self.norm = None
        self.state_size = [self.units]
        self.output_size = self.units

    def _highway_kind(self, input_dim):
        """None (no skip term), "identity", "projection" or a half."""
        if not self.skip_term:
            return None
        if self.highway in ("first_half", "second_half"):
            if input_dim != 2 * self.units:
                raise ValueError(
                    f"SRUCell with highway={self.highway!r} reads half of its "
                    f"input on the highway, which needs input_dim = 2 * units = "
                    f"{2 * self.units}. Received input_dim={input_dim}."
                )
            return self.highway
        if self.highway == "projection" or input_dim != self.units:
            return "projection"
        return "identity"

    @property
    def scale(self):
        """The identity highway's factor: `rescale_factor(highway_bias)`
        with `rescale`, else 1."""
        return rescale_factor(self.highway_bias) if self.rescale else 1.0

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.highway_kind = self._highway_kind(input_dim)
        self.projects_highway = self.highway_kind == "projection"
        blocks = 4 if self.projects_highway else 3
        rows = input_dim
        if self.input_projection_units is not None:
            rows = self.input_projection_units
            self.projection_kernel = self.add_weight(
                shape=(input_dim, rows),
                name="projection_kernel",
                initializer=self.kernel_initializer,
                regularizer=self.kernel_regularizer,
                constraint=self.kernel_constraint,
            )
        kernel_initializer = self.kernel_initializer
        if self.projects_highway and self.rescale:
            scale, units = self.scale, self.units

            def kernel_initializer(shape, dtype=None):
                # The official init: the highway block scaled like the
                # identity highway would be.
                kernel = self.kernel_initializer(shape, dtype=dtype)
                factors = ops.concatenate(
                    [ops.ones((3 * units,)), ops.full((units,), scale)]
                )
                return kernel * ops.cast(factors, kernel.dtype)

        self.kernel = self.add_weight(
            shape=(rows, blocks * self.units),
            name="kernel",
            initializer=kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = (
            self.add_recurrent_kernel((2, self.units)) if self.recurrent_gates else None
        )
        if self.highway_bias:  # the reset gate's; chrono_init sets the forget gate
            self.bias = self.add_bias(2, constant_block=1, constant=self.highway_bias)
        else:
            self.bias = self.add_bias(2)
        if self.layer_norm:
            size = self.units if self.normalize_after else input_dim
            self.norm = add_norm(self, "norm", size)

    @property
    def input_dim(self):
        weight = (
            self.kernel if self.projection_kernel is None else self.projection_kernel
        )
        return weight.shape[0]

    output_state = None  # outputs h, keeps c
    # The identity highway reads the undropped inputs.
    applies_input_dropout = True
    recurrent_dropout_state = 0  # c, as the gates see it
    state_names = ("c",)
    GATES = ("forget", "reset")
    protocol_tested = True
    CHRONO_LAYOUT = "sru"

    @property
    def is_linear(self):
        """With `recurrent_gates=False`, `c_t = f_t ⊙ c_{t-1} + (1 - f_t) ⊙ u_x~`
        with gates that see the input only: linear in `c`."""
        return not self.recurrent_gates

    def step_constants(self):
        """`(b_f, b_r, v_f, v_r)`, None for the absent ones."""
        b_f = b_r = v_f = v_r = None
        if self.use_bias:
            b_f, b_r = ops.split(self.bias, 2)
        if self.recurrent_gates:
            v_f, v_r = self.recurrent_kernel[0], self.recurrent_kernel[1]
        return b_f, b_r, v_f, v_r

    def input_side(self, inputs, constants=(), dropout_mask=None):
        """`(u_x~, u_f + b_f, u_r + b_r, highway)`: an identity highway is
        the raw input itself (undropped, unnormalized), or its half; None
        without a skip term."""
        x = inputs
        if self.layer_norm and not self.normalize_after:
            x = normalize(self, x, self.norm)
        x = masked(x, dropout_mask)
        if self.projection_kernel is not None:
            x = ops.matmul(x, self.projection_kernel)
        u = ops.matmul(x, self.kernel)
        if self.projects_highway:
            u_x, u_f, u_r, highway = ops.split(u, 4, axis=-1)
        else:
            u_x, u_f, u_r = ops.split(u, 3, axis=-1)
            highway = None
            if self.highway_kind == "identity":
                highway = inputs
            elif self.highway_kind == "first_half":
                highway = inputs[..., : self.units]
            elif self.highway_kind == "second_half":
                highway = inputs[..., self.units :]
            if highway is not None and self.rescale:
                highway = highway * self.scale
        b_f, b_r, _, _ = constants or self.step_constants()
        if self.use_bias:
            u_f = u_f + b_f
            u_r = u_r + b_r
        return u_x, u_f, u_r, highway

    def _output(self, c, r, highway):
        if highway is None:
            h = r * self.activation(c)
        else:
            # r * g(c) + (1 - r) * highway, with one product fewer.
            h = highway + r * (self.activation(c) - highway)
        if self.normalize_after:
            h = normalize(self, h, self.norm)
        return h

    def recurrent_step(self, projected, states, constants=(), recurrent_mask=None):
        u_x, u_f, u_r, highway = projected
        c_tm1 = states[0]
        if self.recurrent_gates:
            _, _, v_f, v_r = constants
            c_in = masked(c_tm1, recurrent_mask)  # what the gates see
            u_f = u_f + v_f * c_in
            u_r = u_r + v_r * c_in
        f = self.recurrent_activation(u_f)
        r = self.recurrent_activation(u_r)
        # f * c_tm1 + (1 - f) * u_x, with one product fewer.
        c = u_x + f * (c_tm1 - u_x)
        return self._output(c, r, highway), [c], {"forget": f, "reset": r}

    def linear_recurrence(self, projected):
        u_x, u_f, _, _ = projected
        f = self.recurrent_activation(u_f)
        return f, (1.0 - f) * u_x

    def linear_output(self, projected, states):
        _, _, u_r, highway = projected
        return self._output(states, self.recurrent_activation(u_r), highway)
