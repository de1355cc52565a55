"""The rules of the cell protocol (`keras_gates.GatedCell`) that the cells,
the engine, the exporters and `keras_gates.inspect` share: input dropout
before `input_side`, the declared `output_state` and when it is relied on,
a step under the cell's dtype policy, and the check of an own cell's
declarations on values (`check`). Not public."""

import warnings

import keras
import numpy as np
from keras import ops
from keras import tree

from keras_gates import _validation as v
from keras_gates.cells.vouching import vouched_for


def _same(a, b):
    """Whether the nested tensors `a` and `b` hold the same values (float32
    rounding aside); None when they cannot be read (symbolic)."""
    try:
        a = [ops.convert_to_numpy(t).astype("float64") for t in tree.flatten(a)]
        b = [ops.convert_to_numpy(t).astype("float64") for t in tree.flatten(b)]
    except Exception:
        return None
    return all(
        x.shape == y.shape and np.allclose(x, y, rtol=1e-3, atol=1e-6)
        for x, y in zip(a, b, strict=True)
    )


class _UnderPolicy(keras.layers.Layer):
    """A layer of a given dtype policy that calls `function`: run through
    it, a mixed-precision cell reads its float32 weights in its compute
    dtype, as inside its layer's call. Not public."""

    def __init__(self, function, dtype):
        super().__init__(dtype=dtype)
        self.function = function
        self.supports_masking = True  # inputs may carry a mask; it is ignored

    def call(self, inputs, *args):
        return self.function(inputs, *args)

    def compute_mask(self, inputs, mask=None):
        return None


def run_under_policy(function, policy, inputs, *args):
    """`function(inputs, *args)` with the weights it reads cast to the
    compute dtype of `policy` (a `keras.DTypePolicy`), as a layer's call."""
    return _UnderPolicy(function, policy)(inputs, *args)


def masked(x, dropout_mask):
    """`x` times its dropout mask, or `x` when there is none."""
    return x if dropout_mask is None else x * dropout_mask


def declared_output_state(cell):
    """The cell's `output_state` where the layers may rely on it: always for
    the cells of keras-gates (their tests check it), for an own cell once
    `check_protocol` has verified it on values; None otherwise (the layers
    then carry the output)."""
    index = getattr(cell, "output_state", None)
    if index is None:
        return None
    trusted = protocol_vouched_for(cell)
    return index if trusted or getattr(cell, "_output_state_checked", False) else None


def protocol_vouched_for(cell):
    """Whether the cell's class declares `protocol_tested = True` for the
    step it runs (a subclass that replaces the step is checked again): the
    layers then skip `check_protocol`, and rely on a declared
    `output_state`."""
    return bool(getattr(cell, "protocol_tested", False)) and vouched_for(
        cell, "protocol_tested"
    )


def project(cell, inputs, constants, input_mask):
    """`cell.input_side` of `inputs` with the input dropout rule of the
    protocol: the inputs are dropped here, unless the cell declares
    `applies_input_dropout`, in which case it receives the mask."""
    if cell.applies_input_dropout:
        return cell.input_side(inputs, constants, input_mask)
    return cell.input_side(masked(inputs, input_mask), constants)


def check(cell, input_dim):
    """`GatedCell.check_protocol` of `cell`, which says what it checks."""
    name = type(cell).__name__
    if not isinstance(cell.state_size, (list, tuple)):
        raise ValueError(
            f"{name}.state_size must be a list of sizes, one per state "
            f"(`[units]` for one state). Received: {cell.state_size!r}"
        )
    sizes = list(cell.state_size)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, input_dim))
    states = [rng.normal(size=(2, size)) for size in sizes]
    output, new_states, _ = _checked_step(cell, x, states, sizes)
    if _same(output, output) is None:
        # Built inside a traced function (model.fit on a model that
        # was not built): no values to check. The layers then carry
        # the output whatever `output_state` says.
        if cell.recurrent_dropout > 0.0 or (
            cell.applies_input_dropout and cell.dropout > 0.0
        ):
            warnings.warn(
                f"{name} was built inside a traced function, where its "
                "use of the dropout masks cannot be checked on values. "
                "Build its layer before training (on a keras.Input, or "
                "by calling it on data) to have it checked.",
                stacklevel=2,
            )
        return
    if cell.output_state is not None:
        _check_output_state(cell, output, new_states)
        cell._output_state_checked = True
    if cell.recurrent_dropout > 0.0:
        zeros = np.zeros((2, sizes[cell.recurrent_dropout_state]))
        dropped = _checked_step(cell, x, states, sizes, recurrent_mask=zeros)
        if _same((output, new_states), dropped[:2]) is True:
            raise ValueError(
                f"{name} takes recurrent_dropout={cell.recurrent_dropout} "
                "but its recurrent_step ignores `recurrent_mask`: a "
                "step with the state fully dropped equals one without "
                "dropout. Multiply state "
                f"{cell.recurrent_dropout_state} by `recurrent_mask` "
                "where it enters the recurrent product (see Write your "
                "own cell)."
            )
    if cell.applies_input_dropout and cell.dropout > 0.0:
        zeros = np.zeros((2, input_dim))
        dropped = _checked_step(cell, x, states, sizes, input_mask=zeros)
        if _same((output, new_states), dropped[:2]) is True:
            raise ValueError(
                f"{name} declares applies_input_dropout = True and takes "
                f"dropout={cell.dropout}, but its input_side ignores "
                "`dropout_mask`: a step with every input dropped equals "
                "one without dropout. Multiply the inputs by "
                "`dropout_mask`, or leave applies_input_dropout False "
                "and the layer drops the inputs before input_side."
            )


