"""How a keras-gates layer runs its cell over a sequence.

`choose_path` is the one place that decides how: step by step, hoisted, or
with a parallel scan. `run` then runs the cell through its protocol
(`keras_gates.GatedCell`) with Keras' semantics for masks, `go_backwards`
and states, the same on every backend. Not public.
"""

import contextlib
import dataclasses

import keras
from keras import ops
from keras import tree

from keras_gates._device import accelerator_available
from keras_gates.cells.protocol import declared_output_state
from keras_gates.cells.protocol import project
from keras_gates.engine.loops import time_loop
from keras_gates.ops import linear_scan
from keras_gates.ops import log_linear_scan
from keras_gates.ops.scans import LOG_ZERO

PATHS = ("steps", "hoisted", "scan", "compiled", "parallel", "chunkwise")
# The forms of a cell with `forms` (the mLSTM's): "recurrent" is its steps.
FORMS = ("auto", "recurrent", "parallel", "chunkwise")
# `form="auto"`: the parallel form up to this many steps, the chunkwise
# form above. On a CPU the chunkwise form was measured as fast as the
# parallel one at 128 steps and faster from 256 on (1/15 of its time in
# training at 2,048; the Speed guide, "The mLSTM's forms"): the parallel
# form runs where the sequence is one chunk (64 steps, the default), where
# the two do the same work. No GPU or TPU has been measured yet: they take
# the CPU's rule until one is (`python -m benchmarks.run --preset gpu`).
PARALLEL_STEPS_CPU = 64
PARALLEL_STEPS_ACCELERATOR = 64


# Set while an exporter traces a model: every form is the recurrent one.
_exporting = False


@contextlib.contextmanager
def recurrent_forms():
    """Within it, every layer with forms runs its recurrent form (the steps),
    whatever its `form`: what the exporters trace, one loop of portable
    ops (TFLite's WHILE, ONNX's Loop) that computes the same numbers."""
    global _exporting
    before, _exporting = _exporting, True
    try:
        yield
    finally:
        _exporting = before


def choose_form(form, steps, *, unroll=False):
    """The form of the mLSTM's call (`MLSTM(form=...)`) over `steps` steps
    (None where unknown until the call runs).

    `"auto"` takes the recurrent form (the steps) for an empty or one-step
    sequence and with `unroll=True`; the parallel form up to
    `PARALLEL_STEPS_CPU` steps on a CPU (`PARALLEL_STEPS_ACCELERATOR` on a
    GPU or TPU), whose work grows with the square of the length; the
    chunkwise form beyond, or where the length is unknown. Every form
    computes the same numbers. Within `recurrent_forms()` (the exporters')
    every form is the recurrent one.
    """
    if _exporting:
        return "recurrent"
    if form != "auto":
        return form
    if unroll or (steps is not None and steps <= 1):
        return "recurrent"
    limit = (
        PARALLEL_STEPS_ACCELERATOR if accelerator_available() else PARALLEL_STEPS_CPU
    )
    if steps is not None and steps <= limit:
        return "parallel"
    return "chunkwise"


def choose_path(
    cell, fast_path, *, training=False, unroll=False, form=None, steps=None
):
    """The path of a layer with this cell and `fast_path` argument.

    - `"steps"`: `input_side` and `recurrent_step` of each step in one loop
      over time.
    - `"hoisted"`: `input_side` of every step at once (`x @ kernel` as one
      GEMM over batch × steps rows), then a loop of `recurrent_step` alone.
    - `"scan"`: for a cell linear in its state (`is_linear`), the whole
      recurrence as a parallel scan, ceil(log2 T) element-wise rounds.
    - `"compiled"`: a training call (`training=True`) of the peephole LSTM or
      the CIFG, masked or not, on TensorFlow without an accelerator: the
      loop and a hand-written backward pass, each compiled by XLA
      (`keras_gates/engine/_tf_compiled_lstm.py`, which says which options it
      covers; the others take the steps).

    `fast_path=True` takes the scan where the cell is linear and the hoisted
    loop otherwise, `False` the steps, and `"auto"` the fast path on a GPU
    or TPU and the steps (or, where it applies, the compiled loops) on a CPU.
    The Speed guide ("Which path runs") says why the step loop is the
    CPU's default and has the measured times.

    A cell with several forms (`forms`, the mLSTM's) takes `form`, as
    `choose_form` resolves it for `steps` steps: `"parallel"` and
    `"chunkwise"` are paths of their own (`cell.run_form`), `"recurrent"`
    the steps or the hoisted loop as `fast_path` says.
    """
    if form is not None and getattr(cell, "forms", False):
        chosen = choose_form(form, steps, unroll=unroll)
        if chosen != "recurrent":
            return chosen
    if fast_path is False:
        return "steps"
    if fast_path == "auto" and not accelerator_available():
        compiled = training is True and not unroll
        return "compiled" if compiled and _compiled_loops_compute(cell) else "steps"
    return "scan" if cell.is_linear else "hoisted"


