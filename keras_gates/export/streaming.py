"""The one-step function of a recurrent model, for streaming on device.

A streaming model keeps its recurrent state outside: each call takes one time
step and every state, and returns the output and the new states. This module
builds that function from a Keras model that is a chain of layers, each acting
on one time step at a time (embeddings, masking, dense layers, recurrent
layers running forwards), and refuses, saying why, the models it cannot run a
step at a time.
"""

import keras
import numpy as np
from keras import ops
from keras import tree

from keras_gates.cells.gated_cell import GatedCell
from keras_gates.cells.protocol import declared_output_state
from keras_gates.export.graph import chain
from keras_gates.export.graph import check_float32
from keras_gates.export.tensorflow_support import tensorflow


def _output_state(cell):
    """The index, among the cell's flattened states, of the state that is its
    output, or None when the output is not a state (the SRU outputs `h` and
    keeps `c`; a `keras_gates.GatedCell` says so in `output_state`). Keras'
    cells output their first state; stacked cells output the last cell's."""
    if isinstance(cell, keras.layers.StackedRNNCells):
        *lower, last = cell.cells
        index = _output_state(last)
        offset = sum(len(_state_sizes(c)) for c in lower)
        return None if index is None else offset + index
    if isinstance(cell, GatedCell):
        return declared_output_state(cell)
    return 0


def _carries_output(layer, masked):
    """Whether the step carries `layer`'s last output as one more state: at a
    masked step the layer repeats its previous output, which the step must
    then keep when it is not one of the cell's states."""
    return (
        masked and not layer.zero_output_for_mask and _output_state(layer.cell) is None
    )


def _state_sizes(cell):
    """The sizes of the cell's states, flattened (stacked cells nest them)."""
    return tree.flatten(cell.state_size)


def _nest_states(cell, flat):
    """The cell's states as its `call` takes them, from the flat list."""
    if not isinstance(cell, keras.layers.StackedRNNCells):
        return list(flat)
    nested = []
    for inner in cell.cells:
        count = len(_state_sizes(inner))
        nested.append(_nest_states(inner, flat[:count]))
        flat = flat[count:]
    return nested


def _check_streamable(model, layers, masking=True):
    """Raises a ValueError naming the first layer a step cannot compute.

    Returns the state sizes, in layer order then state order, for each
    recurrent layer (by name) whether it carries its last output as a state,
    and the states' names (`"lstm state 0"`, ...).
    Each layer that is not recurrent is checked on a probe sequence while
    its input still has a time axis: it streams if, called on one step at
    a time as the step function calls it, it gives that step of its output
    on the whole sequence (see `_check_per_step`).
    """
    sizes, carries, names = [], {}, []
    masked, timed = False, True
    probe = _probe_inputs(model)
    for layer in layers:
        if isinstance(layer, keras.layers.Bidirectional):
            raise ValueError(
                f"Cannot stream layer '{layer.name}': a Bidirectional layer "
                "also reads each sequence from its end, which one step at a "
                "time never sees."
            )
        if isinstance(layer, keras.layers.RNN):
            if layer.go_backwards:
                raise ValueError(
                    f"Cannot stream layer '{layer.name}': it has "
                    "`go_backwards=True`, so it starts from the last step, "
                    "which a stream has not seen yet."
                )
            sizes += _state_sizes(layer.cell)
            names += [f"{layer.name} state {j}" for j in range(len(sizes) - len(names))]
            carries[layer.name] = _carries_output(layer, masked)
            if carries[layer.name]:
                sizes.append(layer.cell.output_size)
                names.append(f"{layer.name} last output")
            if not layer.return_sequences:
                masked = timed = False
            # Not called: a stateful layer would keep the probe's states.
            shape = layer.compute_output_shape(tuple(probe.shape))
            if isinstance(shape[0], (list, tuple)):  # with return_state
                shape = shape[0]
            probe = _random(tuple(shape), probe.shape, "float32")
            continue
        if isinstance(layer, keras.layers.Embedding):
            masked = masked or (masking and layer.mask_zero)
        elif isinstance(layer, keras.layers.Masking):
            masked = masking
        elif not layer.supports_masking:
            masked = False  # Keras drops the mask here; the step does too
        probe = _check_per_step(layer, probe, timed)
    if not sizes:
        raise ValueError("The model has no recurrent layer to stream.")
    return sizes, carries, names


def state_names(model, masking=True):
    """What each state of `step_function(model)` is, in its order: the
    recurrent layer's name and the state's index among its states (or its
    last output, which a masked SRU carries)."""
    return _check_streamable(model, chain(model), masking)[2]


# The probe sequence: batch 2 (or the model's fixed batch) of 5 steps (or
# the model's fixed number).
_PROBE_BATCH, _PROBE_STEPS = 2, 5


