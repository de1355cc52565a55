"""Constructor arguments handled once, for every cell and layer.

A cell's or a layer's public `__init__` writes its signature out (what IDE
help and the API reference show) and hands everything on with
`super().__init__(**arguments(locals()))`. `keras_gates.GatedCell` then
checks each argument by its name (`check`), keeps it as an attribute of that
name and saves it in its config (`serialize`); `CellLayer` splits a layer's
arguments between its cell and the recurrent layer (`option_defaults`).
Not public.
"""

import functools
import inspect

from keras import activations
from keras import constraints
from keras import initializers
from keras import regularizers

from keras_gates import _validation as v

# Activations whose None means "the cell's `activation`", not the identity.
OPTIONAL_ACTIVATIONS = ("input_activation", "output_activation")

# Names in a signature that are not arguments of their own.
_NOT_OPTIONS = ("self", "args", "kwargs", "__class__")


def arguments(frame_locals):
    """A constructor's arguments from its `locals()`: every named parameter
    and the contents of `**kwargs`."""
    named = {k: val for k, val in frame_locals.items() if k not in _NOT_OPTIONS}
    return {**named, **frame_locals.get("kwargs", {})}


@functools.cache
def option_defaults(cls, base):
    """`{name: default}` of the named parameters of `__init__` of `cls` and of
    its bases down to `base`, the most derived first: the arguments that
    instances of `cls` keep."""
    defaults = {}
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
            defaults.setdefault(name, parameter.default)
    bound = getattr(cls, "layer_arguments", None)
    if bound is not None:  # a cell whose arguments its layer declares
        for name, default in bound[1].items():
            defaults.setdefault(name, default)
    return defaults


def bind(cell_class, layer_class, layer_only):
    """Declares the arguments of `cell_class` to be those of `layer_class`'s
    signature but `layer_only`, in the same positional order: one home for
    each argument, the layer's written-out signature and docstring. The
    cell's `__init__(units, *args, **kwargs)` reads them back with
    `cell_arguments`; `inspect.signature(cell_class)` shows them."""
    signature = inspect.signature(layer_class.__init__)
    parameters = [
        p
        for name, p in signature.parameters.items()
        if name not in layer_only and name not in ("self", "kwargs")
    ]
    positional = [p.name for p in parameters if p.kind == p.POSITIONAL_OR_KEYWORD]
    defaults = {p.name: p.default for p in parameters if p.default is not p.empty}
    cell_class.layer_arguments = (positional, defaults)
    variadic = inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)
    cell_class.__signature__ = inspect.Signature([*parameters, variadic])
    if "__init__" in vars(cell_class):  # what the API pages read
        self_parameter = next(iter(signature.parameters.values()))
        cell_class.__init__.__signature__ = inspect.Signature(
            [self_parameter, *parameters, variadic]
        )
    option_defaults.cache_clear()


def _bound(cell_class):
    """`cell_class.layer_arguments`, importing the layers (whose classes
    bind their cells as they are defined) if no layer module was imported
    yet: a cell module imported alone works too."""
    if not hasattr(cell_class, "layer_arguments"):
        import keras_gates.layers  # noqa: F401

        option_defaults.cache_clear()
    return cell_class.layer_arguments


def cell_arguments(cell_class, units, args, kwargs):
    """The arguments of a cell bound to its layer (`bind`): the defaults of
    the layer's signature, then `units`, `args` by position and `kwargs`."""
    positional, defaults = _bound(cell_class)
    name = cell_class.__name__
    if len(args) > len(positional) - 1:
        raise TypeError(
            f"{name}() takes at most {len(positional)} positional arguments "
            f"({len(args) + 1} given)"
        )
    given = dict(zip(positional[1:], args, strict=False))
    for key in given:
        if key in kwargs:
            raise TypeError(f"{name}() got multiple values for argument '{key}'")
    return {**defaults, "units": units, **given, **kwargs}


def check(name, value, default):
    """`value` checked (and deserialized) by what its name says it is."""
    kinds = (
        ("activation", v.get_activation),
        ("_initializer", v.get_initializer),
        ("_regularizer", v.get_regularizer),
        ("_constraint", v.get_constraint),
        ("dropout", v.check_rate),
        ("_clip", v.check_cell_clip),
        ("_units", v.check_optional_units),
    )
    if name == "units":
        return v.check_units(value)
    if name in OPTIONAL_ACTIVATIONS and value is None:
        return None  # the cell's `activation`
    if name == "seed":
        return v.check_seed(value)
    if name == "chrono_init":
        return v.check_chrono_init(value)
    if name == "norm_epsilon":
        if value is None:
            raise ValueError("Argument `norm_epsilon` must be a positive number.")
        return v.check_cell_clip(value, name)
    for suffix, checker in kinds:
        if name.endswith(suffix):
            return checker(value, name)
    if isinstance(default, bool):
        return v.check_bool(value, name)
    if isinstance(default, float):
        return v.check_number(value, name)
    return value


def serialize(name, value):
    """`value` as a config holds it."""
    if name in OPTIONAL_ACTIVATIONS and value is None:
        return None
    for suffix, module in (
        ("activation", activations),
        ("_initializer", initializers),
        ("_regularizer", regularizers),
        ("_constraint", constraints),
    ):
        if name.endswith(suffix):
            return module.serialize(value)
    return list(value) if isinstance(value, tuple) else value
