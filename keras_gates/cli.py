"""`keras-gates export`: a saved Keras model to SavedModel, TFLite and ONNX.

    keras-gates export MODEL.keras --saved-model DIR --tflite FILE
        [--streaming] [--quantize float16] [--onnx FILE]

Prints each file it wrote and its largest difference from the Keras model on
random inputs (a parity check), and exits with status 1 if a difference is
above the tolerance.
"""

import argparse
import sys

import numpy as np

FLOAT_TOLERANCE = 1e-5
# Quantized models are compared, not held to float32 parity.
QUANTIZED_TOLERANCE = {"float16": 1e-2, "dynamic_int8": 1e-1}


def _sample_inputs(model, batch_size, steps, seed=0):
    """Random inputs for `model`: token ids within the first Embedding's
    vocabulary (1 and up, 0 being padding) for integer inputs, normal values
    otherwise."""
    import keras

    rng = np.random.default_rng(seed)
    vocabulary = next(
        (
            layer.input_dim
            for layer in model.layers
            if isinstance(layer, keras.layers.Embedding)
        ),
        2,
    )
    inputs = []
    for tensor in model.inputs:
        shape = [batch_size, *tensor.shape[1:]]
        if len(shape) >= 2 and shape[1] is None:
            shape[1] = steps
        if "int" in str(tensor.dtype):
            inputs.append(rng.integers(1, vocabulary, shape).astype(tensor.dtype))
        else:
            inputs.append(rng.normal(size=shape).astype(tensor.dtype))
    return inputs


def _keras_outputs(model, inputs):
    outputs = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [np.asarray(o) for o in outputs]


def _check(label, got, want, tolerance):
    error = max(float(np.max(np.abs(g - w))) for g, w in zip(got, want, strict=True))
    verdict = "ok" if error <= tolerance else "FAILED"
    print(
        f"  parity {label}: max |difference| {error:.2e} (tolerance {tolerance:g}) {verdict}"
    )
    return error <= tolerance


def _run_tflite(content, names, inputs, streaming):
    from keras_gates.export import litert

    if streaming:
        return [litert.run_step_model(content, inputs[0])[:, -1]]
    result = litert.run_sequence_model(
        content, dict(zip(names["inputs"], inputs, strict=True))
    )
    return [result[name] for name in names["outputs"]]


def export_command(args):
    import keras_gates  # noqa: F401  (registers the layers for loading)
    from keras_gates import export
    from keras_gates.export.convert import input_names
    from keras_gates.export.convert import output_names
    from keras_gates.saving import CorruptModelFileError
    from keras_gates.saving import load_model

    try:
        model = load_model(args.model)
    except (FileNotFoundError, CorruptModelFileError) as e:
        print(f"keras-gates export: error: {e}", file=sys.stderr)
        return 2
    names = {"inputs": input_names(model), "outputs": output_names(model)}
    ok = True
    if args.saved_model:
        import tensorflow as tf

        export.to_saved_model(model, args.saved_model)
        print(f"wrote SavedModel {args.saved_model} (signature serving_default)")
        serving = tf.saved_model.load(args.saved_model).signatures["serving_default"]
        for batch_size, steps in ((1, 7), (3, 13)):
            inputs = _sample_inputs(model, batch_size, steps)
            result = serving(**dict(zip(names["inputs"], inputs, strict=True)))
            got = [result[name].numpy() for name in names["outputs"]]
            ok &= _check(
                f"batch {batch_size} x {steps} steps",
                got,
                _keras_outputs(model, inputs),
                FLOAT_TOLERANCE,
            )
    if args.tflite:
        content = export.to_tflite(
            model, streaming=args.streaming, quantization=args.quantize
        )
        with open(args.tflite, "wb") as f:
            f.write(content)
        kind = "streaming step model" if args.streaming else "sequence model"
        print(
            f"wrote TFLite {args.tflite} ({len(content)} bytes, builtin ops only, "
            f"{kind}, quantization {args.quantize})"
        )
        tolerance = QUANTIZED_TOLERANCE.get(args.quantize, FLOAT_TOLERANCE)
        for steps in (7, 13):
            inputs = _sample_inputs(model, 1, steps)
            got = _run_tflite(content, names, inputs, args.streaming)
            want = _keras_outputs(model, inputs)
            if args.streaming and want[0].ndim == 3:
                want = [want[0][:, -1]]
            ok &= _check(f"batch 1 x {steps} steps", got, want, tolerance)
    if args.onnx:
        import onnxruntime

        export.to_onnx(model, args.onnx)
        print(f"wrote ONNX {args.onnx}")
        session = onnxruntime.InferenceSession(args.onnx)
        for batch_size, steps in ((1, 7), (3, 13)):
            inputs = _sample_inputs(model, batch_size, steps)
            got = session.run(
                names["outputs"], dict(zip(names["inputs"], inputs, strict=True))
            )
            ok &= _check(
                f"batch {batch_size} x {steps} steps",
                got,
                _keras_outputs(model, inputs),
                FLOAT_TOLERANCE,
            )
    return 0 if ok else 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog="keras-gates")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser(
        "export",
        help="export a .keras model to SavedModel, TFLite and/or ONNX",
        description="Export a saved Keras model and check the exported "
        "outputs against it on random inputs.",
    )
    export.add_argument("model", help="a .keras file")
    export.add_argument("--saved-model", metavar="DIR", help="SavedModel directory")
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
    args = parser.parse_args(argv)
    if not (args.saved_model or args.tflite or args.onnx):
        parser.error("nothing to write: give --saved-model, --tflite and/or --onnx")
    if (args.streaming or args.quantize) and not args.tflite:
        parser.error("--streaming and --quantize apply to --tflite")
    return export_command(args)


if __name__ == "__main__":
    sys.exit(main())
