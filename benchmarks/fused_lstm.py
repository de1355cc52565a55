"""TFLite's fused LSTM op against the WHILE loop, for the LSTM family.

For `PeepholeLSTM`, `CoupledLSTM` and `keras.layers.LSTM` (64 units, 32
input features, random weights, batch 1), exports the same model with
`fused=True`, `fused=False` and whole-sequence int8 (on the fused op,
calibrated on 20 random sequences) and prints the file sizes, the largest
difference from Keras and the median latency on the LiteRT interpreter at
each sequence length, the three files timed in interleaved rounds.
`--no-default-delegates` runs them on TFLite's builtin kernels alone,
without the XNNPACK delegate that the interpreter applies by default;
`--reference-kernels` on its reference kernels; `--threads N` sets the
interpreter's threads.

    python -m benchmarks.fused_lstm                 # about a minute here
    python -m benchmarks.fused_lstm --lengths 100 --rounds 5
"""

import argparse
import time

import keras
import numpy as np

import keras_gates as kg
from benchmarks.smoke import parse_args
from keras_gates import export

LAYERS = {
    "PeepholeLSTM": lambda units: kg.PeepholeLSTM(units),
    "CoupledLSTM": lambda units: kg.CoupledLSTM(units, peepholes=["input", "output"]),
    "keras LSTM": lambda units: keras.layers.LSTM(units),
}


def model_with(layer, features):
    signal = keras.Input((None, features), name="signal")
    model = keras.Model(signal, keras.layers.Dense(1, name="out")(layer(signal)))
    rng = np.random.default_rng(0)
    model.set_weights(
        [rng.normal(0, 0.2, w.shape).astype("float32") for w in model.get_weights()]
    )
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--no-default-delegates", action="store_true")
    parser.add_argument(
        "--reference-kernels",
        action="store_true",
        help="TFLite's reference kernels (BUILTIN_REF), no delegate",
    )
    parser.add_argument("--threads", type=int, help="the interpreter's num_threads")
    args = parse_args(parser, argv, lengths=[5], rounds=1, features=4, units=4)
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_litert.interpreter import OpResolverType

    resolver = OpResolverType.AUTO
    if args.no_default_delegates:
        resolver = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    if args.reference_kernels:
        resolver = OpResolverType.BUILTIN_REF
    kinds = ("fused", "WHILE", "int8")
    rows = []
    print(
        "| layer | steps | fused KB | WHILE KB | int8 KB | max abs diff "
        "fused / WHILE / int8 | fused ms | WHILE ms | int8 ms | fused / WHILE |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, make in LAYERS.items():
        model = model_with(make(args.units), args.features)
        rng = np.random.default_rng(0)
        samples = [
            rng.normal(size=(1, max(args.lengths), args.features)).astype("float32")
            for _ in range(20)
        ]
        contents = {
            "fused": export.to_tflite(model, fused=True),
            "WHILE": export.to_tflite(model, fused=False),
            "int8": export.to_tflite(
                model, quantization="int8", representative_data=samples
            ),
        }
        runners = {
            k: Interpreter(
                model_content=c,
                experimental_op_resolver_type=resolver,
                num_threads=args.threads,
            ).get_signature_runner()
            for k, c in contents.items()
        }
        for steps in args.lengths:
            x = np.random.default_rng(steps).normal(size=(1, steps, args.features))
            x = x.astype("float32")
            want = np.asarray(model(x))
            diffs = {
                k: np.abs(r(signal=x)["out"] - want).max() for k, r in runners.items()
            }
            times = {k: [] for k in kinds}
            for _ in range(args.rounds):
                for kind, runner in runners.items():
                    start = time.perf_counter()
                    runner(signal=x)
                    times[kind].append(time.perf_counter() - start)
            ms = {k: 1000 * float(np.median(t)) for k, t in times.items()}
            rows.append((name, steps, diffs, ms))
            sizes = " | ".join(f"{len(contents[k]) / 1024:.1f}" for k in kinds)
            print(
                f"| {name} | {steps} | {sizes} | "
                + " / ".join(f"{diffs[k]:.1e}" for k in kinds)
                + " | "
                + " | ".join(f"{ms[k]:.2f}" for k in kinds)
                + f" | {ms['fused'] / ms['WHILE']:.2f} |"
            )
    return rows


if __name__ == "__main__":
    main()
