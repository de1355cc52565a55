"""Constructor arguments declared once, in the signature of the class that
takes them.

A cell writes its `__init__` out, as `keras.layers.LSTMCell` does, and
annotates each argument with what it is: `cell_clip: Clip = None`. The
annotation is the argument's check and its form in the config; the name
and the default are the signature's. `GatedCell.__init__` reads the
declarations of every class of the cell (`declared`), checks each argument
by its kind, keeps it as an attribute of its name and saves it in the
config. An argument without an annotation (in your own cell) is checked by
its default: a bool default takes booleans, a float default numbers; any
other is kept as given. Not public.
"""

import functools
import inspect

from keras import activations
from keras import constraints
from keras import initializers
from keras import regularizers

from keras_gates import _validation as v

# Names in a signature that are not arguments of their own.
_NOT_OPTIONS = ("self", "args", "kwargs", "__class__")


class Kind:
    """What an argument is: how a given value is checked (and
    deserialized), and how the config holds it."""

    def __init__(self, name, check, serialize=None):
        self.name = name
        self._check = check
        self._serialize = serialize

    def __repr__(self):  # as `help()` and the API pages show the annotation
        return self.name

    def check(self, value, argument):
        return self._check(value, argument)

    def serialize(self, value):
        if self._serialize is None or value is None:
            return list(value) if isinstance(value, tuple) else value
        return self._serialize(value)


def _optional(check):
    return lambda value, name: None if value is None else check(value, name)


def _epsilon(value, name):
    if value is None:
        raise ValueError(f"Argument `{name}` must be a positive number.")
    return v.check_cell_clip(value, name)


Units = Kind("Units", v.check_units)
OptionalUnits = Kind("OptionalUnits", v.check_optional_units)
Activation = Kind("Activation", v.get_activation, activations.serialize)
# None means the cell's `activation`, not the identity.
OptionalActivation = Kind(
    "OptionalActivation", _optional(v.get_activation), activations.serialize
)
Initializer = Kind("Initializer", v.get_initializer, initializers.serialize)
Regularizer = Kind("Regularizer", v.get_regularizer, regularizers.serialize)
Constraint = Kind("Constraint", v.get_constraint, constraints.serialize)
Rate = Kind("Rate", v.check_rate)
Clip = Kind("Clip", v.check_cell_clip)
Epsilon = Kind("Epsilon", _epsilon)
Seed = Kind("Seed", lambda value, name: v.check_seed(value))
Timescale = Kind("Timescale", lambda value, name: v.check_chrono_init(value))
Flag = Kind("Flag", v.check_bool)
Number = Kind("Number", v.check_number)
# Checked by the cell that takes it (a choice among names, a tuple of gates).
Plain = Kind("Plain", lambda value, name: value)


def _kind_of(parameter):
    if isinstance(parameter.annotation, Kind):
        return parameter.annotation
    if isinstance(parameter.default, bool):
        return Flag
    if isinstance(parameter.default, float):
        return Number
    return Plain


def arguments(frame_locals):
    """A constructor's arguments from its `locals()`: every named parameter
    and the contents of `**kwargs`."""
    named = {k: val for k, val in frame_locals.items() if k not in _NOT_OPTIONS}
    return {**named, **frame_locals.get("kwargs", {})}


@functools.cache
def declared(cls, base):
    """`{name: (kind, default)}` of the named parameters of `__init__` of
    `cls` and of its bases down to `base`, the most derived first: the
    arguments that instances of `cls` keep, and how each is checked."""
    found = {}
    for klass in cls.__mro__:
        if not (isinstance(klass, type) and issubclass(klass, base)):
            continue
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for name, parameter in inspect.signature(init).parameters.items():
            if name in _NOT_OPTIONS or parameter.kind in (
                parameter.VAR_POSITIONAL,
                parameter.VAR_KEYWORD,
            ):
                continue
            found.setdefault(name, (_kind_of(parameter), parameter.default))
    return found
