"""Up-front checks of constructor arguments.

Every check raises as soon as the object is constructed, with a message that
names the argument and repeats the value received: a `TypeError` for a value
of the wrong type, a `ValueError` for a value of the right type that is out of
range.
"""

import math
import numbers

from keras import activations
from keras import constraints
from keras import initializers
from keras import regularizers


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_units(units):
    """Returns `units` as an `int` after checking it is a positive integer."""
    if not _is_int(units):
        raise TypeError(
            "Argument `units` must be a positive integer. "
            f"Received: units={units!r} of type {type(units).__name__}"
        )
    if units <= 0:
        raise ValueError(
            f"Argument `units` must be a positive integer. Received: units={units}"
        )
    return int(units)


def check_bool(value, name):
    if not isinstance(value, bool):
        raise TypeError(
            f"Argument `{name}` must be a bool. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    return value


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


def check_cell_clip(cell_clip):
    """Checks `cell_clip`: None, or a positive finite number."""
    if cell_clip is None:
        return None
    if not isinstance(cell_clip, numbers.Real) or isinstance(cell_clip, bool):
        raise TypeError(
            "Argument `cell_clip` must be None or a positive number. "
            f"Received: cell_clip={cell_clip!r} of type {type(cell_clip).__name__}"
        )
    if not (cell_clip > 0 and math.isfinite(cell_clip)):
        raise ValueError(
            "Argument `cell_clip` must be None or a positive finite number. "
            f"Received: cell_clip={cell_clip}"
        )
    return float(cell_clip)


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
        raise ValueError(
            f"Argument `{name}` could not be interpreted as {kind}. "
            f"Received: {name}={value!r}"
        ) from e


def get_activation(value, name):
    return _get(activations.get, value, name, "an activation")


def get_initializer(value, name):
    return _get(initializers.get, value, name, "an initializer")


def get_regularizer(value, name):
    return _get(regularizers.get, value, name, "a regularizer")


def get_constraint(value, name):
    return _get(constraints.get, value, name, "a constraint")
