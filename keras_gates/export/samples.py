"""Sample data for the exporters, in one form for all of them.

The int8 calibration of `to_tflite`, the calibration of `to_tflite_micro`
and the parity checks (`check=`) all take the model's input sequences as a
user has them: one array `(sequences, steps, ...)` for a one-input model,
or an iterable of sequences `(steps, ...)` or of batches `(rows, steps,
...)` (sequences of different lengths, or a `tf.data` pipeline's arrays);
a model of several inputs takes an iterable of samples, each a list of
arrays, one per input. `batches` turns any of these into batches of the
exported model's fixed size; a streaming model's per-step samples are
recorded from them by running the float step function (`record_steps`).
"""

import numpy as np

# The most calibration steps kept, evenly spaced over every step of every
# sequence.
MAX_CALIBRATION_STEPS = 2000


def _expected(model):
    return "; ".join(
        f"input {i}: (sequences, {', '.join(str(n) for n in t.shape[1:])})"
        for i, t in enumerate(model.inputs)
    )


def _refuse(model, name, detail):
    return ValueError(
        f"`{name}` must be the model's input sequences: one array "
        "(sequences, steps, ...) or an iterable of sequences (steps, ...) or "
        "of batches (rows, steps, ...) for a one-input model, an iterable of "
        f"lists of arrays (one per input) otherwise ({_expected(model)}). "
        f"{detail}"
    )


def _as_rows(value, tensor, model, name):
    """`value` as an array of rows `(rows, ...)` for the input `tensor`."""
    try:
        array = np.asarray(value)
    except ValueError as e:  # ragged
        raise _refuse(model, name, f"Received ragged data: {e}") from e
    rank = len(tensor.shape)
    if array.ndim == rank - 1:
        array = array[None]
    if array.ndim != rank or array.dtype.kind not in "fiub" or 0 in array.shape[:2]:
        raise _refuse(
            model,
            name,
            f"Received an array of shape {array.shape}, dtype {array.dtype}.",
        )
    for got, want in zip(array.shape[2:], tensor.shape[2:], strict=True):
        if want is not None and got != want:
            raise _refuse(model, name, f"Received steps of shape {array.shape[2:]}.")
    if not np.all(np.isfinite(array)):
        raise _refuse(model, name, "Received NaN or infinite values.")
    dtype = np.dtype(str(tensor.dtype)) if "int" in str(tensor.dtype) else "float32"
    return array.astype(dtype)


def _items(data, model, name):
    """The data as a list of samples, each a list of row arrays (one per
    model input)."""
    if data is None or isinstance(data, (str, bytes, dict)):
        raise _refuse(model, name, f"Received {type(data).__name__}.")
    count = len(model.inputs)
    if count == 1:
        try:
            whole = np.asarray(data)
        except ValueError:  # ragged: an iterable of sequences
            whole = None
        rank = len(model.inputs[0].shape)
        if (
            whole is not None
            and whole.dtype != object
            and rank - 1 <= whole.ndim <= rank
        ):
            return [[_as_rows(whole, model.inputs[0], model, name)]]
    try:
        items = list(data)
    except TypeError as e:
        raise _refuse(model, name, f"Received {type(data).__name__}.") from e
    samples = []
    for item in items:
        parts = list(item) if isinstance(item, (list, tuple)) else [item]
        if count == 1 and len(parts) != 1:
            parts = [item]  # a sequence given as a list of steps
        if len(parts) != count:
            raise _refuse(model, name, f"Received a sample of {len(parts)} arrays.")
        samples.append(
            [
                _as_rows(part, tensor, model, name)
                for part, tensor in zip(parts, model.inputs, strict=True)
            ]
        )
    if not samples:
        raise _refuse(model, name, "Received no sequences.")
    return samples


