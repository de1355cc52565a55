"""What the two LSTM variants share, as plain functions: their `[h, c]`
state, their weights (fused kernels, peephole vectors, the LSTMP projection,
layer normalization) and the parts of their step around the gates (the
fused products, the cell state's normalization and clip, the output gate and
the projection). Each cell's step is written in its own file. Not public.

```
z   = LN_k(x_t @ kernel) + LN_r(h_{t-1} @ recurrent_kernel) + bias
c_t = clip(LN_c(c'_t), cell_clip)          # c'_t: the cell's own update
o_t = σ(z_o + p_o ⊙ c_t)
h_t = clip((o_t ⊙ tanh(c_t)) @ projection_kernel, projection_clip)
```
"""

from keras import ops

from keras_gates import _validation as v
from keras_gates.cells.normalization import add_norm
from keras_gates.cells.normalization import normalize


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
