from keras import ops

from keras_gates._arguments import Activation
from keras_gates._arguments import Clip
from keras_gates._arguments import Constraint
from keras_gates._arguments import Epsilon
from keras_gates._arguments import Flag
from keras_gates._arguments import Initializer
from keras_gates._arguments import OptionalActivation
from keras_gates._arguments import OptionalUnits
from keras_gates._arguments import Rate
from keras_gates._arguments import Regularizer
from keras_gates._arguments import Seed
from keras_gates._arguments import Timescale
from keras_gates._arguments import Units
from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells import lstm_family
from keras_gates.cells.recurrent_cell import RecurrentCell

ALL_GATES = ("input", "forget", "output")


@keras_gates_export
class PeepholeLSTMCell(RecurrentCell):
    """Cell of the LSTM with peephole connections (Gers & Schmidhuber, 2000).

    The gates also look at the cell state: the input and forget gates at the
    previous one, the output gate at the new one. With every peephole vector
    at zero this cell computes exactly what `keras.layers.LSTMCell` computes
    with the same `kernel`, `recurrent_kernel` and `bias`, so weights of a
    trained Keras LSTM can be loaded to warm-start it.

    ```
    z   = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias    # blocks i, f, c, o
    i_t = σ(z_i + p_i ⊙ c_{t-1})
    f_t = σ(z_f + p_f ⊙ c_{t-1})
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ tanh(z_c)        # then clipped to ±cell_clip
    o_t = σ(z_o + p_o ⊙ c_t)
    h_t = o_t ⊙ tanh(c_t)
    ```

    Greff et al.'s variants (2017) are options, one change each from the
    LSTM above: `input_gate=False` (NIG, `i_t = 1`), `forget_gate=False`
    (NFG, `f_t = 1`), `output_gate=False` (NOG, `o_t = 1`),
    `input_activation="linear"` (NIAF: `c_t = f_t ⊙ c_{t-1} + i_t ⊙ z_c`),
    `output_activation="linear"` (NOAF: `h_t = o_t ⊙ c_t`), `peepholes=None`
    (NP) and `full_gate_recurrence=True` (FGR: `z_g += [i_{t-1}, f_{t-1},
    o_{t-1}] @ gate_recurrent_kernel` for each gate g, the previous gates
    carried as a third state `gates`, zeros at the start). CIFG is
    `keras_gates.CoupledLSTM`. An absent gate has no block in the fused
    weights (blocks i, f, c, o without it) and no peephole.

    Two options of TF1's `LSTMCell` and tensorflow-addons:

    - `projection_units=P` (LSTMP, Sak et al., 2014; TF1's `num_proj`):
      `h_t = (o_t ⊙ tanh(c_t)) @ projection_kernel`, clipped to
      `±projection_clip`; `h` (the output and the state fed back) has size
      P, `recurrent_kernel` shape `(P, 4 * units)`.
    - `layer_norm=True` (Ba et al., 2016; exactly tensorflow-addons'
      `LayerNormLSTMCell`): `z = LN(x_t @ kernel) + LN(h_{t-1} @
      recurrent_kernel) + bias`, each LN over the fused 4·units product,
      and `c_t` is normalized after its update (and before the clip and the
      output gate), the normalized state being the one carried.

    `σ` is `recurrent_activation` and `tanh` is `activation`. The states are
    `[h_t, c_t]` and the output is `h_t`. Weights: `kernel` of shape
    `(input_dim, 4 * units)`, `recurrent_kernel` `(units, 4 * units)`, `bias`
    `(4 * units,)`, gate blocks in Keras' order i, f, c, o; and one vector of
    shape `(units,)` per enabled peephole, named `input_peephole`,
    `forget_peephole`, `output_peephole` (None for a gate without one);
    `projection_kernel` `(units, projection_units)` with a projection; and
    with `full_gate_recurrence`, `gate_recurrent_kernel` of shape
    `(n * units, n * units)` for the n gates it has (rows: the previous
    gates, columns: the gates, each in the order i, f, o; initialized,
    regularized and constrained as `recurrent_kernel`);
    with `layer_norm`, `kernel_norm_gamma`/`_beta` and
    `recurrent_norm_gamma`/`_beta` of shape `(4 * units,)`,
    `state_norm_gamma`/`_beta` of shape `(units,)`.

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
        unit_forget_bias: If True, the forget-gate bias starts at ones. Defaults
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
        peepholes: The gates that get a peephole, from `"input"`, `"forget"` and
            `"output"`; a name, a list, or None (Greff's NP variant). Defaults
            to all three (every gate the cell has).
        input_gate: If False, there is no input gate: `i_t = 1` (Greff's NIG
            variant). Defaults to `True`.
        forget_gate: If False, there is no forget gate: `f_t = 1` (NFG).
            Defaults to `True`.
        output_gate: If False, there is no output gate: `o_t = 1` (NOG).
            Defaults to `True`.
        input_activation: The activation of the block input, `g` in `c_t = f_t ⊙
            c_{t-1} + i_t ⊙ g(z_c)`; `"linear"` is Greff's NIAF variant.
            Defaults to `None`: `activation`.
        output_activation: The activation of the cell output, `h` in `h_t = o_t
            ⊙ h(c_t)`; `"linear"` is Greff's NOAF variant. Defaults to `None`:
            `activation`.
        full_gate_recurrence: If True, the previous step's gate activations feed
            every gate through `gate_recurrent_kernel` (Greff's FGR variant);
            they are carried as a third state. Defaults to `False`.
        chrono_init: None, or an integer T of at least 3: chrono initialization
            (Tallec & Ollivier, 2018) of the bias of the gate that keeps the
            memory, for dependencies of up to about T steps; the other blocks
            keep `bias_initializer`. Defaults to `None`.
        peephole_initializer: Initializer of the peephole vectors. Defaults to
            `"zeros"` (a fresh layer starts as a plain LSTM).
        peephole_regularizer: Regularizer of the peephole vectors. Defaults to
            `None`.
        peephole_constraint: Constraint on the peephole vectors. Defaults to
            `None`.
        cell_clip: If set, a positive float: the cell state is clipped to
            `[-cell_clip, cell_clip]` after each update. Defaults to `None`.
        projection_units: None, or a positive integer P: the output projection
            of LSTMP (Sak et al., 2014; TF1's `num_proj`), `h_t = (o_t ⊙
            tanh(c_t)) @ projection_kernel`; the output and the state `h` then
            have P features. Defaults to `None`.
        projection_clip: If set, a positive float: the projected output is
            clipped to `[-projection_clip, projection_clip]` (TF1's
            `proj_clip`). Needs `projection_units`. Defaults to `None`.
        projection_initializer: Initializer of `projection_kernel`. Defaults to
            `"glorot_uniform"`.
        projection_regularizer: Regularizer of `projection_kernel`. Defaults to
            `None`.
        projection_constraint: Constraint on `projection_kernel`. Defaults to
            `None`.
        layer_norm: Whether to apply layer normalization as tensorflow-addons'
            `LayerNormLSTMCell`: to the fused input product, to the fused
            recurrent product and to the new cell state (which is carried
            normalized). Defaults to `False`.
        norm_gamma_initializer: Initializer of the normalizations' scale
            `norm_gamma`. Defaults to `"ones"`.
        norm_beta_initializer: Initializer of the normalizations' offset
            `norm_beta`. Defaults to `"zeros"`.
        norm_epsilon: The normalizations' epsilon. Defaults to `1e-3`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Examples:
        >>> import numpy as np, keras, keras_gates
        >>> cell = keras_gates.PeepholeLSTMCell(4, peepholes="forget")
        >>> _ = keras.layers.RNN(cell)(np.zeros((2, 3, 5), "float32"))
        >>> tuple(cell.forget_peephole.shape), cell.input_peephole
        ((4,), None)

    References:
        F. A. Gers and J. Schmidhuber, "Recurrent nets that time and count",
        IJCNN 2000. H. Sak, A. Senior and F. Beaufays, "Long Short-Term
        Memory Recurrent Neural Network Architectures for Large Scale
        Acoustic Modeling", Interspeech 2014. K. Greff, R. K. Srivastava,
        J. Koutník, B. R. Steunebrink and J. Schmidhuber, "LSTM: A Search
        Space Odyssey", IEEE TNNLS 2017 (arXiv:1503.04069). J. L. Ba, J. R. Kiros and G. E.
        Hinton, "Layer Normalization", 2016 (arXiv:1607.06450).
    """

    GATES = ("input", "forget", "output")
    state_names = ("h", "c")
    output_state = 0
    CHRONO_LAYOUT = "lstm"
    protocol_tested = True
    coupled = False

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
        peepholes=ALL_GATES,
        input_gate: Flag = True,
        forget_gate: Flag = True,
        output_gate: Flag = True,
        input_activation: OptionalActivation = None,
        output_activation: OptionalActivation = None,
        full_gate_recurrence: Flag = False,
        chrono_init: Timescale = None,
        peephole_initializer: Initializer = "zeros",
        peephole_regularizer: Regularizer = None,
        peephole_constraint: Constraint = None,
        cell_clip: Clip = None,
        projection_units: OptionalUnits = None,
        projection_clip: Clip = None,
        projection_initializer: Initializer = "glorot_uniform",
        projection_regularizer: Regularizer = None,
        projection_constraint: Constraint = None,
        layer_norm: Flag = False,
        norm_gamma_initializer: Initializer = "ones",
        norm_beta_initializer: Initializer = "zeros",
        norm_epsilon: Epsilon = 0.001,
        **kwargs,
    ):
        given = arguments(locals())
        # Left at its default (this very tuple), `peepholes` means every
        # gate the cell has; a list that names an absent gate is refused.
        default_peepholes = peepholes is ALL_GATES
        super().__init__(**given)
        present = tuple(gate for gate in ALL_GATES if getattr(self, f"{gate}_gate"))
        absent = {
            gate: f"`{gate}_gate=False` removes that gate."
            for gate in ALL_GATES
            if gate not in present
        }
        if default_peepholes:
            self.peepholes = present
        for gate in ALL_GATES:
            setattr(self, f"{gate}_peephole", None)
        lstm_family.setup(self, present, absent)
        self.GATES = present
        # The fused blocks, in Keras' order i, f, c, o without the absent gates.
        self.blocks = tuple(
            b
            for b in ("input", "forget", "cell", "output")
            if b == "cell" or b in present
        )
        if self.chrono_init is not None:
            if absent.keys() & {"input", "forget"}:
                raise ValueError(
                    "Argument `chrono_init` sets the input and forget gates' "
                    "biases from one timescale per unit; a cell without one of "
                    "them has no such pair. Received: chrono_init="
                    f"{self.chrono_init}, input_gate={self.input_gate}, "
                    f"forget_gate={self.forget_gate}"
                )
            if not self.output_gate:
                self.CHRONO_LAYOUT = "lstm_no_output_gate"
        if self.full_gate_recurrence:
            if not present:
                raise ValueError(
                    "Argument `full_gate_recurrence` feeds the previous step's "
                    "gates to the gates, and this cell has none (input_gate, "
                    "forget_gate and output_gate are all False)."
                )
            self.state_names = ("h", "c", "gates")
            self.state_size = [*self.state_size, len(present) * self.units]
        self.gate_recurrent_kernel = None

    def build(self, input_shape):
        blocks = self.blocks
        forget = (blocks.index("forget"), 1.0) if "forget" in blocks else None
        lstm_family.build(self, input_shape[-1], len(blocks), forget_bias_init=forget)
        if self.full_gate_recurrence:
            width = len(self.GATES) * self.units
            self.gate_recurrent_kernel = self.add_weight_from(
                "gate_recurrent_kernel", (width, width), "recurrent"
            )

    def input_side(self, inputs, constants=()):
        return lstm_family.input_product(self, inputs)

    def recurrent_step(self, z_x, states, constants=(), recurrent_mask=None):
        h_tm1, c_tm1 = states[0], states[1]
        z = z_x + lstm_family.recurrent_product(self, h_tm1, recurrent_mask)
        z = dict(zip(self.blocks, ops.split(z, len(self.blocks), axis=-1), strict=True))
        if self.gate_recurrent_kernel is not None:
            # FGR: every gate also sees every gate of the previous step.
            z_g = ops.matmul(states[2], self.gate_recurrent_kernel)
            for gate, part in zip(
                self.GATES, ops.split(z_g, len(self.GATES), axis=-1), strict=True
            ):
                z[gate] = z[gate] + part
        peep = lstm_family.peep
        gates = {}
        for gate in ("input", "forget"):
            if gate in z:
                peephole = getattr(self, f"{gate}_peephole")
                gates[gate] = self.recurrent_activation(peep(z[gate], peephole, c_tm1))
        block_input = self.input_squash(z["cell"])
        c = c_tm1 * gates["forget"] if "forget" in gates else c_tm1
        c = c + (gates["input"] * block_input if "input" in gates else block_input)
        c = lstm_family.carried_state(self, c)
        o, h = lstm_family.output(self, z.get("output"), c)
        if o is not None:
            gates["output"] = o
        new_states = [h, c]
        if self.gate_recurrent_kernel is not None:
            new_states.append(ops.concatenate([gates[g] for g in self.GATES], axis=-1))
        return h, new_states, gates

    def lstm_form(self):
        """What the cell computes, for the runners that take an LSTM (see
        `keras_gates.cells.lstm_family.LSTMForm`)."""
        return lstm_family.form(self)