def batches(data, model, batch_size, name="representative_data"):
    """The data as a list of batches, each a list of arrays (one per model
    input) of exactly `batch_size` rows (None: as given): each sample's rows
    in turn, its last batch filled up with its own rows again."""
    result = []
    for sample in _items(data, model, name):
        rows = len(sample[0])
        if any(len(part) != rows for part in sample):
            raise _refuse(model, name, "Received inputs with different row counts.")
        if batch_size is None:
            result.append(sample)
            continue
        order = np.arange(max(rows, batch_size * -(-rows // batch_size))) % rows
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            result.append([part[index] for part in sample])
    return result


def _groups(data, model, name):
    """The sequences of a one-input model grouped by shape: arrays
    `(rows, steps, ...)`, each run as one batch."""
    if len(model.inputs) != 1:
        raise ValueError(
            "A one-step model (streaming or TFLite Micro) takes one input; "
            f"this model has {len(model.inputs)}."
        )
    groups = {}
    for (rows,) in _items(data, model, name):
        groups.setdefault(rows.shape[1:], []).append(rows)
    return [np.concatenate(g) for g in groups.values()]


def check_ranges(samples, labels, name="representative_data"):
    """Raises a ValueError naming the first tensor (of `labels`, in the
    samples' order) that takes one value only over all `samples`:
    quantization has no range to scale it by (TFLite's calibration then
    writes a model that is wrong or crashes the interpreter)."""
    for i, label in enumerate(labels):
        low = min(float(np.min(sample[i])) for sample in samples)
        high = max(float(np.max(sample[i])) for sample in samples)
        if low == high:
            raise ValueError(
                f"`{name}` gives the model's {label} one value only ({low:g}) "
                "over every step, so quantization has no range to scale it "
                "by: calibrate on real sequences, whose inputs vary and move "
                "the states (constant or all-zero data does not)."
            )


def record_steps(model, data, batch_size, masking=True, name="representative_data"):
    """The arguments `[inputs, state_0, state_1, ...]` of each step of the
    streaming model, in batches of `batch_size` rows, as the float model
    reaches them on the sequences of `data` from zero states: the states
    are calibrated on the values they take. `masking` as for
    `step_function`: False for a step model that leaves masks out (TFLite
    Micro's). At most `MAX_CALIBRATION_STEPS` samples, evenly spaced over
    every step of every sequence.

    Raises:
        ValueError: if a tensor takes one value only over all steps (an
            empty range, which quantization cannot scale), naming it.
    """
    from keras_gates.export.streaming import state_names
    from keras_gates.export.streaming import step_function
    from keras_gates.export.tensorflow_support import tensorflow

    tf = tensorflow()
    recorded = []  # (batch of inputs, [batch of each state])
    for sequences in _groups(data, model, name):
        step, specs = step_function(model, batch_size=len(sequences), masking=masking)
        step = tf.function(step, input_signature=specs)
        states = [np.zeros(s.shape, s.dtype.as_numpy_dtype) for s in specs[1:]]
        for t in range(sequences.shape[1]):
            inputs = sequences[:, t].astype(specs[0].dtype.as_numpy_dtype)
            recorded.append([inputs, *states])
            result = step(inputs, *states)
            states = [result[f"state_{i}"].numpy() for i in range(len(states))]
    names = state_names(model, masking=masking)
    labels = ["inputs"] + [f"state_{i} ({n})" for i, n in enumerate(names)]
    check_ranges(recorded, labels, name)
    rows = [
        [value[r : r + 1] for value in step_args]
        for step_args in recorded
        for r in range(len(step_args[0]))
    ]
    keep = np.unique(
        np.linspace(0, len(rows) - 1, min(len(rows), MAX_CALIBRATION_STEPS))
    ).astype(int)
    rows = [rows[k] for k in keep]
    groups = [rows[k : k + batch_size] for k in range(0, len(rows), batch_size)]
    while len(groups[-1]) < batch_size:  # filled up with its own rows again
        groups[-1] += groups[-1][: batch_size - len(groups[-1])]
    return [
        [np.concatenate(parts) for parts in zip(*group, strict=True)]
        for group in groups
    ]
