"""TFLite's fused LSTM op against the WHILE loop, for the LSTM family.

For `PeepholeLSTM`, `CoupledLSTM` and `keras.layers.LSTM` (64 units, 32
input features, random weights, batch 1), exports the same model with
`fused=True` and `fused=False` and prints the file size, the largest
difference from Keras and the median latency on the LiteRT interpreter at
each sequence length, the two files timed in interleaved rounds.

    python -m benchmarks.fused_lstm                 # about a minute here
    python -m benchmarks.fused_lstm --lengths 100 --rounds 5
"""

import argparse
import time

import keras
import numpy as np

import keras_gates as kg
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
    args = parser.parse_args(argv)
    from ai_edge_litert.interpreter import Interpreter

    rows = []
    print(
        "| layer | steps | fused KB | WHILE KB | max abs diff fused / WHILE |", end=""
    )
    print(" fused ms | WHILE ms | fused / WHILE |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, make in LAYERS.items():
        model = model_with(make(args.units), args.features)
        contents = {f: export.to_tflite(model, fused=f) for f in (True, False)}
        runners = {
            f: Interpreter(model_content=c).get_signature_runner()
            for f, c in contents.items()
        }
        for steps in args.lengths:
            x = np.random.default_rng(steps).normal(size=(1, steps, args.features))
            x = x.astype("float32")
            want = np.asarray(model(x))
            diffs = {
                f: np.abs(r(signal=x)["out"] - want).max() for f, r in runners.items()
            }
            times = {True: [], False: []}
            for _ in range(args.rounds):
                for fused, runner in runners.items():
                    start = time.perf_counter()
                    runner(signal=x)
                    times[fused].append(time.perf_counter() - start)
            ms = {f: 1000 * float(np.median(t)) for f, t in times.items()}
            rows.append((name, steps, diffs[True], diffs[False], ms[True], ms[False]))
            print(
                f"| {name} | {steps} | {len(contents[True]) / 1024:.1f} | "
                f"{len(contents[False]) / 1024:.1f} | "
                f"{diffs[True]:.1e} / {diffs[False]:.1e} | {ms[True]:.2f} | "
                f"{ms[False]:.2f} | {ms[True] / ms[False]:.2f} |"
            )
    return rows


if __name__ == "__main__":
    main()
