"""`keras-gates export`: a saved Keras model to SavedModel, TFLite and ONNX.

    keras-gates export MODEL.keras --saved-model DIR [--overwrite]
        --tflite FILE [--streaming] [--quantize float16] [--onnx FILE]
        --micro DIR --calibration SEQUENCES.npy [--micro-quantization int16]
        [--import MODULE] [--unsafe]

Prints each file it wrote and its largest difference from the Keras model on
random inputs (a parity check). Exit status: 0 when every check passed, 1
when a parity check failed, 2 for bad input (a missing, damaged or unknown
model file, an output path that cannot be written, a model that the target
cannot take), said in one line, and 3 for an unexpected failure (with its
traceback, to report).
"""

import argparse
import os
import sys
import traceback

import numpy as np

FLOAT_TOLERANCE = 1e-5
# Quantized models are compared, not held to float32 parity.
QUANTIZED_TOLERANCE = {"float16": 1e-2, "dynamic_int8": 1e-1}
# TFLite Micro's int16/int8 models: the largest difference on the calibration
# sequences, as a fraction of the largest output there.
MICRO_RELATIVE_TOLERANCE = 0.05
PARITY_FAILED, BAD_INPUT, UNEXPECTED = 1, 2, 3


class BadInput(Exception):
    """An input of the command that cannot work; its message is one line."""


def _all_layers(model):
    """The layers of `model`, those of nested models and wrappers included."""
    import keras

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
    import keras

    tokens, value = False, None
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.Embedding) and layer.mask_zero:
            tokens = True
        elif isinstance(layer, keras.layers.Masking):
            value = float(layer.mask_value)
    return tokens, value


PADDINGS = ("right", "left", "inner")


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


def _sample_inputs(model, batch_size, steps, seed=0, padding=None):
    """Random inputs for `model`: token ids within the first Embedding's
    vocabulary (1 and up, 0 being padding) for integer inputs, normal values
    otherwise. With `padding` (an offset into `PADDINGS`), row r is padded
    as `PADDINGS[(padding + r) % 3]` where the model masks: token 0 under an
    `Embedding(mask_zero=True)`, the `Masking` layer's value in float
    sequences."""
    import keras

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


def parity_cases(model, cases):
    """The parity inputs' `(batch, steps, padding)`: `cases` unpadded and,
    when the model masks its inputs, the last of them padded so that right,
    left and inner padding each reach the export (once, in a batch of 3;
    in turn, in smaller batches), so that what a masked model does at
    padded steps is compared too."""
    cases = [(batch, steps, None) for batch, steps in cases]
    pads_tokens, mask_value = padding_markers(model)
    if pads_tokens or mask_value is not None:
        batch, steps, _ = cases[-1]
        offsets = range(len(PADDINGS)) if batch < len(PADDINGS) else range(1)
        cases += [(batch, steps, offset) for offset in offsets]
    return cases


