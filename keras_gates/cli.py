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

PARITY_FAILED, BAD_INPUT, UNEXPECTED = 1, 2, 3


class BadInput(Exception):
    """An input of the command that cannot work; its message is one line."""


def _print(results):
    from keras_gates.export.parity import describe

    for result in results:
        print(f"  {describe(result)}")
    return all(result.ok for result in results)


def _micro(model, args):
    """Writes the TFLite Micro model, its C array and its arena size to
    `args.micro` and compares TFLM's outputs with Keras' on the calibration
    sequences (random ones for float32 without them)."""
    from keras_gates.export import micro

    sequences = None
    if args.calibration:
        try:
            sequences = np.load(args.calibration, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise BadInput(f"--calibration {args.calibration!r}: {e}") from e
    quantization = (
        None if args.micro_quantization == "float32" else args.micro_quantization
    )
    content = micro.to_tflite_micro(
        model,
        None if quantization is None else sequences,
        quantization=quantization,
        check=False,  # below, printing each comparison
    )
    arena = micro.arena_size(content)
    # Over an earlier export (--overwrite): its three files are replaced,
    # anything else in the directory is left as it is.
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
    return _print(micro.check_micro(model, content, sequences, quantization))


def _check_micro_dir(path, overwrite):
    """A one-line `BadInput` unless `path` can take the micro files: missing,
    empty, or (with --overwrite) holding a former export's model.tflite,
    whose model.tflite, model.h and model.cc are then replaced."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise BadInput(f"--micro {path!r} is a file; give a directory.")
    if not os.path.isdir(path) or not os.listdir(path):
        return
    if not overwrite:
        raise BadInput(
            f"--micro {path!r} is not empty: choose a new directory, or pass "
            "--overwrite to replace the TFLite Micro export in it."
        )
    if not os.path.isfile(os.path.join(path, "model.tflite")):
        raise BadInput(
            f"--micro {path!r} is not empty and holds no model.tflite: not "
            "removing it, even with --overwrite."
        )


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
        _check_micro_dir(args.micro, args.overwrite)
        if args.calibration and not os.path.isfile(args.calibration):
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
    from keras_gates.export import parity
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
    ok = True
    if args.saved_model:
        export.to_saved_model(model, args.saved_model, overwrite=args.overwrite)
        print(f"wrote SavedModel {args.saved_model} (signature serving_default)")
        ok &= _print(parity.check_saved_model(model, args.saved_model))
    if args.tflite:
        content = export.to_tflite(
            model,
            batch_size=_batch_size(model, 1),
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
        ok &= _print(
            parity.check_tflite(
                model, content, streaming=args.streaming, quantization=args.quantize
            )
        )
    if args.micro:
        ok &= _micro(model, args)
    if args.onnx:
        export.to_onnx(model, args.onnx)
        print(f"wrote ONNX {args.onnx}")
        ok &= _print(parity.check_onnx(model, args.onnx))
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
        help="replace the export in a non-empty --saved-model or --micro directory",
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
        help="TFLite Micro: a one-step model.tflite, model.h and model.cc "
        "(needs the tflite-micro package, and --calibration unless float32)",
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
    if args.calibration and not args.micro:
        parser.error("--calibration applies to --micro")
    if args.micro_quantization and not args.micro:
        parser.error("--micro-quantization applies to --micro")
    args.micro_quantization = args.micro_quantization or "int16"
    if args.micro and args.micro_quantization != "float32" and not args.calibration:
        parser.error(
            f"--micro-quantization {args.micro_quantization} needs --calibration "
            "(float32 does not)"
        )
    if (args.streaming or args.quantize) and not args.tflite:
        parser.error("--streaming and --quantize apply to --tflite")
    if args.overwrite and not (args.saved_model or args.micro):
        parser.error("--overwrite applies to --saved-model and --micro")
    from keras_gates.export.micro import MicroRefusedError

    try:
        return export_command(args)
    except (BadInput, ValueError, ImportError, MicroRefusedError) as e:
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
