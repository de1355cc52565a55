"""Quickstart: gates keep what a plain RNN loses, and you can watch them do it.

The task: each sequence starts with a signal, +1 or -1, on its one value
channel (a second channel marks that first step), and every later step holds
Gaussian noise on the SAME channel. The label is the sign of the signal, so a
layer must carry it to the end while the noise keeps arriving through the
very weights the signal came in by. A plain RNN cannot shut that input:
Keras' `SimpleRNN` learns the task over 10 steps and stays at chance over
100. A gated cell closes its gate after the signal and keeps its state.

Every layer uses its defaults plus one principled setting for every gated
layer: chrono initialization of the memory gate (Tallec & Ollivier, 2018:
`chrono_init=T` for the keras-gates layers, `keras_gates.initializers.Chrono`
as the `bias_initializer` of Keras' LSTM and GRU), which starts each unit
with a memory of 2 to T steps, T being the distance. `--no-chrono` shows what
happens without it: at distance 100 every layer stays at chance.

The script trains each layer at each `--distances` (one line of progress per
run), prints the table of test accuracy (0.5 is chance), then, for the best
keras-gates layer at the longest distance, the tutorials' table of its gates
on one test sequence (token, then each gate's mean over units: the gate that
writes opens at the signal, the one that keeps stays open through the noise)
and a heatmap of every unit's gates (`gates.png`), then exports that model
with `keras_gates.export` to a SavedModel and a TFLite file beside the PNG,
runs both and prints their largest difference from Keras.

Run it (offline, no download; about 2 minutes on 2 CPU cores):

    pip install -e ".[examples]"
    python examples/quickstart.py

Options: `--distances`, `--samples`, `--epochs`, `--units`, `--layers`,
`--seed`, `--no-chrono`, `--export-dir` (keep the files there), `--no-export`,
`--verbose` (Keras' lines per epoch), `--smoke` (seconds: a check that it
runs, not a result; so does `KERAS_GATES_SMOKE=1`).

Measured (docs/guides/main-job.md has the tables of three seeds): at
distance 100, SimpleRNN 0.49-0.52 and PeepholeLSTM, CoupledLSTM, MinimalGRU,
keras LSTM and keras GRU 1.000 in each of seeds 1, 2 and 3.
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from example_utils import chrono_layer  # noqa: E402
from example_utils import parse_with_smoke  # noqa: E402

import keras_gates  # noqa: E402
from keras_gates import inspect  # noqa: E402

LAYERS = {
    "PeepholeLSTM": keras_gates.PeepholeLSTM,
    "CoupledLSTM": keras_gates.CoupledLSTM,
    "MinimalGRU": keras_gates.MinimalGRU,
    "SRU": keras_gates.SRU,
    "MinGRU": keras_gates.MinGRU,
    "keras LSTM": keras.layers.LSTM,
    "keras GRU": keras.layers.GRU,
    "keras SimpleRNN": keras.layers.SimpleRNN,
}
GATES_LAYERS = [name for name in LAYERS if not name.startswith("keras ")]
# How to read each layer's gates (the cell docstrings have the equations).
READING = {
    "PeepholeLSTM": "input writes the new value, forget keeps the state",
    "CoupledLSTM": "input writes the new value, forget = 1 - input keeps the state",
    "MinimalGRU": "forget is the share of the new candidate: 0 keeps the state",
    "SRU": "forget keeps the state, reset lets it (not the input) out",
    "MinGRU": "update is the share of the new candidate: 0 keeps the state",
}


def make_data(samples, steps, rng):
    """`(x, y)`: x of shape (samples, steps, 2), channel 0 the signal then
    noise, channel 1 the marker of the first step; y the signal's sign."""
    y = rng.integers(0, 2, size=samples)
    x = np.zeros((samples, steps, 2), "float32")
    x[:, :, 0] = rng.normal(size=(samples, steps))
    x[:, 0, 0] = 2.0 * y - 1.0
    x[:, 0, 1] = 1.0
    return x, y.astype("float32")


