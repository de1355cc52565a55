"""Look inside recurrent layers: the value of every gate at every step.

```python
from keras_gates import inspect

gates = inspect.gate_activations(layer, x, mask=mask)   # {"forget": (batch, time, units), ...}
gates = inspect.gate_activations("peephole_lstm", tokens, model=model)  # model's input
print(inspect.gate_table(gates, tokens=words))            # token, mean of each gate
inspect.plot_gates(gates, tokens=words, path="gates.png")  # heatmaps
```

The gates are those of each cell's equations (see the cell docstrings):

| layer | gates |
|---|---|
| `PeepholeLSTM`, `keras.layers.LSTM` | `input`, `forget`, `output` |
| `CoupledLSTM` | `input`, `forget` (= 1 - input), `output` |
| `MinimalGRU` | `forget` (the share of the new candidate) |
| `SRU` | `forget`, `reset` |
| `MinGRU` | `update` (z, the share of the new candidate) |
| `keras.layers.GRU` | `update` (z, the share of the OLD state), `reset` |

The same for a keras-gates cell (or Keras' `LSTMCell`/`GRUCell`) inside
`keras.layers.RNN`; `keras.layers.Bidirectional` gives `forward_*` and
`backward_*` keys, both on the input's time axis.

The values are computed by the cell's own step (the same gate math that the
layer's call runs), in a separate loop over time, so the layer's call costs
nothing more for it. Masked steps, where no gate was applied, are NaN.
"""

import keras
import numpy as np
from keras import ops

from keras_gates.cells.base_cell import GatedCell


def _lstm_cell_step(cell):
    """The step of a `keras.layers.LSTMCell`, from its public weights."""

    def step(x, states):
        h, c = states
        z = ops.matmul(x, cell.kernel) + ops.matmul(h, cell.recurrent_kernel)
        if cell.use_bias:
            z = z + cell.bias
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = cell.recurrent_activation(z_i)
        f = cell.recurrent_activation(z_f)
        c = f * c + i * cell.activation(z_c)
        o = cell.recurrent_activation(z_o)
        h = o * cell.activation(c)
        return h, [h, c], {"input": i, "forget": f, "output": o}

    return step


def _gru_cell_step(cell):
    """The step of a `keras.layers.GRUCell` (either `reset_after`), from its
    public weights: `h = z ⊙ h_{t-1} + (1 - z) ⊙ h~`."""

    def step(x, states):
        (h,) = states
        x_z, x_r, x_h = ops.split(ops.matmul(x, cell.kernel), 3, axis=-1)
        if cell.use_bias:
            bias = cell.bias if cell.reset_after else [cell.bias, None]
            input_bias, recurrent_bias = bias[0], bias[1]
            x_z, x_r, x_h = (
                x_z + input_bias[: cell.units],
                x_r + input_bias[cell.units : 2 * cell.units],
                x_h + input_bias[2 * cell.units :],
            )
        k_zr, k_h = (
            cell.recurrent_kernel[:, : 2 * cell.units],
            cell.recurrent_kernel[:, 2 * cell.units :],
        )
        h_zr = ops.matmul(h, k_zr)
        if cell.use_bias and cell.reset_after:
            h_zr = h_zr + recurrent_bias[: 2 * cell.units]
        h_z, h_r = ops.split(h_zr, 2, axis=-1)
        z = cell.recurrent_activation(x_z + h_z)
        r = cell.recurrent_activation(x_r + h_r)
        if cell.reset_after:
            h_h = ops.matmul(h, k_h)
            if cell.use_bias:
                h_h = h_h + recurrent_bias[2 * cell.units :]
            candidate = cell.activation(x_h + r * h_h)
        else:
            candidate = cell.activation(x_h + ops.matmul(r * h, k_h))
        h = z * h + (1.0 - z) * candidate
        return h, [h], {"update": z, "reset": r}

    return step


def _cell_step(cell, name):
    """`step(x_t, states) -> (output, new_states, gates)` for `cell`."""
    if isinstance(cell, GatedCell):
        constants = cell.step_constants()  # once per sequence, as the layers do

        def step(x, states):
            output, new_states, gates = cell.step_with_gates(x, states, constants)
            return output, new_states, cell.derived_gates(gates)

        return step
    if isinstance(cell, keras.layers.LSTMCell):
        return _lstm_cell_step(cell)
    if isinstance(cell, keras.layers.GRUCell):
        return _gru_cell_step(cell)
    raise ValueError(
        f"Layer '{name}' has a {type(cell).__name__}, whose gates this module "
        "does not know: it reads the keras-gates cells and Keras' LSTMCell "
        "and GRUCell (a SimpleRNN has no gate)."
    )


