"""Quickstart: train every keras-gates cell on a generated long-range task.

What it shows: each layer drops into a `keras.Sequential` model exactly like
`keras.layers.LSTM`, and learns a task that needs memory. Each sequence starts
with a signal token (1 or 2) followed by `--steps - 1` random distractor
tokens; the label is which signal came first, so the layer must carry it to
the end. Keras' own LSTM and GRU train beside the keras-gates layers as
baselines, at each distance of `--distances`, and the script prints a table of
test accuracy by layer and distance (0.5 is chance).

Run it (offline, no download, about two minutes on 2 CPU cores):

    python examples/quickstart.py

Options: `--distances` (sequence lengths), `--samples`, `--epochs`,
`--units`, `--layers`, `--seed`. Measured result: see the README's quick start section.
"""

import argparse
import time

import keras
import numpy as np

import keras_gates

LAYERS = {
    "PeepholeLSTM": keras_gates.PeepholeLSTM,
    "CoupledLSTM": keras_gates.CoupledLSTM,
    "MinimalGRU": keras_gates.MinimalGRU,
    "SRU": keras_gates.SRU,
    "MinGRU": keras_gates.MinGRU,
    "keras LSTM": keras.layers.LSTM,
    "keras GRU": keras.layers.GRU,
}
VOCAB = 12  # 0 padding, 1-2 signals, 3-11 distractors


def make_data(samples, steps, rng):
    """Sequences whose label is set by their first token."""
    labels = rng.integers(0, 2, size=samples)
    x = rng.integers(3, VOCAB, size=(samples, steps))
    x[:, 0] = labels + 1
    return x.astype("int32"), labels.astype("float32")


def build_model(layer_cls, steps, units):
    return keras.Sequential(
        [
            keras.Input((steps,), dtype="int32"),
            keras.layers.Embedding(VOCAB, 16),
            layer_cls(units),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


def train_and_evaluate(layer_cls, steps, args, return_model=False):
    """Test accuracy and the layer's parameter count (and the model)."""
    rng = np.random.default_rng(args.seed)
    x_train, y_train = make_data(args.samples, steps, rng)
    x_test, y_test = make_data(1000, steps, rng)
    keras.utils.set_random_seed(args.seed)
    model = build_model(layer_cls, steps, args.units)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        x_train,
        y_train,
        epochs=args.epochs,
        batch_size=64,
        validation_split=0.1,
        verbose=getattr(args, "verbose", 2),
    )
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    if return_model:
        return accuracy, model.layers[1].count_params(), model
    return accuracy, model.layers[1].count_params()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--distances", type=int, nargs="+", default=[10, 40])
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--layers", nargs="+", default=list(LAYERS), choices=list(LAYERS)
    )
    args = parser.parse_args(argv)
    print(
        f"Task: remember the first token of a sequence of {args.distances} "
        f"tokens; {args.samples} training sequences, {args.epochs} epochs."
    )

    start = time.perf_counter()
    results = {}
    for name in args.layers:
        for steps in args.distances:
            print(f"\n{name}, distance {steps}")
            results[name, steps] = train_and_evaluate(LAYERS[name], steps, args)

    header = "".join(f"{f'distance {d}':>13}" for d in args.distances)
    print(f"\nTest accuracy (0.5 is chance), {time.perf_counter() - start:.0f} s")
    print(f"{'layer':<14}{'params':>8}{header}")
    for name in args.layers:
        params = results[name, args.distances[0]][1]
        row = "".join(f"{results[name, d][0]:>13.3f}" for d in args.distances)
        print(f"{name:<14}{params:>8}{row}")
    return results


if __name__ == "__main__":
    main()