def _checked_step(cell, x, states, sizes, input_mask=None, recurrent_mask=None):
    """One step of `check_protocol` under the cell's dtype policy, its
    result checked against the declarations."""
    name = type(cell).__name__
    failure = []  # raised inside the call, whose message Keras decorates

    def step(x, states, masks):
        try:
            constants = cell.step_constants()
            input_mask, recurrent_mask = masks
            projected = project(cell, x, constants, input_mask)
            return cell.recurrent_step(projected, states, constants, recurrent_mask)
        except Exception as e:
            failure.append(e)
            return x

    dtype = cell.compute_dtype
    tensors = [
        None if t is None else ops.convert_to_tensor(t, dtype)
        for t in (x, *states, input_mask, recurrent_mask)
    ]
    x, *states, input_mask, recurrent_mask = tensors
    result = run_under_policy(
        step, cell.dtype_policy, x, states, (input_mask, recurrent_mask)
    )
    if failure:
        (e,) = failure
        if isinstance(e, NotImplementedError):
            raise e
        raise ValueError(
            f"One step of {name} on inputs of {x.shape[-1]} features and "
            f"states of the declared state_size {sizes} failed: "
            f"{' '.join(str(e).split())} Check state_size (one size per "
            "state, in the order recurrent_step reads them) and the "
            "weights' shapes."
        ) from e
    if not isinstance(result, (list, tuple)) or len(result) != 3:
        raise ValueError(
            f"{name}.recurrent_step must return (output, new_states, "
            f"gates). Received: {type(result).__name__}"
        )
    output, new_states, gates = result
    if not isinstance(new_states, (list, tuple)):
        raise ValueError(
            f"{name}.recurrent_step must return its new states as a list "
            f"(one tensor per state, as it receives them), even for one "
            f"state: `[c]`, not `c`. Received: {type(new_states).__name__}"
        )
    got = [v.shape_of(s)[-1] for s in new_states]
    if got != sizes:
        raise ValueError(
            f"{name}.recurrent_step returned {len(got)} states of sizes "
            f"{got}, but the cell declares state_size {sizes}."
        )
    if v.shape_of(output)[-1] != cell.output_size:
        raise ValueError(
            f"{name}.recurrent_step returned outputs of size "
            f"{v.shape_of(output)[-1]}, but the cell declares output_size "
            f"{cell.output_size}."
        )
    if not isinstance(gates, dict) or sorted(gates) != sorted(cell.GATES):
        raise ValueError(
            f"{name}.recurrent_step returned the gates "
            f"{sorted(gates) if isinstance(gates, dict) else gates!r}, but "
            f"the cell declares GATES = {cell.GATES} (return a dict of each "
            "gate's value by its name)."
        )
    return output, list(new_states), gates


def _check_output_state(cell, output, new_states):
    name, k = type(cell).__name__, cell.output_state
    if not isinstance(k, int) or not 0 <= k < len(new_states):
        raise ValueError(
            f"{name}.output_state must be None or the index of one of its "
            f"{len(new_states)} states. Received: {k!r}"
        )
    if (
        v.shape_of(new_states[k])[-1] != cell.output_size
        or _same(output, new_states[k]) is False
    ):
        raise ValueError(
            f"{name} declares output_state = {k}, but the output of its "
            f"recurrent_step differs from its new state {k} "
            f"({cell.state_names[k] if k < len(cell.state_names) else k!r}). "
            "The layers would return that state as the last output. Set "
            "output_state = None (the default: the layers carry the "
            "output) or return the state itself as the output."
        )
