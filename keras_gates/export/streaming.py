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


def _carries_output(layer, masked):
    """Whether the step carries `layer`'s last output as one more state: at a
    masked step the layer repeats its previous output, which is not one of
    its states when the cell says so (`output_is_first_state = False`: the
    SRU outputs `h` and keeps `c`). Keras' cells output their first state."""
    return (
        masked
        and not layer.zero_output_for_mask
        and not getattr(layer.cell, "output_is_first_state", True)
    )


def _state_sizes(cell):
    sizes = cell.state_size
    return list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]


def check_model(model):
    """Raises unless `model` is a Keras model with symbolic inputs."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a keras.Model. Received: {type(model).__name__}")
    if not model.built or not getattr(model, "inputs", None):
        raise ValueError(
            "The model has no inputs yet: build it from a `keras.Input` "
            "(a Sequential model needs `keras.Input` as its first layer)."
        )


def _chain(model):
    """The layers of `model` in order, checking that each feeds the next."""
    check_model(model)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            "A streaming model needs one input and one output. Received a "
            f"model with {len(model.inputs)} inputs and {len(model.outputs)} "
            "outputs."
        )
    layers = [
        layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]
    previous = model.inputs[0]
    for layer in layers:
        try:
            layer_input = layer.input
        except (AttributeError, ValueError) as e:
            raise ValueError(
                f"Layer '{layer.name}' is called more than once; a streaming "
                "model must be a chain of layers, each called once."
            ) from e
        if isinstance(layer_input, (list, tuple)):
            # A propagated mask is a second, boolean input of the node.
            layer_input, *others = layer_input
            if any(other.dtype != "bool" for other in others):
                layer_input = None
        if layer_input is not previous:
            raise ValueError(
                f"Layer '{layer.name}' does not take the previous layer's "
                "output; a streaming model must be a chain of layers, each "
                "feeding the next (as in a Sequential model)."
            )
        previous = layer.output
    return layers


def _check_streamable(layers):
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
            masked = masked or layer.mask_zero
        elif isinstance(layer, keras.layers.Masking):
            masked = True
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


def step_function(model, batch_size=1):
    """The one-step function of `model` and its input specs.

    Args:
        model: A Keras model that is a chain of layers (embeddings, masking,
            recurrent layers with `go_backwards=False`, and layers acting on
            each step alone, such as Dense).
        batch_size: The batch size of the step's inputs.

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
    import tensorflow as tf

    layers = _chain(model)
    sizes, carries = _check_streamable(layers)
    model_input = model.inputs[0]
    if len(model_input.shape) < 2:
        raise ValueError(
            "The model input has no time axis: expected (batch, time, ...). "
            f"Received shape {model_input.shape}"
        )
    dtype = keras.backend.standardize_dtype(model.compute_dtype)
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
                if layer.mask_zero:
                    mask = ops.not_equal(x, 0)
                x = layer(x)
            elif isinstance(layer, keras.layers.Masking):
                mask = ops.any(ops.not_equal(x, layer.mask_value), axis=-1)
                x = x * ops.cast(ops.expand_dims(mask, -1), x.dtype)
            elif isinstance(layer, keras.layers.RNN):
                carry = carries[layer.name]
                count = len(_state_sizes(layer.cell))
                old, states = states[:count], states[count:]
                # `call`, not `__call__`: x may carry the mask attribute of
                # the layer before, which a cell would warn about.
                output, new = layer.cell.call(x, old, training=False)
                new = list(new) if tree.is_nested(new) else [new]
                if mask is not None:
                    keep = ops.expand_dims(mask, -1)
                    new = [ops.where(keep, n, o) for n, o in zip(new, old, strict=True)]
                    if layer.zero_output_for_mask:
                        previous = ops.zeros_like(output)
                    elif carry:
                        previous, states = states[0], states[1:]
                    else:
                        previous = old[0]
                    output = ops.where(keep, output, previous)
                    if not layer.return_sequences:
                        mask = None
                new_states += new + ([output] if carry else [])
                x = output
            else:
                x = layer(x, training=False)
        return {"outputs": x, **{f"state_{i}": s for i, s in enumerate(new_states)}}

    return step, specs