def _initial_states(layer, batch_size, initial_state):
    if initial_state is not None:
        states = (
            initial_state
            if isinstance(initial_state, (list, tuple))
            else [initial_state]
        )
        return [ops.convert_to_tensor(s, layer.cell.compute_dtype) for s in states]
    if layer.stateful and layer.states is not None:
        return [ops.convert_to_tensor(s) for s in layer.states]
    sizes = layer.cell.state_size
    sizes = sizes if isinstance(sizes, (list, tuple)) else [sizes]
    return [ops.zeros((batch_size, size), layer.cell.compute_dtype) for size in sizes]


def _run(layer, inputs, mask, initial_state):
    """The gates of one recurrent layer, `(batch, time, units)` each, on the
    input's time axis (also for `go_backwards`), NaN at masked steps."""
    step = _cell_step(layer.cell, layer.name)
    inputs = ops.convert_to_tensor(inputs, layer.cell.compute_dtype)
    batch_size, steps = inputs.shape[0], inputs.shape[1]
    states = _initial_states(layer, batch_size, initial_state)
    valid = None if mask is None else np.asarray(mask, bool).reshape(batch_size, steps)
    order = range(steps - 1, -1, -1) if layer.go_backwards else range(steps)
    recorded = {}
    for t in order:
        _, new_states, gates = step(inputs[:, t], states)
        if valid is not None:
            keep = ops.convert_to_tensor(valid[:, t : t + 1])
            new_states = [
                ops.where(keep, n, s) for n, s in zip(new_states, states, strict=True)
            ]
        states = new_states
        for name, gate in gates.items():
            values = ops.convert_to_numpy(gate).astype(np.float32)
            if valid is not None:
                values = np.where(valid[:, t : t + 1], values, np.nan)
            recorded.setdefault(
                name, np.empty((batch_size, steps, values.shape[-1]), np.float32)
            )
            recorded[name][:, t] = values
    return recorded


def _layer_inputs(model, layer, inputs):
    """The inputs, and the propagated mask, that `layer` sees when `model`
    runs on `inputs`."""
    if not isinstance(model, keras.Model):
        raise TypeError(
            "With `layer=`, the first argument is the model that holds the "
            f"layer. Received: {type(model).__name__}"
        )
    target = model.get_layer(layer) if isinstance(layer, str) else layer
    up_to = keras.Model(
        model.inputs if len(model.inputs) > 1 else model.inputs[0], target.input
    )
    seen = up_to(inputs, training=False)
    if isinstance(seen, (list, tuple)):  # the node's input and its mask
        seen, mask = seen[0], seen[1]
    else:
        mask = None
    return target, seen, None if mask is None else ops.convert_to_numpy(mask)


def gate_activations(layer, inputs, *, mask=None, initial_state=None, model=None):
    """The value of every gate of a recurrent layer at every step.

    Args:
        layer: A built recurrent layer: a keras-gates layer, a
            `keras.layers.RNN` over a keras-gates cell or Keras' `LSTMCell` /
            `GRUCell`, Keras' `LSTM` / `GRU`, or a `Bidirectional` of one.
            With `model`, the layer's name in it, or the layer itself.
        inputs: The layer's input `(batch, time, features)`; with `model`,
            the model's input, run up to the layer.
        mask: Optional boolean `(batch, time)`: False marks a step to skip.
            With `model`, the mask that the model propagates to the layer
            (e.g. from `Embedding(mask_zero=True)`) is used when not given.
        initial_state: Optional initial states, as for the layer's call.
            Defaults to zeros (a stateful layer's stored states).
        model: A Keras model that holds `layer`.

    Returns:
        A dict of gate name to a float32 NumPy array `(batch, time, units)`
        (keys prefixed `forward_` / `backward_` for `Bidirectional`), NaN
        at masked steps.
    """
    if model is not None:
        layer, inputs, propagated = _layer_inputs(model, layer, inputs)
        mask = propagated if mask is None else mask
    if not getattr(layer, "built", False):
        raise ValueError(
            f"Layer '{getattr(layer, 'name', layer)}' is not built: its gates "
            "have no weights yet."
        )
    if isinstance(layer, keras.layers.Bidirectional):
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = initial_state[:half], initial_state[half:]
        else:
            forward_state = backward_state = None
        gates = {}
        for prefix, direction, state in (
            ("forward_", layer.forward_layer, forward_state),
            ("backward_", layer.backward_layer, backward_state),
        ):
            for name, values in _run(direction, inputs, mask, state).items():
                gates[prefix + name] = values
        return gates
    if not isinstance(layer, keras.layers.RNN):
        raise TypeError(
            "gate_activations reads recurrent layers (keras.layers.RNN and "
            f"Bidirectional). Received: {type(layer).__name__}"
        )
    return _run(layer, inputs, mask, initial_state)