def train_and_evaluate(name, steps, args):
    """`(test accuracy, the layer's parameter count, the model)`."""
    rng = np.random.default_rng(args.seed)
    x_train, y_train = make_data(args.samples, steps, rng)
    x_test, y_test = make_data(1000, steps, rng)
    keras.utils.set_random_seed(args.seed)
    model = keras.Sequential(
        [
            keras.Input((steps, 2)),
            chrono_layer(LAYERS[name], args.units, None if args.no_chrono else steps),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=64, verbose=args.verbose)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return accuracy, model.layers[0].count_params(), model


def device():
    """The kind of device Keras computes on here, for the figure's title."""
    return keras.distribution.list_devices()[0].split(":")[0].upper()


def show_gates(name, model, steps, args, directory):
    """Prints the gate table of one test sequence and writes the heatmap."""
    x, y = make_data(1, steps, np.random.default_rng(args.seed + 2))
    layer = model.layers[0]
    gates = inspect.gate_activations(layer, x)
    signal = "+1" if y[0] > 0 else "-1"
    tokens = [f"signal {signal}"] + [f"{v:+.2f}" for v in x[0, 1:, 0]]
    shown = [*range(min(8, steps)), *range(max(8, steps - 3), steps)]
    print(
        f"\n{name}'s gates on one test sequence (distance {steps}, mean over "
        f"units; prediction {float(model(x)[0, 0]):.3f} for label {int(y[0])}):"
    )
    print(f"({READING[name]})")
    print(inspect.gate_table(gates, tokens, steps=shown))
    path = os.path.join(directory, "gates.png")
    inspect.plot_gates(
        gates,
        tokens,
        path=path,
        title=f"{name} ({args.units} units) after a signal and {steps - 1} steps "
        f"of noise; {keras.backend.backend()} backend, {device()}",
    )
    print(f"wrote {path}")


def export_and_check(name, model, steps, args, directory):
    """Exports `model` to SavedModel and TFLite, runs both on new test
    sequences, and returns the largest difference from Keras per format."""
    import tensorflow as tf

    from keras_gates import export
    from keras_gates.export.graph import Signature

    x, _ = make_data(8, steps, np.random.default_rng(args.seed + 1))
    want = np.asarray(model.predict(x, verbose=0))
    signature = Signature(model)
    (input_name,), (output_name,) = signature.inputs, signature.outputs
    saved_model = os.path.join(directory, "saved_model")
    export.to_saved_model(model, saved_model, overwrite=True)
    serving = tf.saved_model.load(saved_model).signatures["serving_default"]
    got = serving(**{input_name: tf.constant(x)})[output_name].numpy()
    errors = {"SavedModel": float(np.max(np.abs(got - want)))}
    content = export.to_tflite(model, batch_size=len(x))
    tflite = os.path.join(directory, f"{name.lower()}.tflite")
    with open(tflite, "wb") as f:
        f.write(content)
    print(f"\nExported {name} (distance {steps}): {saved_model}, {tflite}")
    try:
        from keras_gates.export import litert

        got = litert.run_sequence_model(content, {input_name: x})[output_name]
        errors["TFLite"] = float(np.max(np.abs(got - want)))
    except ImportError as e:
        print(f"TFLite file written, not run: {e}")
    for kind, error in errors.items():
        print(
            f"{kind:<11} max |output - Keras output| on 8 test sequences: {error:.1e}"
        )
    return errors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--distances", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument(
        "--layers", nargs="+", default=list(LAYERS), choices=list(LAYERS)
    )
    parser.add_argument(
        "--no-chrono",
        action="store_true",
        help="every layer with its default gate biases (no chrono initialization)",
    )
    parser.add_argument("--export-dir", help="write gates.png and the exports here")
    parser.add_argument(
        "--no-export", action="store_true", help="skip the export at the end"
    )
    args = parse_with_smoke(
        parser,
        argv,
        "seconds: one short distance, few sequences and epochs, a small layer "
        "(the same tables, picture and exports)",
        caps=("samples", "epochs", "units"),
        default_verbose=0,
        distances=[5],
        samples=256,
        epochs=2,
        units=8,
    )
    init = "default gate biases" if args.no_chrono else "chrono initialization"
    print(
        f"Task: the sign of a signal followed by noise on the same channel, "
        f"{args.distances} steps; {args.samples} training sequences, "
        f"{args.epochs} epochs, {args.units} units, {init}."
    )

    start = time.perf_counter()
    results, models = {}, {}
    for name in args.layers:
        for steps in args.distances:
            begun = time.perf_counter()
            accuracy, params, models[name, steps] = train_and_evaluate(
                name, steps, args
            )
            results[name, steps] = accuracy, params
            print(
                f"  {name:<16} distance {steps:>4}: test accuracy {accuracy:.3f} "
                f"({time.perf_counter() - begun:.0f} s)",
                flush=True,
            )

    header = "".join(f"{f'distance {d}':>13}" for d in args.distances)
    print(f"\nTest accuracy (0.5 is chance), {time.perf_counter() - start:.0f} s")
    print(f"{'layer':<16}{'params':>8}{header}")
    for name in args.layers:
        params = results[name, args.distances[0]][1]
        row = "".join(f"{results[name, d][0]:>13.3f}" for d in args.distances)
        print(f"{name:<16}{params:>8}{row}")

    # The best keras-gates model at the longest distance: the highest
    # accuracy, then the fewest parameters.
    longest = max(args.distances)
    candidates = [name for name in args.layers if name in GATES_LAYERS]
    if candidates:
        best = max(
            candidates, key=lambda n: (results[n, longest][0], -results[n, longest][1])
        )
        directory = args.export_dir or tempfile.mkdtemp(prefix="keras_gates_")
        os.makedirs(directory, exist_ok=True)
        show_gates(best, models[best, longest], longest, args, directory)
        if not args.no_export:
            export_and_check(best, models[best, longest], longest, args, directory)
    return results


if __name__ == "__main__":
    main()
