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

MUTANTS = (1, 2, 3)
# The rows of `kernel` and `recurrent_kernel` each mutant has, from its blocks
# z (update), r (reset), h (candidate); the bias has all three.
KERNEL_BLOCKS = {1: ("z", "r"), 2: ("z", "h"), 3: ("z", "r", "h")}
RECURRENT_BLOCKS = {1: ("r", "h"), 2: ("z", "r", "h"), 3: ("z", "r", "h")}


@keras_gates_export
class MutantGRUCell(RecurrentCell):
    """Cell of the three best architectures of Jozefowicz et al.'s search
    (ICML 2015), MUT1, MUT2 and MUT3: GRUs with some connections removed or
    changed.

    ```
    MUT1: z = σ(x W_xz + b_z)
          r = σ(x W_xr + h W_hr + b_r)
          h' = tanh((r ⊙ h) W_hh + tanh(x) + b_h) ⊙ z + h ⊙ (1 - z)
    MUT2: z = σ(x W_xz + h W_hz + b_z)
          r = σ(x + h W_hr + b_r)
          h' = tanh((r ⊙ h) W_hh + x W_xh + b_h) ⊙ z + h ⊙ (1 - z)
    MUT3: z = σ(x W_xz + tanh(h) W_hz + b_z)
          r = σ(x W_xr + h W_hr + b_r)
          h' = tanh((r ⊙ h) W_hh + x W_xh + b_h) ⊙ z + h ⊙ (1 - z)
    ```

    `x` is `x_t`, `h` is `h_{t-1}` and `h'` is `h_t`. `σ` is
    `recurrent_activation` and `tanh` is `activation`, the one in `tanh(x)`
    (MUT1) and `tanh(h)` (MUT3) included. Like the paper, `z` weights the
    NEW candidate, the opposite of `keras.layers.GRU`'s `z`. MUT1 adds
    `tanh(x_t)` to the candidate and MUT2 adds `x_t` to the reset gate, so
    both need as many input features as units (the paper embeds its inputs
    to the hidden size): put a `Dense(units)` or an `Embedding(.., units)`
    before them. Input `dropout` drops features of `x_t` everywhere it is
    read, `tanh(x_t)` and MUT2's reset gate included.

    The state is `[h_t]` and the output is `h_t`. Weights: `kernel` of shape
    `(input_dim, k * units)` with the blocks of `W_x*` the mutant has (MUT1:
    z, r; MUT2: z, h; MUT3: z, r, h), `recurrent_kernel` `(units, k * units)`
    with its `W_h*` (MUT1: r, h; MUT2 and MUT3: z, r, h) and `bias`
    `(3 * units,)`, blocks z, r, h.

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
        mutant: 1, 2 or 3 (or `"MUT1"`, `"MUT2"`, `"MUT3"`): the architecture.
            Defaults to `1`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Examples:
        >>> import numpy as np, keras_gates
        >>> cell = keras_gates.MutantGRUCell(4, mutant=3)
        >>> layer = keras_gates.GatedRNN(cell)
        >>> tuple(layer(np.ones((2, 3, 5), "float32")).shape)
        (2, 4)

    Reference:
        R. Jozefowicz, W. Zaremba and I. Sutskever, "An Empirical Exploration
        of Recurrent Network Architectures", ICML 2015.
    """

    GATES = ("update", "reset")
    protocol_tested = True
    output_state = 0

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
        mutant=1,
        **kwargs,
    ):
        super().__init__(**arguments(locals()))
        mutant = self.mutant
        if isinstance(mutant, str) and mutant.upper() in ("MUT1", "MUT2", "MUT3"):
            mutant = int(mutant[-1])
        if isinstance(mutant, bool) or mutant not in MUTANTS:
            raise ValueError(
                "Argument `mutant` must be 1, 2 or 3 (or 'MUT1', 'MUT2', "
                f"'MUT3'), Jozefowicz et al.'s architecture. Received: "
                f"mutant={self.mutant!r}"
            )
        self.mutant = int(mutant)
        self.state_size = [self.units]
        self.output_size = self.units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if self.mutant in (1, 2) and input_dim != self.units:
            where = (
                "the candidate tanh(x_t)"
                if self.mutant == 1
                else "x_t in the reset gate"
            )
            raise ValueError(
                f"MUT{self.mutant} adds {where}, so it needs as many input "
                f"features as units ({self.units}). Received input features: "
                f"{input_dim}. Put a Dense({self.units}) or an Embedding(..., "
                f"{self.units}) before it, as the paper embeds its inputs."
            )
        units = self.units
        self.kernel = self.add_kernel(input_dim, len(KERNEL_BLOCKS[self.mutant]))
        width = len(RECURRENT_BLOCKS[self.mutant]) * units
        self.recurrent_kernel = self.add_recurrent_kernel((units, width))
        self.bias = self.add_bias(3)

    def input_side(self, inputs, constants=()):
        """`[x W_xz, x W_xr or x, x W_xh or tanh(x)] + b`, blocks z, r, h."""
        products = ops.split(
            ops.matmul(inputs, self.kernel), len(KERNEL_BLOCKS[self.mutant]), axis=-1
        )
        blocks = dict(zip(KERNEL_BLOCKS[self.mutant], products, strict=True))
        if self.mutant == 1:
            blocks["h"] = self.activation(inputs)
        elif self.mutant == 2:
            blocks["r"] = inputs
        z_x = ops.concatenate([blocks["z"], blocks["r"], blocks["h"]], axis=-1)
        return z_x + self.bias if self.use_bias else z_x

    def step_constants(self):
        """The recurrent blocks, split once before the loop; MUT2 keeps its
        z and r blocks fused, as both read `h_{t-1}` (one product a step)."""
        if self.mutant == 2:
            return tuple(ops.split(self.recurrent_kernel, [2 * self.units], axis=1))
        return tuple(
            ops.split(self.recurrent_kernel, 2 if self.mutant == 1 else 3, axis=1)
        )

    def recurrent_step(self, z_x, states, constants=(), recurrent_mask=None):
        h_tm1 = states[0]
        h_in = masked(h_tm1, recurrent_mask)  # what the products see
        x_z, x_r, x_h = ops.split(z_x, 3, axis=-1)
        if self.mutant == 1:
            kernel_r, kernel_h = constants
            z_pre = x_z
            r_pre = x_r + ops.matmul(h_in, kernel_r)
        elif self.mutant == 2:
            kernel_zr, kernel_h = constants
            h_z, h_r = ops.split(ops.matmul(h_in, kernel_zr), 2, axis=-1)
            z_pre, r_pre = x_z + h_z, x_r + h_r
        else:
            kernel_z, kernel_r, kernel_h = constants
            z_pre = x_z + ops.matmul(self.activation(h_in), kernel_z)
            r_pre = x_r + ops.matmul(h_in, kernel_r)
        z = self.recurrent_activation(z_pre)
        r = self.recurrent_activation(r_pre)
        candidate = self.activation(ops.matmul(r * h_in, kernel_h) + x_h)
        # candidate * z + h_tm1 * (1 - z), with one product fewer.
        h = h_tm1 + z * (candidate - h_tm1)
        return h, [h], {"update": z, "reset": r}