def gate_table(gates, tokens=None, *, sequence=0, steps=None, digits=2):
    """A text table of one sequence: each step's token and the mean, over
    units, of each gate ("-" at masked steps).

    Args:
        gates: The dict of `gate_activations`.
        tokens: The step labels (words); defaults to the step numbers.
        sequence: Which sequence of the batch. Defaults to 0.
        steps: The steps to show, in order (a row "..." marks a gap);
            defaults to all.
        digits: Decimals shown. Defaults to 2.

    Returns:
        The table, as a string.
    """
    names = list(gates)
    length = next(iter(gates.values())).shape[1]
    tokens = [str(t) for t in (range(length) if tokens is None else tokens)]
    steps = list(range(length) if steps is None else steps)
    width = max(len("token"), *(len(tokens[t]) for t in steps))
    widths = [max(len(name), 6) for name in names]
    header = "token".ljust(width) + "".join(
        f"  {name:>{w}}" for name, w in zip(names, widths, strict=True)
    )
    lines = [header, "-" * len(header)]
    for i, t in enumerate(steps):
        if i and t != steps[i - 1] + 1:
            lines.append("...")
        means = [_mean(gates[name][sequence, t]) for name in names]
        cells = "".join(
            f"  {'-' if np.isnan(m) else f'{m:.{digits}f}':>{w}}"
            for m, w in zip(means, widths, strict=True)
        )
        lines.append(tokens[t].ljust(width) + cells)
    return "\n".join(lines)


def _mean(values):
    """The mean over units, NaN for a masked step (all NaN)."""
    return float("nan") if np.isnan(values).all() else float(np.mean(values))


def plot_gates(gates, tokens=None, *, sequence=0, path=None, title=None):
    """Heatmaps of one sequence's gates: one panel per gate, units down,
    steps (tokens) across, 0 to 1 from dark to light; masked steps blank.

    Needs matplotlib (`pip install "keras-gates[examples]"`).

    Args:
        gates: The dict of `gate_activations`.
        tokens: The step labels (words); defaults to the step numbers.
        sequence: Which sequence of the batch. Defaults to 0.
        path: If given, the PNG file to write.
        title: The figure's title.

    Returns:
        The matplotlib `Figure`.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError as e:
        raise ImportError(
            'plot_gates needs matplotlib: pip install "keras-gates[examples]"'
        ) from e
    names = list(gates)
    steps = next(iter(gates.values())).shape[1]
    tokens = [str(t) for t in (range(steps) if tokens is None else tokens)]
    units = next(iter(gates.values())).shape[2]
    figure, axes = plt.subplots(
        len(names),
        1,
        figsize=(
            min(max(6.0, 0.45 * steps + 2.0), 16.0),
            1.0 + len(names) * (0.8 + 0.12 * units),
        ),
        squeeze=False,
        constrained_layout=True,
    )
    every = max(1, -(-steps // 40))  # at most about 40 labels across
    for axis, name in zip(axes[:, 0], names, strict=True):
        image = axis.imshow(
            np.ma.masked_invalid(gates[name][sequence].T),
            aspect="auto",
            vmin=0.0,
            vmax=1.0,
            cmap="viridis",
            interpolation="nearest",
        )
        axis.set_ylabel(f"{name}\nunit")
        axis.set_xticks(range(0, steps, every))
        axis.set_xticklabels(tokens[::every], rotation=90, fontsize=8)
        figure.colorbar(image, ax=axis, pad=0.01)
    if title:
        figure.suptitle(title)
    if path is not None:
        figure.savefig(path, dpi=110)
    return figure
