"""Runs exported .tflite models with the LiteRT interpreter (`ai-edge-litert`,
which replaces the deprecated `tf.lite.Interpreter`)."""

import numpy as np

__all__ = ["load", "run_sequence_model", "run_step_model"]


def load(content):
    """A LiteRT interpreter of the .tflite bytes `content`.

    Load once and pass it to `run_sequence_model` / `run_step_model` to run
    many sequences (they also take the bytes, and then load them each call).
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:
        raise ImportError(
            'Running .tflite models needs ai-edge-litert: pip install "keras-gates[export]"'
        ) from e
    return Interpreter(model_content=content)


def _interpreter(model):
    return load(model) if isinstance(model, (bytes, bytearray)) else model


def run_sequence_model(content, inputs):
    """Runs a whole-sequence model (`to_tflite(streaming=False)`).

    Args:
        content: The .tflite bytes, or an interpreter from `load`.
        inputs: A dict of the model's input names to arrays (batch as
            exported, any number of steps: the interpreter resizes), or
            for a model of one input its array.

    Returns:
        A dict of output names to arrays; for a one-input model given an
        array, the array of its one output.
    """
    runner = _interpreter(content).get_signature_runner("serving_default")
    single = not isinstance(inputs, dict)
    if single:
        names = list(runner.get_input_details())
        if len(names) != 1:
            raise ValueError(
                f"The model has {len(names)} inputs ({names}): pass a dict of "
                "input names to arrays."
            )
        inputs = {names[0]: inputs}
    _check_batch(runner, inputs)
    result = runner(**_as_signature_types(runner, inputs))
    return next(iter(result.values())) if single and len(result) == 1 else result


def _as_signature_types(runner, inputs):
    """The inputs in the dtypes of the signature where only the width
    differs (NumPy's int64 token ids for an int32 input, float64 for
    float32); anything else goes to the interpreter as given."""
    details = runner.get_input_details()
    converted = {}
    for name, value in inputs.items():
        value = np.asarray(value)
        dtype = details[name]["dtype"] if name in details else None
        if dtype is not None and value.dtype != dtype:
            same_kind = np.dtype(dtype).kind == value.dtype.kind
            if same_kind and value.dtype.kind in "iuf":
                value = value.astype(dtype)
        converted[name] = value
    return converted


def _check_batch(runner, inputs):
    """A ValueError when an input's batch differs from the fixed batch of
    the export: the interpreter resizes the input, but a recurrent loop
    keeps tensors of the exported batch and answers with its rows."""
    details = runner.get_input_details()
    for name, value in inputs.items():
        if name not in details:
            continue  # the runner names the unknown input itself
        exported = int(details[name]["shape_signature"][0])
        batch = np.shape(value)[0] if np.ndim(value) else None
        if exported > 0 and batch != exported:
            raise ValueError(
                f"Input {name!r} has a batch of {batch}, but the model was "
                f"exported for batches of {exported} "
                f"(to_tflite(batch_size={exported})): feed {exported} rows "
                "(pad with any rows and drop their outputs), or export with "
                "the batch size you feed."
            )


def run_step_model(content, sequence, record=None):
    """Feeds `sequence` to a streaming model step by step, from zero states.

    Args:
        content: The .tflite bytes of `to_tflite(streaming=True)`, or an
            interpreter from `load`.
        sequence: An array `(batch, steps, ...)` (the batch as exported).
        record: If a list, each step's arguments `[inputs, state_0, ...]`
            are appended to it (calibration samples for int8).

    Returns:
        The step outputs stacked on axis 1: `(batch, steps, ...)`.
    """
    runner = _interpreter(content).get_signature_runner("step")
    _check_batch(runner, {"inputs": sequence[:, 0]})
    details = runner.get_input_details()
    names = sorted(
        (n for n in details if n.startswith("state_")), key=lambda n: int(n[6:])
    )
    states = {n: np.zeros(details[n]["shape"], details[n]["dtype"]) for n in names}
    outputs = []
    for t in range(sequence.shape[1]):
        step = sequence[:, t]
        if record is not None:
            record.append([step, *states.values()])
        result = runner(inputs=step, **states)
        states = {n: result[n] for n in names}
        outputs.append(result["outputs"])
    return np.stack(outputs, axis=1)