def _reset_states(model):
    """Zeroes the states of every stateful layer, nested models included, so
    that each parity call starts from the zero states of the export."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            _reset_states(layer)
        elif getattr(layer, "stateful", False):
            layer.reset_state()


def _keras_outputs(model, signature, inputs):
    from keras import tree

    _reset_states(model)
    outputs = model(signature.pack_inputs(inputs), training=False)
    return [np.asarray(o) for o in tree.flatten(outputs)]


def _label(batch_size, steps, padding):
    label = f"batch {batch_size} x {steps} steps"
    if padding is None:
        return label
    patterns = [PADDINGS[(padding + r) % len(PADDINGS)] for r in range(batch_size)]
    return f"{label}, padded ({', '.join(patterns)})"


def _check(label, got, want, tolerance):
    error = max(float(np.max(np.abs(g - w))) for g, w in zip(got, want, strict=True))
    verdict = "ok" if error <= tolerance else "FAILED"
    print(
        f"  parity {label}: max |difference| {error:.2e} (tolerance {tolerance:g}) {verdict}"
    )
    return error <= tolerance


def _run_tflite(content, signature, inputs, streaming):
    from keras_gates.export import litert

    if streaming:
        return [litert.run_step_model(content, inputs[0])[:, -1]]
    result = litert.run_sequence_model(
        content, dict(zip(signature.inputs, inputs, strict=True))
    )
    return [result[name] for name in signature.outputs]


def _micro(model, args):
    """Writes the TFLite Micro model, its C array and its arena size to
    `args.micro` and compares TFLM's outputs with Keras' on the calibration
    sequences (their last steps)."""
    from keras_gates.export import micro

    try:
        sequences = np.load(args.calibration, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise BadInput(f"--calibration {args.calibration!r}: {e}") from e
    quantization = (
        None if args.micro_quantization == "float32" else args.micro_quantization
    )
    content = micro.to_tflite_micro(
        model, None if quantization is None else sequences, quantization=quantization
    )
    arena = micro.arena_size(content)
    os.makedirs(args.micro, exist_ok=True)
    files = {"model.tflite": content, **micro.c_source(content, "model")}
    for name, data in files.items():
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(os.path.join(args.micro, name), mode) as f:
            f.write(data)
    print(
        f"wrote TFLite Micro model.tflite, model.h, model.cc in {args.micro} "
        f"({len(content)} bytes, one step, {args.micro_quantization}; tensor "
        f"arena {arena} bytes on this host)"
    )
    sample = sequences[:32]
    got = micro.run_micro(content, sample, micro.load(content, arena + 1024))[:, -1]
    want = np.asarray(model.predict(sample, verbose=0))
    want = want[:, -1] if want.ndim == 3 else want
    error = float(np.max(np.abs(got - want)))
    scale = float(np.max(np.abs(want))) or 1.0
    if quantization is None:
        verdict = error <= FLOAT_TOLERANCE
        tolerance = f"{FLOAT_TOLERANCE:g}"
    else:
        verdict = error <= MICRO_RELATIVE_TOLERANCE * scale
        tolerance = f"{MICRO_RELATIVE_TOLERANCE:.0%} of it"
    print(
        f"  parity {len(sample)} calibration sequences, last step: max "
        f"|difference| {error:.2e}, {error / scale:.1%} of the largest output "
        f"(tolerance {tolerance}) {'ok' if verdict else 'FAILED'}"
    )
    return verdict


def _check_output_file(path, flag):
    """A one-line `BadInput` unless a file can be written at `path`, checked
    before the model is loaded or converted."""
    if os.path.isdir(path):
        raise BadInput(f"{flag} {path!r} is a directory; give a file name.")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise BadInput(f"{flag} {path!r}: {parent!r} is not a directory.")
    existed = os.path.exists(path)
    try:
        with open(path, "ab"):
            pass
    except OSError as e:
        raise BadInput(f"{flag} {path!r} cannot be written: {e.strerror}.") from e
    if not existed:
        os.remove(path)


def _check_arguments(args):
    from keras_gates.export.exporters import check_export_dir

    if os.path.isdir(args.model):
        raise BadInput(
            f"{args.model!r} is a directory; give a `.keras` file (a "
            "SavedModel directory is already an export)."
        )
    if args.saved_model:
        try:
            check_export_dir(args.saved_model, args.overwrite)
        except ValueError as e:
            raise BadInput(f"--saved-model: {e}") from e
    if args.tflite:
        _check_output_file(args.tflite, "--tflite")
    if args.onnx:
        _check_output_file(args.onnx, "--onnx")
    if args.micro:
        if os.path.exists(args.micro) and not os.path.isdir(args.micro):
            raise BadInput(f"--micro {args.micro!r} is a file; give a directory.")
        if not os.path.isfile(args.calibration):
            raise BadInput(f"--calibration {args.calibration!r}: no such file.")


def _import(module):
    """Imports `module` (a module name, or the path of a .py file) for the
    classes it registers; the current directory is on the path, as for
    `python -m`."""
    import importlib
    import importlib.util

    if module.endswith(".py"):
        if not os.path.isfile(module):
            raise BadInput(f"--import {module!r}: no such file.")
        name = os.path.splitext(os.path.basename(module))[0]
        spec = importlib.util.spec_from_file_location(name, module)
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded
        spec.loader.exec_module(loaded)
        return
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as e:
        raise BadInput(
            f"--import {module!r}: no module named {e.name!r} on the Python "
            "path (give a module name, or the path of a .py file)."
        ) from e


def _batch_size(model, default):
    """The model's fixed batch size (a stateful model has one), or `default`."""
    fixed = model.inputs[0].shape[0]
    return default if fixed is None else fixed


