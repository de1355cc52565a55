"""Size and accuracy of the TFLite exports, float and quantized, per layer.

Trains each layer on the quickstart's generated task (the sign of a signal
followed by noise on the same channel, with chrono initialization;
`examples/quickstart.py`), exports it with
`keras_gates.export.to_tflite` as float32, float16 and dynamic-int8 sequence
models (the LSTM family on TFLite's fused LSTM op, also as a full-integer
int8 sequence model) and as an int8 streaming model (calibrated on the states that the
float streaming model goes through on training sequences), and prints, per
variant, the .tflite size, the test accuracy and the largest difference of
the output probability from Keras.

    python -m benchmarks.export_report            # about 2 minutes here
    python -m benchmarks.export_report --layers MinGRU --samples 300 --epochs 1
"""

import argparse
import sys
import time
from pathlib import Path

import keras
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from quickstart import LAYERS  # noqa: E402
from quickstart import make_data  # noqa: E402
from quickstart import train_and_evaluate  # noqa: E402

from benchmarks.smoke import parse_args  # noqa: E402
from keras_gates import export  # noqa: E402
from keras_gates.export import fused_lstm  # noqa: E402
from keras_gates.export import litert  # noqa: E402
from keras_gates.export.exporters import input_names  # noqa: E402


def run_sequence_model(content, x, input_name):
    """The probabilities of a batch-1 sequence model, one sequence at a time."""
    interpreter = litert.load(content)
    outputs = [
        litert.run_sequence_model(interpreter, {input_name: x[i : i + 1]})
        for i in range(len(x))
    ]
    return np.concatenate([next(iter(o.values())) for o in outputs])[:, 0]


def run_streaming_model(content, x):
    """The last step's probability of a batch-1 streaming model, per sequence."""
    interpreter = litert.load(content)
    return np.array(
        [
            litert.run_step_model(interpreter, x[i : i + 1])[0, -1, 0]
            for i in range(len(x))
        ]
    )


def report(layer_name, args):
    keras.utils.set_random_seed(args.seed)
    accuracy, _, model = train_and_evaluate(layer_name, args.steps, args)
    rng = np.random.default_rng(args.seed + 1)
    x_test, y_test = make_data(args.test, args.steps, rng)
    x_calibrate, _ = make_data(args.calibration, args.steps, rng)
    want = np.asarray(model(x_test))[:, 0]
    rows = [(layer_name, "Keras float32", None, accuracy_of(want, y_test), 0.0)]

    def add(variant, content, got):
        diff = float(np.max(np.abs(got - want)))
        rows.append((layer_name, variant, len(content), accuracy_of(got, y_test), diff))

    name = input_names(model)[0]
    for quantization in (None, "float16", "dynamic_int8"):
        content = export.to_tflite(model, quantization=quantization)
        add(
            f"sequence, {quantization or 'float32'}",
            content,
            run_sequence_model(content, x_test, name),
        )
    if fused_lstm.has_lstm_family(model):  # whole-sequence int8: the fused op
        content = export.to_tflite(
            model, quantization="int8", representative_data=x_calibrate
        )
        add("sequence, int8", content, run_sequence_model(content, x_test, name))
    content = export.to_tflite(
        model, streaming=True, quantization="int8", representative_data=x_calibrate
    )
    add("streaming, int8", content, run_streaming_model(content, x_test))
    return rows


def accuracy_of(probabilities, labels):
    return float(np.mean((probabilities > 0.5) == (labels > 0.5)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--layers", nargs="+", default=[n for n in LAYERS if "keras" not in n]
    )
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--calibration", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parse_args(
        parser, argv, samples=200, epochs=1, units=8, test=8, calibration=2
    )
    args.verbose = 0
    args.no_chrono = False
    start = time.time()
    rows = []
    for layer_name in args.layers:
        rows += report(layer_name, args)
    print(
        f"\nTFLite exports, {args.units} units, signal-then-noise task at distance "
        f"{args.steps}, {args.test} test sequences ({time.time() - start:.0f} s)\n"
    )
    print("| layer | export | size (KB) | test accuracy | max abs diff from Keras |")
    print("|---|---|---:|---:|---:|")
    for layer_name, variant, size, accuracy, diff in rows:
        size = "" if size is None else f"{size / 1024:.1f}"
        print(f"| {layer_name} | {variant} | {size} | {accuracy:.3f} | {diff:.1e} |")
    return rows


if __name__ == "__main__":
    main()
