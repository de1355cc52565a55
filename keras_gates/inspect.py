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
| `MinLSTM` | `forget`, `input` (normalised: they sum to 1, or are both 0 where the activation gives 0 to both, as `"hard_sigmoid"` can) |
| `SLSTM` | `input`, `forget` (the stabilised exponential gates, at most 1), `output`, and the states `n` (normaliser) and `m` (stabiliser) |
| `keras.layers.GRU` | `update` (z, the share of the OLD state), `reset` |

The same for a keras-gates cell (or Keras' `LSTMCell`/`GRUCell`) inside
`keras.layers.RNN`; `keras.layers.Bidirectional` gives `forward_*` and
`backward_*` keys, both on the input's time axis.

The values are computed by the cell's own step (the same gate math that the
layer's call runs), in a separate loop over time, so the layer's call costs
nothing more for it. Masked steps, where no gate was applied, are NaN.
"""

import numbers

import keras
import numpy as np
from keras import ops

from keras_gates import _validation as v
from keras_gates.cells.gated_cell import GatedCell
from keras_gates.cells.protocol import run_under_policy

__all__ = ["gate_activations", "gate_table", "plot_gates"]


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


def _as_list(states):
    return list(states) if isinstance(states, (list, tuple)) else [states]


def _initial_states(layer, batch_size, initial_state):
    if initial_state is not None:
        return [
            ops.convert_to_tensor(s, layer.cell.compute_dtype)
            for s in _as_list(initial_state)
        ]
    if layer.stateful and layer.states is not None:
        return [ops.convert_to_tensor(s) for s in layer.states]
    sizes = _as_list(layer.cell.state_size)
    return [ops.zeros((batch_size, size), layer.cell.compute_dtype) for size in sizes]


def _input_dim(cell):
    if isinstance(cell, GatedCell):
        return cell.input_dim
    kernel = getattr(cell, "kernel", None)  # Keras' LSTMCell and GRUCell
    return None if kernel is None else kernel.shape[0]


def _check_call(layer, inputs, mask, initial_state):
    """The layer's own checks of its call's shapes (one clear ValueError),
    before the step runs on them."""
    v.check_sequence_call(
        layer,
        v.shape_of(inputs),
        _input_dim(layer.cell),
        None
        if initial_state is None
        else [v.shape_of(s) for s in _as_list(initial_state)],
        None if mask is None else v.shape_of(mask),
    )


def _run(layer, inputs, mask, initial_state):
    """The gates of one recurrent layer, `(batch, time, units)` each, on the
    input's time axis (also for `go_backwards`), NaN at masked steps."""
    _check_call(layer, inputs, mask, initial_state)
    inputs = ops.convert_to_tensor(inputs, layer.cell.compute_dtype)
    batch_size, steps = inputs.shape[0], inputs.shape[1]
    states = _initial_states(layer, batch_size, initial_state)
    valid = None if mask is None else np.asarray(mask, bool).reshape(batch_size, steps)
    order = range(steps - 1, -1, -1) if layer.go_backwards else range(steps)

    def loop(inputs, states):
        step = _cell_step(layer.cell, layer.name)  # its constants in this dtype
        recorded = {}
        for t in order:
            _, new_states, gates = step(inputs[:, t], states)
            if valid is not None:
                keep = ops.convert_to_tensor(valid[:, t : t + 1])
                new_states = [
                    ops.where(keep, n, s)
                    for n, s in zip(new_states, states, strict=True)
                ]
            states = new_states
            for name, gate in gates.items():
                recorded.setdefault(name, [None] * steps)[t] = gate
        return {name: ops.stack(values, axis=1) for name, values in recorded.items()}

    # Under the cell's dtype policy: a mixed-precision cell computes its
    # gates in its compute dtype, as in the layer's call.
    stacked = run_under_policy(loop, layer.cell.dtype_policy, inputs, states)
    gates = {}
    for name, values in stacked.items():
        values = ops.convert_to_numpy(values).astype(np.float32)
        if valid is not None:
            values = np.where(valid[:, :, None], values, np.nan)
        gates[name] = values
    return gates


def _node_roles(model, target):
    """What each tensor of `target.input` is to the layer's call in
    `model`: `"sequences"`, `"initial_state"` or `"mask"` (from the call
    recorded in the model's config; a Sequential model passes the inputs
    and the propagated mask)."""
    if isinstance(model, keras.Sequential):
        return None
    entry = next(
        (e for e in model.get_config()["layers"] if e.get("name") == target.name),
        None,
    )
    nodes = [] if entry is None else entry.get("inbound_nodes", [])
    if len(nodes) != 1:
        raise ValueError(
            f"Layer '{target.name}' is called {len(nodes)} times in the model; "
            "gate_activations(model=...) reads a layer called once. Pass the "
            "layer's own inputs instead: gate_activations(layer, inputs, "
            "mask=..., initial_state=...)."
        )
    (node,) = nodes
    roles = []

    def walk(value, role):
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            roles.append(role)
        elif isinstance(value, dict):
            for key in sorted(value):
                walk(value[key], role)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item, role)

    positional = ("sequences", "initial_state", "mask")
    for i, arg in enumerate(node.get("args", ())):
        walk(arg, positional[i] if i < len(positional) else "other")
    kwargs = node.get("kwargs", {})
    for key in sorted(kwargs):  # Keras flattens a node's kwargs by key
        walk(kwargs[key], key if key in positional else "other")
    return roles


