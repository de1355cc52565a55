"""What the two LSTM variants share, as plain functions: their `[h, c]`
state, their weights (fused kernels, peephole vectors, the LSTMP projection,
layer normalization), the parts of their step around the gates (the fused
products, the cell state's normalization and clip, the output gate and the
projection), and their description, `LSTMForm`, which the engine's
compiled loops and the fused TFLite export read (`describe`). Each cell's
step is written in its own file. Not public.

```
z   = LN_k(x_t @ kernel) + LN_r(h_{t-1} @ recurrent_kernel) + bias
c_t = clip(LN_c(c'_t), cell_clip)          # c'_t: the cell's own update
o_t = σ(z_o + p_o ⊙ c_t)
h_t = clip((o_t ⊙ tanh(c_t)) @ projection_kernel, projection_clip)
```
"""

import dataclasses

import keras
from keras import activations
from keras import ops
from keras.backend import standardize_dtype

from keras_gates import _validation as v
from keras_gates.cells.normalization import add_norm
from keras_gates.cells.normalization import normalize
from keras_gates.cells.vouching import vouched_for


def setup(cell, peephole_gates, absent_gates=None):
    """Checks the options that depend on each other and declares the states,
    after `GatedCell.__init__` has checked and set each argument."""
    cell.peepholes = v.check_peepholes(
        cell.peepholes, peephole_gates, type(cell).__name__, absent_gates or {}
    )
    if cell.projection_clip is not None and cell.projection_units is None:
        raise ValueError(
            "Argument `projection_clip` clips the output projection, which "
            "needs `projection_units`. Received: projection_units=None, "
            f"projection_clip={cell.projection_clip}"
        )
    for gate in peephole_gates:
        setattr(cell, f"{gate}_peephole", None)
    cell.projection_kernel = None
    cell.kernel_norm = cell.recurrent_norm = cell.state_norm = None
    # The block input's and the cell output's activations (Greff's g and h):
    # `activation` unless the cell has its own argument for one of them.
    cell.input_squash = getattr(cell, "input_activation", None) or cell.activation
    cell.output_squash = getattr(cell, "output_activation", None) or cell.activation
    output_size = cell.projection_units or cell.units
    cell.state_size = [output_size, cell.units]
    cell.output_size = output_size


def build(cell, input_dim, blocks, forget_bias_init):
    """The weights; `forget_bias_init = (block, value)` is the bias block and
    start value that make the initial forget gate σ(1) under
    `unit_forget_bias`, or None for a cell without a forget gate."""
    cell.kernel = cell.add_kernel(input_dim, blocks)
    cell.recurrent_kernel = cell.add_recurrent_kernel(
        (cell.output_size, blocks * cell.units)
    )
    if cell.unit_forget_bias and forget_bias_init is not None:
        block, value = forget_bias_init
        cell.bias = cell.add_bias(blocks, constant_block=block, constant=value)
    else:
        cell.bias = cell.add_bias(blocks)
    for gate in cell.peepholes:
        weight = cell.add_weight_from(f"{gate}_peephole", (cell.units,), "peephole")
        setattr(cell, f"{gate}_peephole", weight)
    if cell.projection_units is not None:
        shape = (cell.units, cell.projection_units)
        cell.projection_kernel = cell.add_weight_from(
            "projection_kernel", shape, "projection"
        )
    if cell.layer_norm:
        cell.kernel_norm = add_norm(cell, "kernel_norm", blocks * cell.units)
        cell.recurrent_norm = add_norm(cell, "recurrent_norm", blocks * cell.units)
        cell.state_norm = add_norm(cell, "state_norm", cell.units)


def input_product(cell, inputs):
    """`LN_k(x @ kernel) + bias`, for one step or a whole sequence."""
    z_x = ops.matmul(inputs, cell.kernel)
    if cell.layer_norm:
        z_x = normalize(cell, z_x, cell.kernel_norm)
    return z_x + cell.bias if cell.use_bias else z_x


def recurrent_product(cell, h_tm1, recurrent_mask):
    """`LN_r(h_{t-1} @ recurrent_kernel)`, `h_{t-1}` dropped by the mask."""
    if recurrent_mask is not None:
        h_tm1 = h_tm1 * recurrent_mask
    z_h = ops.matmul(h_tm1, cell.recurrent_kernel)
    return normalize(cell, z_h, cell.recurrent_norm) if cell.layer_norm else z_h


def peep(pre_activation, peephole, c):
    """`pre_activation + peephole ⊙ c`, or `pre_activation` without one."""
    return pre_activation if peephole is None else pre_activation + peephole * c


def carried_state(cell, c):
    """The new cell state as carried: normalized, then clipped."""
    if cell.layer_norm:
        c = normalize(cell, c, cell.state_norm)
    if cell.cell_clip is not None:
        c = ops.clip(c, -cell.cell_clip, cell.cell_clip)
    return c