def _compiled_loops_compute(cell):
    """Whether the compiled loops, TensorFlow's, compute what `cell` does."""
    if keras.backend.backend() != "tensorflow":
        return False
    from keras_gates.engine import _tf_compiled_lstm

    return _tf_compiled_lstm.supports(cell)


def _last(time_major, before_first):
    """`time_major[-1]`, or `before_first` when the sequence is empty
    (which may be known at run time only)."""
    steps = time_major.shape[0]
    if steps is None:
        first = ops.expand_dims(before_first, 0)
        time_major = ops.concatenate([first, time_major], axis=0)
    elif steps == 0:
        return before_first
    return time_major[-1]


@dataclasses.dataclass(frozen=True)
class Paths:
    """The paths (`choose_path`) a layer's calls take in training and in
    inference, masked or not (a mask changes no path)."""

    training: str
    inference: str

    @classmethod
    def of(cls, cell, fast_path, unroll=False, form=None, steps=None):
        def path(training):
            return choose_path(
                cell,
                fast_path,
                training=training,
                unroll=unroll,
                form=form,
                steps=steps,
            )

        return cls(training=path(True), inference=path(False))


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How `run` runs a cell: the path (`choose_path`) and the layer's
    options that change the loop."""

    path: str
    go_backwards: bool = False
    unroll: bool = False
    zero_output_for_mask: bool = False
    return_sequences: bool = True
    stateful: bool = False
    chunk_size: int = 64

    @classmethod
    def of(cls, layer, training, steps=None):
        """The options of a `keras_gates.GatedRNN` for one call of `steps`
        steps."""
        form = getattr(layer, "form", None)
        path = choose_path(
            layer.cell,
            layer.fast_path,
            training=training,
            unroll=layer.unroll,
            form=form,
            steps=steps,
        )
        return cls(
            path,
            go_backwards=layer.go_backwards,
            unroll=layer.unroll,
            zero_output_for_mask=layer.zero_output_for_mask,
            return_sequences=layer.return_sequences,
            stateful=layer.stateful,
            chunk_size=getattr(layer, "chunk_size", 64),
        )


def run(cell, sequences, initial_state, mask, training, previous_output, options):
    """Runs `cell` over `sequences` `(batch, steps, features)` as `options`
    (a `RunOptions`) say.

    A masked step keeps the states, and outputs zeros with
    `zero_output_for_mask` or else repeats the previous output, which starts
    at `previous_output` (zeros, or a stateful layer's last output). One
    input and one recurrent dropout mask are drawn per sequence.

    Returns:
        `(last_output, outputs, final_states)` as `keras.layers.RNN`'s
        `inner_loop`: outputs `(batch, steps, units)` in processing order
        (None when not `return_sequences`, unless the path has them anyway).
    """
    path = options.path
    go_backwards, unroll = options.go_backwards, options.unroll
    zero_output_for_mask = options.zero_output_for_mask
    return_sequences, stateful = options.return_sequences, options.stateful
    if tree.is_nested(mask):
        mask = mask[0]
    if mask is not None:
        mask = ops.cast(mask, "bool")
    input_mask, recurrent_mask = cell.dropout_masks(sequences[:, 0], training)
    # Time-major from here on, on every path: input_side sees one layout.
    inputs = ops.transpose(sequences, (1, 0, 2))
    if mask is not None:
        mask = ops.transpose(mask, (1, 0))
    if input_mask is not None and not cell.applies_input_dropout:
        # Dropped once for the whole sequence, not at every step.
        inputs = inputs * input_mask
        input_mask = None
    if go_backwards:
        inputs = ops.flip(inputs, axis=0)
        mask = None if mask is None else ops.flip(mask, axis=0)
    constants = cell.step_constants()
    initial_state = list(initial_state)
    masking = (mask, previous_output, zero_output_for_mask)
    if path == "scan":
        return _scan(cell, inputs, initial_state, input_mask, masking)
    if path in ("parallel", "chunkwise"):
        projected = project(cell, inputs, constants, input_mask)
        outputs, states = cell.run_form(
            path, projected, initial_state, mask, options.chunk_size
        )
        return _masked_outputs(outputs, states, masking)

    if path == "compiled" and inputs.shape[0] != 0:
        from keras_gates.engine import _tf_compiled_lstm

        outputs, h, c = _tf_compiled_lstm.run(cell, inputs, *initial_state, mask)
        if mask is None:
            # An empty sequence (known when it runs) repeats the previous
            # output.
            last_output = ops.where(ops.shape(inputs)[0] > 0, h, previous_output)
        else:
            # The loops keep h at a masked step; the output there is zeros,
            # or h once a step of the row was valid and the previous output
            # before that.
            valid = ops.expand_dims(mask, -1)
            if zero_output_for_mask:
                outputs = ops.where(valid, outputs, 0.0)
            else:
                seen = ops.cumsum(ops.cast(valid, "int32"), axis=0) > 0
                outputs = ops.where(seen, outputs, previous_output)
            last_output = _last(outputs, previous_output)
        if return_sequences:
            return last_output, ops.transpose(outputs, (1, 0, 2)), [h, c]
        return last_output, None, [h, c]

    if path == "hoisted":
        # The largest tensor of the call, batch x steps x k units, is made
        # time-major from the start and never transposed.
        inputs = project(cell, inputs, constants, input_mask)
    masked = mask is not None
    xs = (inputs, ops.expand_dims(mask, -1)) if masked else inputs

    # As in keras.layers.RNN: fresh state tensors at each step, which torch's
    # autograd needs when a stateful layer assigns its states in place.
    copy_states = keras.backend.backend() == "torch" and stateful

    # The previous output rides in the carry only where a step may repeat it
    # or where the cell does not declare it its first state (`output_state`,
    # checked when an own cell's layer is built); otherwise the last output
    # is the final first state (one loop variable fewer). Either way the
    # carry's first tensor is the output, which the TensorFlow loop reads.
    carry_output = masked or declared_output_state(cell) != 0

    def step(carry, x):
        previous, *states = carry if carry_output else (None, *carry)
        if copy_states:
            states = [ops.copy(s) for s in states]
        if masked:
            x, valid = x
        projected = x if path == "hoisted" else project(cell, x, constants, input_mask)
        output, new_states, _ = cell.recurrent_step(
            projected, states, constants, recurrent_mask
        )
        if masked:
            new_states = [
                ops.where(valid, new, old)
                for new, old in zip(new_states, states, strict=True)
            ]
            kept = ops.zeros_like(output) if zero_output_for_mask else previous
            output = ops.where(valid, output, kept)
        if not carry_output:
            return tuple(new_states), output
        return (output, *new_states), output

    carry = tuple(initial_state)
    if carry_output:
        carry = (previous_output, *carry)
    carry, outputs = time_loop(
        step, xs, carry, unroll=unroll, return_all=return_sequences
    )
    if carry_output:
        last_output, *states = carry
    else:
        states = list(carry)
        # An empty sequence leaves the states as they came in; its last
        # output is then the one before it, not the state.
        last_output = states[0]
        time_major = tree.flatten(inputs)[0]
        if time_major.shape[0] == 0:
            last_output = previous_output
        elif time_major.shape[0] is None:  # known when it runs
            some = ops.shape(time_major)[0] > 0
            last_output = ops.where(some, last_output, previous_output)
    if outputs is not None:
        outputs = ops.transpose(outputs, (1, 0, 2))
    return last_output, outputs, states


def _scan(cell, inputs, initial_state, input_mask, masking):
    """The whole recurrence of a linear cell as parallel scans over the
    time-major `inputs`; the outputs come back batch-major. `masking` is
    `(mask, previous_output, zero_output_for_mask)`."""
    mask, previous_output, zero_output_for_mask = masking
    projected = project(cell, inputs, cell.step_constants(), input_mask)
    a, b = cell.linear_recurrence(projected)
    valid = None if mask is None else ops.expand_dims(mask, -1)
    in_log_space = cell.log_space_scan
    if valid is not None:  # a masked step keeps the state exactly: 1 * s + 0
        one, zero = (0.0, LOG_ZERO) if in_log_space else (1.0, 0.0)
        a, b = ops.where(valid, a, one), ops.where(valid, b, zero)
    (initial,) = initial_state
    scan = log_linear_scan if in_log_space else linear_scan
    states = scan(a, b, initial, axis=0)
    outputs = cell.linear_output(projected, states)
    final_state = _last(states, initial)
    return _masked_outputs(outputs, [final_state], masking)


def _masked_outputs(outputs, final_states, masking):
    """`run`'s result from the time-major outputs of every step as the
    cell computes them: a masked step's output becomes zeros or the
    previous output. The outputs come back batch-major."""
    mask, previous_output, zero_output_for_mask = masking
    valid = None if mask is None else ops.expand_dims(mask, -1)
    if valid is not None:
        if zero_output_for_mask:
            outputs = ops.where(valid, outputs, 0.0)
        else:
            # Repeating the previous output is itself a linear recurrence,
            # y_t = (1 - m_t) y_{t-1} + m_t o_t, exact since m is 0 or 1;
            # `where`, not a product: a masked step's output may be inf/NaN.
            keep = ops.cast(valid, outputs.dtype)
            outputs = linear_scan(
                1.0 - keep, ops.where(valid, outputs, 0.0), previous_output, axis=0
            )
    last_output = _last(outputs, previous_output)
    return last_output, ops.transpose(outputs, (1, 0, 2)), final_states
