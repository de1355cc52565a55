"""The one-step function of a recurrent model, for streaming on device.

A streaming model keeps its recurrent state outside: each call takes one time
step and every state, and returns the output and the new states. This module
builds that function from a Keras model that is a chain of layers, each acting
on one time step at a time (embeddings, masking, dense layers, recurrent
layers running forwards), and refuses, saying why, the models it cannot run a
step at a time.
"""

import keras
from keras import ops
from keras import tree

from keras_gates.cells.gated_cell import GatedCell
from keras_gates.cells.gated_cell import declared_output_state
from keras_gates.export.graph import chain
from keras_gates.export.tensorflow_support import tensorflow

# Layers that act on each time step alone, so that one step of their input
# gives that step of their output. Dropout-like layers are the identity in
# inference.
_PER_STEP_LAYERS = tuple(
    getattr(keras.layers, name)
    for name in (
        "Activation",
        "ActivityRegularization",
        "AlphaDropout",
        "BatchNormalization",
        "Dense",
        "Dropout",
        "ELU",
        "GaussianDropout",
        "GaussianNoise",
        "Identity",
        "LayerNormalization",
        "LeakyReLU",
        "PReLU",
        "ReLU",
        "Softmax",
        "UnitNormalization",
    )
    if hasattr(keras.layers, name)
)


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


def _check_streamable(layers, masking=True):
    """Raises a ValueError naming the first layer a step cannot compute.

    Returns the state sizes, in layer order then state order, and for each
    recurrent layer (by name) whether it carries its last output as a state.
    """
    sizes, carries = [], {}
    masked = False
    for layer in layers:
        if isinstance(layer, keras.layers.Bidirectional):
            raise ValueError(
                f"Cannot stream layer '{layer.name}': a Bidirectional layer "
                "also reads each sequence from its end, which one step at a "
                "time never sees."
            )
        if isinstance(layer, keras.layers.Embedding):
            masked = masked or (masking and layer.mask_zero)
        elif isinstance(layer, keras.layers.Masking):
            masked = masking
        elif isinstance(layer, keras.layers.RNN):
            if layer.go_backwards:
                raise ValueError(
                    f"Cannot stream layer '{layer.name}': it has "
                    "`go_backwards=True`, so it starts from the last step, "
                    "which a stream has not seen yet."
                )
            sizes += _state_sizes(layer.cell)
            carries[layer.name] = _carries_output(layer, masked)
            if carries[layer.name]:
                sizes.append(layer.cell.output_size)
            if not layer.return_sequences:
                masked = False
        elif not isinstance(layer, _PER_STEP_LAYERS):
            raise ValueError(
                f"Cannot stream layer '{layer.name}' "
                f"({type(layer).__name__}): a one-step model can hold "
                "embeddings, masking, recurrent layers running forwards and "
                "layers that act on each step alone (Dense, Dropout, "
                "normalization, activations). Layers that mix time steps "
                "(convolutions, pooling, attention) need a window of past "
                "steps that this export does not keep."
            )
    if not sizes:
        raise ValueError("The model has no recurrent layer to stream.")
    return sizes, carries


def _built_for_sequences(layer, x):
    """Whether `layer` accepts only inputs of one more axis than the step
    `x` (its input spec fixes the rank it was built on)."""
    specs = (
        layer.input_spec if isinstance(layer.input_spec, list) else [layer.input_spec]
    )
    ndim = getattr(specs[0], "ndim", None) if specs and specs[0] is not None else None
    return ndim is not None and ndim == len(x.shape) + 1


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
    sizes, carries = _check_streamable(layers, masking)
    dtype = keras.backend.standardize_dtype(model.compute_dtype)
    if dtype != "float32":
        raise ValueError(
            f"Cannot stream a model that computes in {dtype} (a mixed "
            "precision policy): TFLite's builtin ops multiply matrices in "
            "float32 or integers. Build the same model under "
            "keras.config.set_dtype_policy('float32'), copy the weights "
            "(set_weights(model.get_weights())) and export that."
        )
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
                        mask = None
                new_states += new + ([output] if carry else [])
                x = output
            elif _built_for_sequences(layer, x):
                # Built on (batch, time, ...) with its rank fixed (as
                # BatchNormalization is): one step is a sequence of one.
                x = layer(ops.expand_dims(x, 1), training=False)[:, 0]
            else:
                x = layer(x, training=False)
        return {"outputs": x, **{f"state_{i}": s for i, s in enumerate(new_states)}}

    return step, specs