def _random(shape, like, dtype, high=None):
    """A random probe tensor of `shape`, its unknown batch and time taken
    from the probe shape `like`."""
    shape = [like[i] if n is None and i < 2 else n for i, n in enumerate(shape)]
    rng = np.random.default_rng(len(shape))
    if "int" in str(dtype):
        return ops.convert_to_tensor(rng.integers(1, high or 3, shape), dtype)
    return ops.convert_to_tensor(rng.normal(size=shape), dtype)


def _probe_inputs(model):
    """A random sequence of the model's input shape and dtype (token ids
    within the vocabulary of a first `Embedding`)."""
    tensor = model.inputs[0]
    batch = tensor.shape[0] or _PROBE_BATCH
    steps = tensor.shape[1] or _PROBE_STEPS
    first = next(iter(chain(model)), None)
    vocabulary = getattr(first, "input_dim", None)
    return _random(tensor.shape, (batch, steps), tensor.dtype, vocabulary)


def _check_per_step(layer, sequence, timed=True):
    """Raises a ValueError unless `layer`, called as the step function
    calls it on each step of `sequence` alone, gives that step of its
    output on the whole sequence; returns that output (the next layer's
    probe). A layer whose input has lost its time axis (after a recurrent
    layer that returns its last output only) is not checked."""
    output = layer(sequence, training=False)
    if not timed:
        return output  # no time axis left: the step computes as the model
    problem = _time_in_axes(layer, len(sequence.shape))
    try:
        for t in range(sequence.shape[1] if problem is None else 0):
            step = _call_on_step(layer, sequence[:, t], True)
            want = output[:, t]
            if tuple(step.shape) != tuple(want.shape):
                problem = f"one step gives shape {tuple(step.shape)}"
                break
            scale = 1.0 + float(ops.max(ops.abs(ops.cast(want, "float32"))))
            error = float(
                ops.max(ops.abs(ops.cast(step, "float32") - ops.cast(want, "float32")))
            )
            if error > 1e-4 * scale:
                problem = f"one step alone is off by {error:.2g}"
                break
    except Exception as e:  # the layer does not take one step
        problem = f"one step alone raises {type(e).__name__}"
    if problem is None:
        return output
    axes = [
        f"{name}={getattr(layer, name)!r}"
        for name in ("axis", "shared_axes")
        if getattr(layer, name, None) is not None
    ]
    why = f" ({', '.join(axes)}, on inputs of shape (batch, time, ...))" if axes else ""
    raise ValueError(
        f"Cannot stream layer '{layer.name}' ({type(layer).__name__}): its "
        f"output at a step depends on other steps{why}: {problem}. A one-step "
        "model can hold embeddings, masking, recurrent layers running "
        "forwards and layers that act on each step alone (Dense, Dropout, "
        "normalization and softmax over the features, activations); layers "
        "that mix time steps (convolutions, pooling, attention, or a "
        "normalization over time) need a window of past steps that this "
        "export does not keep."
    )


def _axes(value, rank):
    """`value` (an int or a list of them, negative from the end) as a set
    of non-negative axes of a tensor of `rank`."""
    values = value if isinstance(value, (list, tuple)) else [value]
    return {int(a) % rank for a in values if isinstance(a, (int, np.integer))}


def _time_in_axes(layer, rank):
    """What a layer's axis arguments say against the time axis (axis 1 of
    its input of `rank`), or None: `axis` names the axes a layer reduces
    over or keeps weights along (Softmax, the normalizations), so the time
    axis must not be among them; `shared_axes` names the axes its weights
    are shared along (PReLU), so the time axis must be among them. The
    probe's numbers alone can miss weights that are equal along time, as
    they are when initialized."""
    axis = getattr(layer, "axis", None)
    if axis is not None and 1 in _axes(axis, rank):
        return "its `axis` includes the time axis"
    if layer.weights and hasattr(layer, "shared_axes"):
        if 1 not in _axes(layer.shared_axes or [], rank):
            return "its weights differ along the time axis (not in `shared_axes`)"
    return None


def _call_on_step(layer, x, timed):
    """`layer` on one step `x` (its time axis removed, when `timed`: the
    layer's input still has one), in inference."""
    if isinstance(layer, keras.layers.TimeDistributed):
        return layer.layer(x, training=False)  # what it applies to each step
    if timed and _built_for_sequences(layer, x):
        # Built on (batch, time, ...) with its rank fixed (as
        # BatchNormalization is): one step is a sequence of one.
        return layer(ops.expand_dims(x, 1), training=False)[:, 0]
    return layer(x, training=False)