def export_command(args):
    from keras_gates import export
    from keras_gates.export.graph import Signature
    from keras_gates.saving import UnknownClassError
    from keras_gates.saving import load_model

    _check_arguments(args)
    for module in args.imports:
        _import(module)
    try:
        model = load_model(args.model, safe_mode=not args.unsafe)
    except UnknownClassError as e:
        if e.class_name is None:  # saved with another keras-gates version
            raise BadInput(str(e)) from e
        module = e.module or "MODULE"
        raise BadInput(
            f"{args.model!r} uses the class {e.class_name!r}, which no "
            f"imported module registers: pass --import {module} (a module on "
            "the Python path, or a .py file, that defines the class and "
            "registers it with keras.saving.register_keras_serializable)."
        ) from e
    except (FileNotFoundError, ValueError) as e:
        message = str(e)
        if "safe_mode" in message:
            message += (
                " (keras-gates export: pass --unsafe to load it, if you trust "
                "the file.)"
            )
        raise BadInput(message) from e
    signature = Signature(model)
    ok = True
    if args.saved_model:
        import tensorflow as tf

        export.to_saved_model(model, args.saved_model, overwrite=args.overwrite)
        print(f"wrote SavedModel {args.saved_model} (signature serving_default)")
        serving = tf.saved_model.load(args.saved_model).signatures["serving_default"]
        for batch_size, steps, padding in parity_cases(model, ((1, 7), (3, 13))):
            inputs = _sample_inputs(model, batch_size, steps, padding=padding)
            result = serving(**dict(zip(signature.inputs, inputs, strict=True)))
            got = [result[name].numpy() for name in signature.outputs]
            ok &= _check(
                _label(batch_size, steps, padding),
                got,
                _keras_outputs(model, signature, inputs),
                FLOAT_TOLERANCE,
            )
    if args.tflite:
        batch_size = _batch_size(model, 1)
        content = export.to_tflite(
            model,
            batch_size=batch_size,
            streaming=args.streaming,
            quantization=args.quantize,
        )
        with open(args.tflite, "wb") as f:
            f.write(content)
        kind = "streaming step model" if args.streaming else "sequence model"
        print(
            f"wrote TFLite {args.tflite} ({len(content)} bytes, builtin ops only, "
            f"{kind}, quantization {args.quantize})"
        )
        tolerance = QUANTIZED_TOLERANCE.get(args.quantize, FLOAT_TOLERANCE)
        cases = ((batch_size, 7), (batch_size, 13))
        for batch_size, steps, padding in parity_cases(model, cases):
            inputs = _sample_inputs(model, batch_size, steps, padding=padding)
            got = _run_tflite(content, signature, inputs, args.streaming)
            want = _keras_outputs(model, signature, inputs)
            if args.streaming and want[0].ndim == 3:
                want = [want[0][:, -1]]
            ok &= _check(_label(batch_size, steps, padding), got, want, tolerance)
    if args.micro:
        ok &= _micro(model, args)
    if args.onnx:
        import onnxruntime

        export.to_onnx(model, args.onnx)
        print(f"wrote ONNX {args.onnx}")
        session = onnxruntime.InferenceSession(args.onnx)
        for batch_size, steps, padding in parity_cases(model, ((1, 7), (3, 13))):
            inputs = _sample_inputs(model, batch_size, steps, padding=padding)
            got = session.run(
                signature.outputs, dict(zip(signature.inputs, inputs, strict=True))
            )
            ok &= _check(
                _label(batch_size, steps, padding),
                got,
                _keras_outputs(model, signature, inputs),
                FLOAT_TOLERANCE,
            )
    return 0 if ok else PARITY_FAILED


