"""Up-front checks of constructor arguments.

Every check raises as soon as the object is constructed, with a message that
names the argument and repeats the value received: a `TypeError` for a value
of the wrong type, a `ValueError` for a value of the right type that is out of
range.
"""

import math
import numbers

import numpy as np
from keras import activations
from keras import constraints
from keras import initializers
from keras import regularizers


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_units(units, name="units"):
    """Returns `units` as an `int` after checking it is a positive integer."""
    if not _is_int(units):
        raise TypeError(
            f"Argument `{name}` must be a positive integer. "
            f"Received: {name}={units!r} of type {type(units).__name__}"
        )
    if units <= 0:
        raise ValueError(
            f"Argument `{name}` must be a positive integer. Received: {name}={units}"
        )
    return int(units)


def check_optional_units(units, name):
    """`units`, None or a positive integer, as an `int` or None."""
    return None if units is None else check_units(units, name)


def check_bool(value, name):
    """`value` as a `bool`: a Python or NumPy boolean, as Keras takes."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"Argument `{name}` must be a bool. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    return bool(value)


def check_rate(value, name):
    """Checks a dropout rate: a number in [0, 1)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(
            f"Argument `{name}` must be a float in [0, 1). "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    if not 0.0 <= value < 1.0:
        raise ValueError(
            f"Argument `{name}` must be a float in [0, 1). Received: {name}={value}"
        )
    return float(value)


def check_seed(seed):
    if seed is not None and not _is_int(seed):
        raise TypeError(
            "Argument `seed` must be an integer or None. "
            f"Received: seed={seed!r} of type {type(seed).__name__}"
        )
    return None if seed is None else int(seed)


def check_chrono_init(chrono_init):
    """Checks `chrono_init`: None, or an integer timescale of at least 3."""
    if chrono_init is None:
        return None
    if not _is_int(chrono_init):
        raise TypeError(
            "Argument `chrono_init` must be None or an integer of at least 3 "
            f"(the longest timescale, in steps). Received: "
            f"chrono_init={chrono_init!r} of type {type(chrono_init).__name__}"
        )
    if chrono_init < 3:
        raise ValueError(
            "Argument `chrono_init` must be None or an integer of at least 3 "
            f"(the longest timescale, in steps). Received: chrono_init={chrono_init}"
        )
    return int(chrono_init)


def check_cell_clip(cell_clip, name="cell_clip"):
    """Checks a clip value (`cell_clip`, `projection_clip`) or an epsilon:
    None, or a positive finite number."""
    if cell_clip is None:
        return None
    if not isinstance(cell_clip, numbers.Real) or isinstance(cell_clip, bool):
        raise TypeError(
            f"Argument `{name}` must be None or a positive number. "
            f"Received: {name}={cell_clip!r} of type {type(cell_clip).__name__}"
        )
    if not (cell_clip > 0 and math.isfinite(cell_clip)):
        raise ValueError(
            f"Argument `{name}` must be None or a positive finite number. "
            f"Received: {name}={cell_clip}"
        )
    return float(cell_clip)


def check_number(value, name):
    """A finite real number (not a bool), as a float."""
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not math.isfinite(value)
    ):
        raise ValueError(
            f"Argument `{name}` must be a finite number. Received: {name}={value!r}"
        )
    return float(value)


def check_peepholes(peepholes, allowed, cell_name, absent=None):
    """Normalizes `peepholes` to a tuple of gate names in canonical order.

    Args:
        peepholes: None or an empty sequence (no peepholes), one gate name, or
            a sequence of gate names.
        allowed: the gate names the cell has, in canonical order.
        cell_name: the class name, for messages.
        absent: optional dict of gate name to an explanation of why the cell
            has no such gate (e.g. the coupled LSTM's forget gate).
    """
    if peepholes is None:
        return ()
    if isinstance(peepholes, str):
        gates = [peepholes]
    elif isinstance(peepholes, (list, tuple, set, frozenset)):
        gates = list(peepholes)
    else:
        raise TypeError(
            "Argument `peepholes` must be None, a gate name or a list of gate "
            f"names from {list(allowed)}. Received: peepholes={peepholes!r}"
        )
    for gate in gates:
        if gate in allowed:
            continue
        if absent and gate in absent:
            raise ValueError(
                f"{cell_name} cannot have a peephole on the {gate!r} gate: "
                f"{absent[gate]} Allowed gates: {list(allowed)}. "
                f"Received: peepholes={peepholes!r}"
            )
        raise ValueError(
            f"Argument `peepholes` of {cell_name} names an unknown gate "
            f"{gate!r}. Allowed gates: {list(allowed)}. "
            f"Received: peepholes={peepholes!r}"
        )
    if len(set(gates)) != len(gates):
        raise ValueError(
            f"Argument `peepholes` names a gate twice. Received: peepholes={peepholes!r}"
        )
    return tuple(gate for gate in allowed if gate in gates)


def _get(getter, value, name, kind):
    try:
        return getter(value)
    except (ValueError, TypeError) as e:
        hint = ""
        if isinstance(value, (bool, int, float)):  # a misplaced positional argument?
            hint = (
                " (Positional arguments follow the order of Keras' own layers; "
                "pass a layer's own options, such as `mutant` or `reset`, by "
                "keyword.)"
            )
        raise ValueError(
            f"Argument `{name}` could not be interpreted as {kind}. "
            f"Received: {name}={value!r}{hint}"
        ) from e


