"""Parity checks: an exported model's outputs against Keras' on the inputs
users feed (padded where the model masks), one place for the exporters'
`check=` and for `keras-gates export`.

Each `check_*` returns a list of `Result`s (one per batch of inputs) and
`raise_on_failure` turns the failed ones into a `ParityError`. The inputs
are random (token ids within the vocabulary for integer inputs, normal
values otherwise) in the shapes the exporter's tests use, and, when the
model masks its inputs, padded at the right, left and inside; or the
user's own sequences (`keras_gates.export.samples` says which forms).
"""

import collections
import logging

import keras
import numpy as np
from keras import tree

from keras_gates.export.graph import Signature
from keras_gates.export.samples import batches

log = logging.getLogger("keras_gates.export")

FLOAT_TOLERANCE = 1e-5
# Quantized models are compared, not held to float32 parity: an absolute
# tolerance for float16 and int8 weights, and for int8 (and TFLite Micro's
# int16) activations a fraction of the largest output.
QUANTIZED_TOLERANCE = {"float16": 1e-2, "dynamic_int8": 1e-1}
RELATIVE_TOLERANCE = 0.05
# TFLite Micro's quantized steps, a fraction of the largest output: enough
# to catch a model that computes something else (off by about its own
# size), not quantization noise. Measured (tests/test_micro.py): int16 keeps
# the plain layers within a few percent, but layer normalization reached
# 17% on one sequence in 32; with int8 activations a recurrent state's
# error compounds over the steps (on the Jena task of the guide, 90% to 99%
# of the classes agreed with Keras).
MICRO_TOLERANCE = 0.2
PADDINGS = ("right", "left", "inner")


class ParityError(AssertionError):
    """An exported model's outputs differ from Keras' beyond the tolerance;
    the message lists every comparison."""


Result = collections.namedtuple("Result", "label error tolerance ok")


def _all_layers(model):
    """The layers of `model`, those of nested models included."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def padding_markers(model):
    """What marks a padded step in the model's inputs, for the layers that
    make masks: `(pads_tokens, mask_value)`, `pads_tokens` True when an
    `Embedding(mask_zero=True)` masks token 0, `mask_value` the value of a
    `Masking` layer (None without one)."""
    tokens, value = False, None
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.Embedding) and layer.mask_zero:
            tokens = True
        elif isinstance(layer, keras.layers.Masking):
            value = float(layer.mask_value)
    return tokens, value


def _padded_steps(steps, pattern):
    """The steps of a row padded by `pattern` (a third of them, at least
    one; a real step remains)."""
    count = max(1, min(steps - 1, steps // 3))
    if pattern == "right":
        return np.arange(steps - count, steps)
    if pattern == "left":
        return np.arange(count)
    start = (steps - count) // 2
    return np.arange(start, start + count)


def sample_inputs(model, batch_size, steps, seed=0, padding=None):
    """Random inputs for `model`: token ids within the first Embedding's
    vocabulary (1 and up, 0 being padding) for integer inputs, normal values
    otherwise. With `padding` (an offset into `PADDINGS`), row r is padded
    as `PADDINGS[(padding + r) % 3]` where the model masks: token 0 under an
    `Embedding(mask_zero=True)`, the `Masking` layer's value in float
    sequences."""
    rng = np.random.default_rng(seed)
    vocabulary = next(
        (
            layer.input_dim
            for layer in _all_layers(model)
            if isinstance(layer, keras.layers.Embedding)
        ),
        2,
    )
    pads_tokens, mask_value = padding_markers(model)
    inputs = []
    for tensor in model.inputs:
        shape = [batch_size, *tensor.shape[1:]]
        if len(shape) >= 2 and shape[1] is None:
            shape[1] = steps
        is_int = "int" in str(tensor.dtype)
        if is_int:
            value = rng.integers(1, vocabulary, shape).astype(tensor.dtype)
        else:
            value = rng.normal(size=shape).astype(tensor.dtype)
        marker = (0 if pads_tokens else None) if is_int else mask_value
        if padding is not None and marker is not None and len(shape) >= 2:
            for row in range(batch_size):
                pattern = PADDINGS[(padding + row) % len(PADDINGS)]
                value[row, _padded_steps(shape[1], pattern)] = marker
        inputs.append(value)
    return inputs


def cases(model, shapes):
    """The parity inputs' `(batch, steps, padding)`: `shapes` unpadded and,
    when the model masks its inputs, the last of them padded so that right,
    left and inner padding each reach the export (once, in a batch of 3;
    in turn, in smaller batches), so that what a masked model does at
    padded steps is compared too."""
    result = [(batch, steps, None) for batch, steps in shapes]
    pads_tokens, mask_value = padding_markers(model)
    if pads_tokens or mask_value is not None:
        batch, steps, _ = result[-1]
        offsets = range(len(PADDINGS)) if batch < len(PADDINGS) else range(1)
        result += [(batch, steps, offset) for offset in offsets]
    return result


def _label(batch_size, steps, padding):
    label = f"batch {batch_size} x {steps} steps"
    if padding is None:
        return label
    patterns = [PADDINGS[(padding + r) % len(PADDINGS)] for r in range(batch_size)]
    return f"{label}, padded ({', '.join(patterns)})"


def _inputs(model, data, batch_size, shapes):
    """`(label, inputs)` pairs: the user's `data` in batches of
    `batch_size` (None: any), or random inputs of `shapes`, padded where
    the model masks."""
    if data is not None:
        found = batches(data, model, batch_size, name="check")
        return [
            (f"given batch {i} ({len(b[0])} x {b[0].shape[1]} steps)", b)
            for i, b in enumerate(found)
        ]
    return [
        (_label(b, t, p), sample_inputs(model, b, t, padding=p))
        for b, t, p in cases(model, shapes)
    ]


def _reset_states(model):
    """Zeroes the states of every stateful layer, nested models included, so
    that each parity call starts from the zero states of the export."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            _reset_states(layer)
        elif getattr(layer, "stateful", False):
            layer.reset_state()