def main(argv=None):
    parser = argparse.ArgumentParser(prog="keras-gates")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser(
        "export",
        help="export a .keras model to SavedModel, TFLite, TFLite Micro and/or ONNX",
        description="Export a saved Keras model and check the exported "
        "outputs against it on random inputs. Exit status: 0 all checks "
        "passed, 1 a parity check failed, 2 bad input, 3 unexpected failure.",
    )
    export.add_argument("model", help="a .keras file")
    export.add_argument("--saved-model", metavar="DIR", help="SavedModel directory")
    export.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the SavedModel in a non-empty --saved-model directory",
    )
    export.add_argument("--tflite", metavar="FILE", help=".tflite file")
    export.add_argument(
        "--streaming",
        action="store_true",
        help="TFLite: a one-step model with the states as inputs and outputs",
    )
    export.add_argument(
        "--quantize",
        choices=["float16", "dynamic_int8"],
        help="TFLite quantization",
    )
    export.add_argument("--onnx", metavar="FILE", help=".onnx file (needs tf2onnx)")
    export.add_argument(
        "--micro",
        metavar="DIR",
        help="TFLite Micro: a one-step int8-weight model.tflite, model.h and "
        "model.cc (needs --calibration and the tflite-micro package)",
    )
    export.add_argument(
        "--calibration",
        metavar="NPY",
        help="--micro: a .npy of input sequences (sequences, steps, ...) to "
        "calibrate the quantization on and check the model with",
    )
    export.add_argument(
        "--micro-quantization",
        choices=["int16", "int8", "float32"],
        help="--micro: int16 (default: int8 weights, int16 activations), int8 "
        "(smaller, less exact) or float32 (for a floating-point unit)",
    )
    export.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import a module (or a .py file) that registers the model's own "
        "classes before loading it; repeatable",
    )
    export.add_argument(
        "--unsafe",
        action="store_true",
        help="load with safe_mode=False (Lambda layers of Python code): only "
        "for a file you trust",
    )
    args = parser.parse_args(argv)
    if not (args.saved_model or args.tflite or args.onnx or args.micro):
        parser.error(
            "nothing to write: give --saved-model, --tflite, --micro and/or --onnx"
        )
    if bool(args.micro) != bool(args.calibration):
        parser.error("--micro and --calibration go together")
    if args.micro_quantization and not args.micro:
        parser.error("--micro-quantization applies to --micro")
    args.micro_quantization = args.micro_quantization or "int16"
    if (args.streaming or args.quantize) and not args.tflite:
        parser.error("--streaming and --quantize apply to --tflite")
    if args.overwrite and not args.saved_model:
        parser.error("--overwrite applies to --saved-model")
    try:
        return export_command(args)
    except (BadInput, ValueError, ImportError) as e:
        # Every refusal of the loader and the exporters is a ValueError that
        # says why, in one line.
        reason = " ".join(str(e).split())
        print(f"keras-gates export: error: {reason}", file=sys.stderr)
        return BAD_INPUT
    except Exception:
        traceback.print_exc()
        print(
            "keras-gates export: unexpected failure (traceback above); please "
            "report it with the model.",
            file=sys.stderr,
        )
        return UNEXPECTED


if __name__ == "__main__":
    sys.exit(main())
