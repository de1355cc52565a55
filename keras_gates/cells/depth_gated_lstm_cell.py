import numpy as np
from keras import ops

from keras_gates import _validation as v
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
from keras_gates.cells.lstm_family import peep
from keras_gates.cells.protocol import masked
from keras_gates.cells.recurrent_cell import RecurrentCell

ALL_GATES = ("input", "forget", "output")
ABSENT_WHEN_COUPLED = {"forget": "with coupled=True the forget gate is 1 - input gate."}


@keras_gates_export
class DepthGatedLSTMCell(RecurrentCell):
    """Cell of the Depth-Gated LSTM (Yao, Cohn, Vylomova, Duh and Dyer, 2015).

    A stack of `num_layers` LSTM layers run together at each step, in which
    the memory cell of layer `l >= 1` also receives a gated copy of the
    memory cell of the layer below at the same step, through a depth gate
    `d`. The input of layer `l >= 1` is the new output of layer `l - 1`;
    layer 0 is a peephole LSTM on the cell's inputs.

    ```
    x^l_t = h^{l-1}_t  (l >= 1; x^0_t = x_t)
    z     = x^l_t @ kernel_l + h^l_{t-1} @ recurrent_kernel_l + bias_l
    i_t   = σ(z_i + p_i ⊙ c^l_{t-1})
    f_t   = σ(z_f + p_f ⊙ c^l_{t-1})                 (coupled: f_t = 1 - i_t)
    d_t   = σ(z_d + w_c ⊙ c^l_{t-1} + w_l ⊙ c^{l-1}_t)           (l >= 1)
    c^l_t = d_t ⊙ c^{l-1}_t + f_t ⊙ c^l_{t-1} + i_t ⊙ tanh(z_c)  (d_t = 0 for l = 0)
    o_t   = σ(z_o + p_o ⊙ c^l_t)
    h^l_t = o_t ⊙ tanh(c^l_t)
    ```

    The depth gate reads the layer's input through a full matrix (block
    `d` of `kernel_l`, with its bias in `bias_l`) and the two memory cells
    element-wise, as the paper writes it; it does not read `h^l_{t-1}`.
    `σ` is `recurrent_activation` and `tanh` is `activation`.

    The states are `[h^0, c^0, h^1, c^1, ...]` and the output is the top
    layer's `h`. Weights of layer `l`: `kernel_l` of shape `(input_dim,
    4 * units)` for layer 0 and `(units, 5 * units)` above (blocks i, f, c,
    o, then d; without the f block when `coupled`), `recurrent_kernel_l`
    `(units, 4 * units)` (3 when `coupled`), `bias_l` the width of
    `kernel_l`, the peephole vectors `input_peephole_l`, `forget_peephole_l`,
    `output_peephole_l` of the enabled gates, and above layer 0 the depth
    gate's vectors `depth_cell_peephole_l` (on `c^l_{t-1}`) and
    `depth_lower_peephole_l` (on `c^{l-1}_t`), all of shape `(units,)`. The
    gates that `keras_gates.inspect` reports are named by layer:
    `input_0`, `forget_0`, `output_0`, `input_1`, ..., `depth_1`, ...

    The authors' code (clab/dynet's `dglstm.cc`) differs from the paper; this
    cell follows the paper, with the code's coupled gates as the option
    `coupled`. See the guide "The Clockwork RNN and the Depth-Gated LSTM".

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
        unit_forget_bias: If True, the forget gates start at σ(1) (the
            forget-gate bias at ones, or with `coupled` the input-gate bias at
            minus ones). Defaults to `True`.
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
        num_layers: Positive integer, the number of stacked LSTM layers.
            Defaults to `2`.
        peepholes: The gates that get a peephole, from `"input"`, `"forget"` and
            `"output"`; a name, a list, None, or `"auto"`, every gate the
            variant has. Defaults to `"auto"`.
        coupled: If True, each layer's forget gate is `1 - input gate` (the
            CIFG, as the authors' code has it). Defaults to `False`.
        peephole_initializer: Initializer of the peephole vectors and of the
            depth gate's weights on the memory cells. Defaults to `"zeros"`.
        peephole_regularizer: Regularizer of those vectors. Defaults to `None`.
        peephole_constraint: Constraint on those vectors. Defaults to `None`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Examples:
        >>> import numpy as np, keras_gates
        >>> cell = keras_gates.DepthGatedLSTMCell(4, num_layers=3)
        >>> cell.state_size, cell.output_state
        ([4, 4, 4, 4, 4, 4], 4)

    Reference:
        K. Yao, T. Cohn, K. Vylomova, K. Duh and C. Dyer, "Depth-Gated LSTM",
        2015 (arXiv:1508.03790).
    """

    state_names = ("h", "c")  # per layer; see `state_name`
    protocol_tested = True
    CHRONO_LAYOUT = None

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
        num_layers=2,
        peepholes="auto",
        coupled: Flag = False,
        peephole_initializer: Initializer = "zeros",
        peephole_regularizer: Regularizer = None,
        peephole_constraint: Constraint = None,
        **kwargs,
    ):
        super().__init__(**arguments(locals()))
        layers = self.num_layers
        integer = isinstance(layers, (int, np.integer)) and not isinstance(layers, bool)
        if not integer or layers < 1:
            raise ValueError(
                "Argument `num_layers` must be a positive integer, the number "
                f"of stacked LSTM layers. Received: num_layers={layers!r}"
            )
        self.num_layers = layers = int(layers)
        self.coupled = v.check_bool(self.coupled, "coupled")
        allowed = ("input", "output") if self.coupled else ALL_GATES
        peepholes = self.peepholes
        if isinstance(peepholes, str) and peepholes == "auto":
            peepholes = allowed  # every gate the variant has
        self.peepholes = v.check_peepholes(
            peepholes,
            allowed,
            type(self).__name__,
            ABSENT_WHEN_COUPLED if self.coupled else {},
        )
        self.blocks = ("i", "c", "o") if self.coupled else ("i", "f", "c", "o")
        gates = ("input", "output") if self.coupled else ALL_GATES
        self.GATES = tuple(
            f"{gate}_{layer}"
            for layer in range(layers)
            for gate in (gates if layer == 0 else (*gates, "depth"))
        )
        self.state_names = tuple(
            f"{name}_{layer}" for layer in range(layers) for name in ("h", "c")
        )
        self.state_size = [self.units] * (2 * layers)
        self.output_size = self.units
        self.output_state = 2 * layers - 2

    def build(self, input_shape):
        units, blocks = self.units, len(self.blocks)
        self.layer_weights = []
        for layer in range(self.num_layers):
            rows = input_shape[-1] if layer == 0 else units
            width = blocks + (layer > 0)  # the depth gate's block
            weights = {
                "kernel": self.add_weight_from(
                    f"kernel_{layer}", (rows, width * units), "kernel"
                ),
                "recurrent_kernel": self.add_weight_from(
                    f"recurrent_kernel_{layer}", (units, blocks * units), "recurrent"
                ),
                "bias": self._add_layer_bias(layer, width) if self.use_bias else None,
            }
            for gate in ALL_GATES:
                weights[gate] = None
            for gate in self.peepholes:
                weights[gate] = self.add_weight_from(
                    f"{gate}_peephole_{layer}", (units,), "peephole"
                )
            if layer > 0:
                for name in ("depth_cell", "depth_lower"):
                    weights[name] = self.add_weight_from(
                        f"{name}_peephole_{layer}", (units,), "peephole"
                    )
            self.layer_weights.append(weights)

    def _add_layer_bias(self, layer, width):
        units, base = self.units, self.bias_initializer
        # unit_forget_bias: the forget gate starts at σ(1); coupled, the
        # input gate at σ(-1), so that f = 1 - i starts at σ(1).
        block, value = (0, -1.0) if self.coupled else (1, 1.0)

        def initializer(shape, dtype=None):
            bias = base(shape, dtype=dtype)
            if not self.unit_forget_bias:
                return bias
            parts = ops.split(bias, width)
            parts[block] = ops.full((units,), value, dtype=dtype)
            return ops.concatenate(parts)

        return self.add_weight(
            shape=(width * units,),
            name=f"bias_{layer}",
            initializer=initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )

    @property
    def input_dim(self):
        return self.layer_weights[0]["kernel"].shape[0]

    def _input_product(self, weights, inputs):
        z = ops.matmul(inputs, weights["kernel"])
        return z if weights["bias"] is None else z + weights["bias"]

    def input_side(self, inputs, constants=()):
        return self._input_product(self.layer_weights[0], inputs)

    def recurrent_step(self, z_x, states, constants=(), recurrent_mask=None):
        new_states, gates = [], {}
        lower_c = None
        for layer, weights in enumerate(self.layer_weights):
            h_tm1, c_tm1 = states[2 * layer], states[2 * layer + 1]
            if layer > 0:
                z_x = self._input_product(weights, new_states[-2])
            h_in = masked(h_tm1, recurrent_mask)
            z_h = ops.matmul(h_in, weights["recurrent_kernel"])
            if layer > 0:  # the depth gate's block has no recurrent part
                z_x, z_d = z_x[..., : z_h.shape[-1]], z_x[..., z_h.shape[-1] :]
            z = ops.split(z_x + z_h, len(self.blocks), axis=-1)
            parts = dict(zip(self.blocks, z, strict=True))
            act = self.recurrent_activation
            i = act(peep(parts["i"], weights["input"], c_tm1))
            if self.coupled:
                f = 1.0 - i
            else:
                f = act(peep(parts["f"], weights["forget"], c_tm1))
            c = f * c_tm1 + i * self.activation(parts["c"])
            if layer > 0:
                d = act(
                    z_d
                    + weights["depth_cell"] * c_tm1
                    + weights["depth_lower"] * lower_c
                )
                c = c + d * lower_c
                gates[f"depth_{layer}"] = d
            o = act(peep(parts["o"], weights["output"], c))
            h = o * self.activation(c)
            gates[f"input_{layer}"] = i
            if not self.coupled:
                gates[f"forget_{layer}"] = f
            gates[f"output_{layer}"] = o
            new_states += [h, c]
            lower_c = c
        return new_states[-2], new_states, gates

    def derived_gates(self, gates):
        if not self.coupled:
            return gates
        derived = dict(gates)
        for layer in range(self.num_layers):
            derived[f"forget_{layer}"] = 1.0 - gates[f"input_{layer}"]
        return derived

    def get_config(self):
        return {**super().get_config(), "peepholes": list(self.peepholes)}