def _layer_inputs(model, layer, inputs):
    """`(layer, its inputs, its mask, its initial states)` as `layer` sees
    them when `model` runs on `inputs`: the propagated mask (None where the
    model passes none) and the `initial_state` the model feeds it (None
    where it feeds none)."""
    if not isinstance(model, keras.Model):
        raise TypeError(
            "With `layer=`, the first argument is the model that holds the "
            f"layer. Received: {type(model).__name__}"
        )
    target = model.get_layer(layer) if isinstance(layer, str) else layer
    roles = _node_roles(model, target)
    up_to = keras.Model(
        model.inputs if len(model.inputs) > 1 else model.inputs[0], target.input
    )
    seen = _as_list(up_to(inputs, training=False))
    if roles is None:  # Sequential: the inputs, then the mask if any
        roles = ["sequences", "mask"][: len(seen)]
    if len(roles) != len(seen):
        raise ValueError(
            f"Cannot tell the inputs of layer '{target.name}' in the model "
            f"apart ({len(seen)} tensors, {len(roles)} recorded arguments). Pass "
            "the layer's own inputs instead: gate_activations(layer, inputs, "
            "mask=..., initial_state=...)."
        )
    by_role = {}
    for role, tensor in zip(roles, seen, strict=True):
        by_role.setdefault(role, []).append(tensor)
    mask = by_role.get("mask", [None])[0]
    return (
        target,
        by_role["sequences"][0],
        None if mask is None else ops.convert_to_numpy(mask),
        by_role.get("initial_state"),
    )


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
            With `model`, the mask that the model passes to the layer (e.g.
            from `Embedding(mask_zero=True)`) is used when not given. (Keras
            passes a propagated mask to a layer only when it is called with
            one tensor: a layer called with `initial_state` in a functional
            model runs without it, and so do its gates here.)
        initial_state: Optional initial states, as for the layer's call.
            With `model`, the states the model feeds the layer when not
            given. Defaults to zeros (a stateful layer's stored states).
        model: A Keras model that holds `layer`.

    Returns:
        A dict of gate name to a float32 NumPy array `(batch, time, units)`
        (keys prefixed `forward_` / `backward_` for `Bidirectional`), NaN
        at masked steps.

    Raises:
        ValueError: for inputs, a mask or initial states of the wrong shape
            or number, in the layer's own words.
    """
    if model is not None:
        layer, inputs, propagated, fed = _layer_inputs(model, layer, inputs)
        mask = propagated if mask is None else mask
        initial_state = fed if initial_state is None else initial_state
    if not getattr(layer, "built", False):
        raise ValueError(
            f"Layer '{getattr(layer, 'name', layer)}' is not built: its gates "
            "have no weights yet."
        )
    if isinstance(layer, keras.layers.Bidirectional):
        if initial_state is not None:
            initial_state = _as_list(initial_state)
            count = len(_as_list(layer.forward_layer.cell.state_size))
            if len(initial_state) != 2 * count:
                raise ValueError(
                    f"Bidirectional '{layer.name}' expects `initial_state` to "
                    f"be a list of {2 * count} tensors, the forward layer's "
                    f"{count} states then the backward layer's. Received "
                    f"{len(initial_state)}."
                )
            forward_state = initial_state[:count]
            backward_state = initial_state[count:]
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
    names, length, batch = _check_gates(gates, sequence)
    tokens = _labels(tokens, length)
    steps = list(range(length) if steps is None else steps)
    outside = [t for t in steps if not (_is_index(t) and 0 <= t < length)]
    if outside:
        raise ValueError(
            f"Argument `steps` must hold step indices in [0, {length}). "
            f"Received: {outside[:8]}"
        )
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


def _is_index(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_gates(gates, sequence):
    """`(names, steps, batch)` of a dict of `gate_activations`, checked, and
    `sequence` checked against the batch."""
    if not isinstance(gates, dict) or not gates:
        raise ValueError(
            "Argument `gates` must be the non-empty dict that gate_activations "
            f"returns. Received: {gates!r:.80}"
        )
    shapes = {name: np.shape(values) for name, values in gates.items()}
    if (
        any(len(shape) != 3 for shape in shapes.values())
        or len({shape[:2] for shape in shapes.values()}) != 1
    ):
        raise ValueError(
            "Argument `gates` must map gate names to arrays of shape (batch, "
            f"time, units) with one batch and time. Received shapes: {shapes}"
        )
    batch, steps = next(iter(shapes.values()))[:2]
    if not _is_index(sequence) or not 0 <= sequence < batch:
        raise ValueError(
            f"Argument `sequence` must be an index into the batch of {batch}. "
            f"Received: sequence={sequence!r}"
        )
    return list(gates), steps, batch


def _labels(tokens, steps):
    """One label per step: `tokens` as strings, or the step numbers."""
    if tokens is None:
        return [str(t) for t in range(steps)]
    tokens = [str(t) for t in tokens]
    if len(tokens) != steps:
        raise ValueError(
            f"Argument `tokens` must hold one label per step: {steps} for "
            f"these gates. Received {len(tokens)}."
        )
    return tokens


def _mean(values):
    """The mean over units, NaN for a masked step (all NaN)."""
    return float("nan") if np.isnan(values).all() else float(np.mean(values))


def plot_gates(gates, tokens=None, *, sequence=0, path=None, title=None):
    """Heatmaps of one sequence's gates: one panel per gate, units down,
    steps (tokens) across, 0 to 1 from dark to light; masked steps blank.

    Needs matplotlib (the `examples` extra).

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
    names, steps, _ = _check_gates(gates, sequence)
    tokens = _labels(tokens, steps)
    units = next(iter(gates.values())).shape[2]
    # Drawn at the width of a documentation column (7 inches at 200 dpi,
    # shown at about 700 pixels), so that 10-point labels read as 10 points.
    figure, axes = plt.subplots(
        len(names),
        1,
        figsize=(7.0, 1.2 + len(names) * (1.2 + 0.08 * units)),
        squeeze=False,
        constrained_layout=True,
    )
    every = max(1, -(-steps // 12))  # at most about 12 labels across
    for axis, name in zip(axes[:, 0], names, strict=True):
        values = np.ma.masked_invalid(gates[name][sequence].T)
        # A gate lies in [0, 1]; a state that a cell reports beside its
        # gates (the sLSTM's n and m) is drawn over its own range.
        low, high = float(values.min()), float(values.max())
        is_gate = values.count() == 0 or (low >= 0.0 and high <= 1.0)
        image = axis.imshow(
            values,
            aspect="auto",
            vmin=0.0 if is_gate else low,
            vmax=1.0 if is_gate else high,
            cmap="viridis",
            interpolation="nearest",
        )
        axis.set_ylabel(f"{name} {'gate' if is_gate else 'state'}:\nunit", fontsize=10)
        axis.set_xticks(range(0, steps, every))
        axis.set_xticklabels(tokens[::every], rotation=90, fontsize=10)
        axis.tick_params(axis="y", labelsize=10)
        bar = figure.colorbar(image, ax=axis, pad=0.01)
        bar.set_label("gate value (0 to 1)" if is_gate else "value", fontsize=10)
        bar.ax.tick_params(labelsize=10)
    axes[-1, 0].set_xlabel("step (its input)", fontsize=10)
    if title:
        figure.suptitle(title, fontsize=11)
    if path is not None:
        figure.savefig(path, dpi=200)
    return figure