def get_activation(value, name):
    return _get(activations.get, value, name, "an activation")


def get_initializer(value, name):
    return _get(initializers.get, value, name, "an initializer")


def get_regularizer(value, name):
    return _get(regularizers.get, value, name, "a regularizer")


def get_constraint(value, name):
    return _get(constraints.get, value, name, "a constraint")


def shape_of(value):
    """The static shape of a tensor, array or nested list, as a tuple of
    ints and Nones (None for a dimension unknown until run time)."""
    shape = getattr(value, "shape", None)
    if shape is None:
        import numpy as np

        shape = np.shape(value)
    try:
        return tuple(None if d is None else int(d) for d in shape)
    except TypeError:  # a dimension that is itself a symbolic tensor
        return tuple(d if isinstance(d, int) else None for d in shape)


def _same(a, b):
    """Whether two static dimensions can be equal (None matches anything)."""
    return a is None or b is None or a == b


def _shapes(shapes):
    return "[" + ", ".join(str(s) for s in shapes) + "]"


def check_states(owner, state_shapes, state_size, state_names, batch, what):
    """Checks a list of state shapes against `state_size`.

    Args:
        owner: the layer or cell, for messages.
        state_shapes: the shapes received, one per state.
        state_size: the expected last dimensions, one per state.
        state_names: the state names, one per state (for messages).
        batch: the batch size of the inputs (None when unknown).
        what: the argument's name, for messages.
    """
    expected = [(batch, size) for size in state_size]
    description = (
        f"{owner.__class__.__name__} {owner.name!r} expects `{what}` to be a "
        f"list of {len(state_size)} tensor{'s' if len(state_size) > 1 else ''} "
        f"({', '.join(state_names)}) of shapes {_shapes(expected)}"
    )
    if len(state_shapes) != len(state_size):
        raise ValueError(
            f"{description}. Received {len(state_shapes)} "
            f"tensor{'' if len(state_shapes) == 1 else 's'} of shapes "
            f"{_shapes(state_shapes)}."
        )
    for name, shape, size in zip(state_names, state_shapes, state_size, strict=True):
        if len(shape) != 2 or not _same(shape[-1], size) or not _same(shape[0], batch):
            raise ValueError(
                f"{description}. Received state {name} of shape {shape} "
                f"(all shapes: {_shapes(state_shapes)})."
            )


def check_sequence_call(layer, sequences_shape, input_dim, initial_state, mask_shape):
    """Checks the shapes of a recurrent layer's call before any op runs.

    Args:
        layer: the layer, for messages; its cell gives the state sizes.
        sequences_shape: the shape of the input sequences.
        input_dim: the feature size the layer was built for, or None.
        initial_state: None or the list of the initial states' shapes.
        mask_shape: None or the shape of the mask.
    """
    name = f"{layer.__class__.__name__} {layer.name!r}"
    if len(sequences_shape) != 3:
        raise ValueError(
            f"{name} expects inputs of shape (batch, timesteps, features). "
            f"Received inputs of shape {sequences_shape}."
        )
    batch, steps, features = sequences_shape
    if input_dim is not None and not _same(features, input_dim):
        raise ValueError(
            f"{name} was built for inputs with {input_dim} features, of shape "
            f"(batch, timesteps, {input_dim}). Received inputs of shape "
            f"{sequences_shape}, with {features} features."
        )
    if steps == 0:
        raise ValueError(
            f"{name} needs at least one timestep. Received inputs of shape "
            f"{sequences_shape}, with 0 timesteps."
        )
    if initial_state is not None:
        cell = layer.cell
        sizes = cell.state_size
        sizes = list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]
        names = getattr(cell, "state_names", None) or [
            f"state_{i}" for i in range(len(sizes))
        ]
        check_states(layer, initial_state, sizes, names, batch, "initial_state")
    if mask_shape is not None and (
        len(mask_shape) != 2
        or not _same(mask_shape[0], batch)
        or not _same(mask_shape[1], steps)
    ):
        raise ValueError(
            f"{name} expects a mask of shape (batch, timesteps) = "
            f"{(batch, steps)}, matching its inputs of shape {sequences_shape}. "
            f"Received a mask of shape {mask_shape}."
        )


def check_step_call(cell, inputs_shape, input_dim, state_shapes):
    """Checks the shapes of one call of a cell: inputs `(batch, features)`
    and the list of states."""
    name = f"{cell.__class__.__name__} {cell.name!r}"
    if len(inputs_shape) != 2:
        raise ValueError(
            f"{name} is one step: it expects inputs of shape (batch, features). "
            f"Received inputs of shape {inputs_shape}. To run a sequence, wrap "
            "the cell in keras.layers.RNN or use its layer."
        )
    if input_dim is not None and not _same(inputs_shape[-1], input_dim):
        raise ValueError(
            f"{name} was built for inputs with {input_dim} features, of shape "
            f"(batch, {input_dim}). Received inputs of shape {inputs_shape}."
        )
    check_states(
        cell,
        state_shapes,
        cell.state_size,
        cell.state_names,
        inputs_shape[0],
        "states",
    )