def keras_outputs(model, inputs):
    """The model's outputs (flat, as NumPy) on the flat list `inputs`."""
    _reset_states(model)
    packed = Signature(model).pack_inputs(inputs)
    outputs = model(packed, training=False)
    return [np.asarray(o) for o in tree.flatten(outputs)]


def compare(pairs, tolerance, relative=False):
    """A `Result` per `(label, got, want)`: the largest difference against
    `tolerance`, or for `relative` against that fraction of the largest
    output over all of them."""
    if relative:
        scale = max(float(np.max(np.abs(w))) for _, _, want in pairs for w in want)
        tolerance = tolerance * (scale or 1.0)
    results = []
    for label, got, want in pairs:
        got = [np.asarray(g, "float64") for g in got]
        want = [np.asarray(w, "float64") for w in want]
        shapes = [(g.shape, w.shape) for g, w in zip(got, want, strict=True)]
        if any(g != w for g, w in shapes):
            label = f"{label}, output shapes (export, Keras) {shapes}"
            results.append(Result(label, float("inf"), tolerance, False))
            continue
        error = max(
            float(np.max(np.abs(g - w))) for g, w in zip(got, want, strict=True)
        )
        results.append(Result(label, error, tolerance, error <= tolerance))
    return results


def tolerance(quantization):
    """`(tolerance, relative)` for a TFLite model of `quantization`."""
    if quantization in (None, "float32"):
        return FLOAT_TOLERANCE, False
    if quantization in QUANTIZED_TOLERANCE:
        return QUANTIZED_TOLERANCE[quantization], False
    return RELATIVE_TOLERANCE, True


def check_saved_model(model, export_dir, data=None):
    """The SavedModel in `export_dir` against `model`."""
    import tensorflow as tf

    signature = Signature(model)
    serving = tf.saved_model.load(export_dir).signatures["serving_default"]
    pairs = []
    for label, inputs in _inputs(model, data, None, ((1, 7), (3, 13))):
        result = serving(**dict(zip(signature.inputs, inputs, strict=True)))
        got = [result[name].numpy() for name in signature.outputs]
        pairs.append((label, got, keras_outputs(model, inputs)))
    return compare(pairs, FLOAT_TOLERANCE)


def check_tflite(model, content, *, streaming, quantization=None, data=None):
    """The .tflite bytes `content` (of `to_tflite`) against `model`. A
    streaming model is fed each sequence step by step from zero states:
    all its steps are compared for a model that returns sequences, the
    last one otherwise."""
    from keras_gates.export import litert

    interpreter = litert.load(content)
    signature = Signature(model)
    key = "step" if streaming else "serving_default"
    runner = interpreter.get_signature_runner(key)
    name = "inputs" if streaming else signature.inputs[0]
    batch_size = int(runner.get_input_details()[name]["shape_signature"][0])
    limit, relative = tolerance(quantization)
    pairs = []
    shapes = ((batch_size, 7), (batch_size, 13))
    for label, inputs in _inputs(model, data, batch_size, shapes):
        want = keras_outputs(model, inputs)
        if streaming:
            got = [litert.run_step_model(interpreter, inputs[0])]
            if want[0].ndim == got[0].ndim:  # the model returns sequences
                got, want = got, want[:1]
            else:
                got, want = [got[0][:, -1]], want[:1]
        else:
            result = litert.run_sequence_model(
                interpreter, dict(zip(signature.inputs, inputs, strict=True))
            )
            got = [result[n] for n in signature.outputs]
        pairs.append((label, got, want))
    return compare(pairs, limit, relative)


def check_onnx(model, path, data=None):
    """The ONNX model at `path` against `model` (needs onnxruntime)."""
    try:
        import onnxruntime
    except ImportError as e:
        raise ImportError(
            'Checking an ONNX model needs onnxruntime: pip install "keras-gates[onnx]"'
        ) from e
    signature = Signature(model)
    session = onnxruntime.InferenceSession(str(path))
    pairs = []
    for label, inputs in _inputs(model, data, None, ((1, 7), (3, 13))):
        got = session.run(
            signature.outputs, dict(zip(signature.inputs, inputs, strict=True))
        )
        pairs.append((label, got, keras_outputs(model, inputs)))
    return compare(pairs, FLOAT_TOLERANCE)


def describe(result):
    """One line for a `Result`."""
    verdict = "ok" if result.ok else "FAILED"
    return (
        f"parity {result.label}: max |difference| {result.error:.2e} "
        f"(tolerance {result.tolerance:.2g}) {verdict}"
    )


def raise_on_failure(results, what):
    """Logs each result and raises a `ParityError` if one failed."""
    for result in results:
        log.info("%s: %s", what, describe(result))
    if not all(result.ok for result in results):
        lines = "; ".join(describe(r) for r in results)
        raise ParityError(
            f"{what} differs from the Keras model beyond the tolerance: {lines}"
        )
    return results