def output(cell, z_o, c):
    """`(o_t, h_t)`: the output gate (peeping at the new state) and the
    output, projected and clipped with a projection. Without an output gate
    (`z_o` None), `o_t` is None and `h_t` the activated state."""
    if z_o is None:
        o, h = None, cell.output_squash(c)
    else:
        o = cell.recurrent_activation(peep(z_o, cell.output_peephole, c))
        h = o * cell.output_squash(c)
    if cell.projection_kernel is not None:
        h = ops.matmul(h, cell.projection_kernel)
        if cell.projection_clip is not None:
            h = ops.clip(h, -cell.projection_clip, cell.projection_clip)
    return o, h


# ------------------------------------------------------------ the description


@dataclasses.dataclass(frozen=True)
class LSTMForm:
    """What an LSTM cell computes, in the terms of the code that runs it
    another way (the engine's compiled training loops, TFLite's fused LSTM
    op): the one home of these facts, which each such runner reads to say
    whether it computes the same function.

    `blocks` is the order of the gate blocks in `kernel`, `recurrent_kernel`
    and `bias`, from `"input"`, `"forget"`, `"cell"` and `"output"`;
    `coupled` says that the forget gate is `1 - input` (CIFG), with no block
    of its own; `peepholes` maps each gate that peeps to its vector.
    Activations are their serialized names; the weights are None until the
    cell is built.
    """

    blocks: tuple
    coupled: bool
    peepholes: dict
    gate_activation: str
    input_activation: str
    output_activation: str
    kernel: object
    recurrent_kernel: object
    bias: object  # None without a bias
    units: int
    dtype: str
    projection_units: int = None  # of the LSTMP projection, if any
    projection: object = None  # its kernel
    projection_clip: float = None
    cell_clip: float = None
    layer_norm: bool = False
    full_gate_recurrence: bool = False
    recurrent_dropout: float = 0.0

    @property
    def gates(self):
        """The gates with a block of their own."""
        return tuple(b for b in self.blocks if b != "cell")

    def absent_gates(self):
        """The gates held at 1 (no block, and not derived by coupling)."""
        derived = ("forget",) if self.coupled else ()
        return [
            g for g in ("input", "forget", "output") if g not in (*self.gates, *derived)
        ]


def form(cell):
    """The `LSTMForm` of a peephole LSTM or CIFG cell of this package."""
    name = activations.serialize
    return LSTMForm(
        blocks=cell.blocks,
        coupled=cell.coupled,
        peepholes={gate: getattr(cell, f"{gate}_peephole") for gate in cell.peepholes},
        gate_activation=name(cell.recurrent_activation),
        input_activation=name(cell.input_squash),
        output_activation=name(cell.output_squash),
        # None until the cell is built.
        kernel=getattr(cell, "kernel", None),
        recurrent_kernel=getattr(cell, "recurrent_kernel", None),
        bias=getattr(cell, "bias", None) if cell.use_bias else None,
        units=cell.units,
        dtype=standardize_dtype(cell.compute_dtype),
        projection_units=cell.projection_units,
        projection=cell.projection_kernel,
        projection_clip=cell.projection_clip,
        cell_clip=cell.cell_clip,
        layer_norm=cell.layer_norm,
        full_gate_recurrence=getattr(cell, "full_gate_recurrence", False),
        recurrent_dropout=cell.recurrent_dropout,
    )


def _keras_form(cell):
    """The `LSTMForm` of `keras.layers.LSTMCell`: blocks i, f, c, o, no
    peepholes, its `activation` on both the block input and the output."""
    name = activations.serialize
    return LSTMForm(
        blocks=("input", "forget", "cell", "output"),
        coupled=False,
        peepholes={},
        gate_activation=name(cell.recurrent_activation),
        input_activation=name(cell.activation),
        output_activation=name(cell.activation),
        kernel=getattr(cell, "kernel", None),
        recurrent_kernel=getattr(cell, "recurrent_kernel", None),
        bias=getattr(cell, "bias", None) if cell.use_bias else None,
        units=cell.units,
        dtype=standardize_dtype(cell.compute_dtype),
        recurrent_dropout=cell.recurrent_dropout,
    )


def describe(cell):
    """The `LSTMForm` of `cell`, or None when it is not an LSTM that the
    other runners may take for one: a cell whose `lstm_form()` was written
    for its own step (a subclass that changes the step but not its
    description is not taken at its word), or Keras' own `LSTMCell`."""
    if type(cell) is keras.layers.LSTMCell:
        return _keras_form(cell)
    if getattr(cell, "lstm_form", None) is None:
        return None
    if not vouched_for(cell, "lstm_form"):
        return None
    return cell.lstm_form()
