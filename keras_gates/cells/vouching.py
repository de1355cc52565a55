"""Declarations that a cell's class makes about its own step, and when they
hold. Not public.

A built-in cell declares what its tests verified (`protocol_tested`) and
describes itself to the runners that take an LSTM (`lstm_form`). A
subclass that replaces the step must not inherit either: `vouched_for`
holds only where the class that makes the declaration is at least as
derived as every class that defines a part of the step.
"""

# What a cell's step is made of.
STEP = ("__init__", "input_side", "recurrent_step", "step_constants")


def vouched_for(cell, declaration, methods=STEP):
    """Whether the class of `cell` takes `declaration` (an attribute or a
    method) from a class at least as derived as each class that defines
    `methods`: a declaration written for the step that the cell runs, not
    one inherited by a subclass that replaced the step."""
    declarer = _defined_by(type(cell), declaration)
    if declarer is None:
        return False
    return all(
        issubclass(declarer, definer)
        for definer in (_defined_by(type(cell), m) for m in methods)
        if definer is not None
    )


def _defined_by(cls, name):
    return next((k for k in cls.__mro__ if name in vars(k)), None)