def _built_for_sequences(layer, x):
    """Whether `layer` accepts only inputs of one more axis than the step
    `x` (its input spec fixes the rank it was built on)."""
    specs = (
        layer.input_spec if isinstance(layer.input_spec, list) else [layer.input_spec]
    )
    spec = specs[0] if specs else None
    ranks = [getattr(spec, k, None) for k in ("ndim", "min_ndim")] if spec else []
    if any(r is not None and r == len(x.shape) + 1 for r in ranks):
        return True
    # An axis counted from the front of (batch, time, ...) (Softmax(axis=2))
    # names the same features in a sequence of one step.
    axis = getattr(layer, "axis", None)
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    return any(isinstance(a, (int, np.integer)) and a >= 1 for a in axes)


def step_function(model, batch_size=1, masking=True):
    """The one-step function of `model` and its input specs.

    Args:
        model: A Keras model that is a chain of layers (embeddings, masking,
            recurrent layers with `go_backwards=False`, and layers acting on
            each step alone, such as Dense).
        batch_size: The batch size of the step's inputs.
        masking: If False, the step ignores the model's masks (`Masking`
            is the identity, `Embedding(mask_zero=True)` masks nothing):
            for callers that never feed a padded step, so that the step
            has no mask ops.

    Returns:
        `(step, specs)`: `step(inputs, state_0, state_1, ...)` takes one time
        step of the model's input (its time axis removed) and every
        recurrent state (in layer order, then state order; an SRU behind a
        mask has its last output as one more state, after its own, as it
        repeats that output at masked steps) and returns a
        dict with the model's output for that step under `"outputs"` and the
        new states under `"state_0"`, `"state_1"`, ... `specs` are
        `tf.TensorSpec`s of the arguments, named `"inputs"`, `"state_0"`,
        ... Fed a sequence step by step from zero states, the output at step
        `t` equals the model's output on the prefix `x[:, : t + 1]` (its
        last step, for a model that returns sequences).

    Raises:
        ValueError: if a layer cannot be computed a step at a time (the
            message says which and why).
    """
    tf = tensorflow()
    layers = chain(model)
    sizes, carries, _ = _check_streamable(model, layers, masking)
    check_float32(model, "stream")
    dtype = keras.backend.standardize_dtype(model.compute_dtype)
    model_input = model.inputs[0]
    if len(model_input.shape) < 2:
        raise ValueError(
            "The model input has no time axis: expected (batch, time, ...). "
            f"Received shape {model_input.shape}"
        )
    specs = [
        tf.TensorSpec(
            (batch_size, *model_input.shape[2:]), model_input.dtype, name="inputs"
        )
    ] + [
        tf.TensorSpec((batch_size, size), dtype, name=f"state_{i}")
        for i, size in enumerate(sizes)
    ]

    def step(inputs, *states):
        x, mask, states, new_states = inputs, None, list(states), []
        timed = True  # whether x is still a step of a sequence
        for layer in layers:
            if isinstance(layer, keras.layers.Embedding):
                if layer.mask_zero and masking:
                    mask = ops.not_equal(x, 0)
                x = layer(x)
            elif isinstance(layer, keras.layers.Masking):
                if not masking:
                    continue
                mask = ops.any(ops.not_equal(x, layer.mask_value), axis=-1)
                x = x * ops.cast(ops.expand_dims(mask, -1), x.dtype)
            elif isinstance(layer, keras.layers.RNN):
                carry = carries[layer.name]
                count = len(_state_sizes(layer.cell))
                old, states = states[:count], states[count:]
                # `call`, not `__call__`: x may carry the mask attribute of
                # the layer before, which a cell would warn about.
                cell = layer.cell
                if isinstance(cell, keras.layers.StackedRNNCells):
                    # Its cells are called through `__call__`, which warns
                    # about the mask that x may carry: a copy carries none.
                    x = ops.copy(x)
                output, new = cell.call(x, _nest_states(cell, old), training=False)
                new = tree.flatten(new)
                if mask is not None:
                    keep = ops.expand_dims(mask, -1)
                    new = [ops.where(keep, n, o) for n, o in zip(new, old, strict=True)]
                    if layer.zero_output_for_mask:
                        previous = ops.zeros_like(output)
                    elif carry:
                        previous, states = states[0], states[1:]
                    else:
                        previous = old[_output_state(cell)]
                    output = ops.where(keep, output, previous)
                if not layer.return_sequences:
                    mask, timed = None, False
                new_states += new + ([output] if carry else [])
                x = output
            else:
                if not layer.supports_masking:
                    mask = None  # Keras drops the mask at such a layer
                x = _call_on_step(layer, x, timed)
        return {"outputs": x, **{f"state_{i}": s for i, s in enumerate(new_states)}}

    return step, specs
