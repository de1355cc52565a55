"""State tracking at small scale: the parity of a bit string, learned on
short strings and tested on longer ones (the formal-language finding of
the xLSTM paper, Beck et al., 2024, at the scale of a CPU).

Each model reads a string of bits (one-hot, two features) and predicts
after every bit the parity of the bits so far: `input -> recurrent layer
(return_sequences) -> Dense(1, sigmoid)`. It trains on strings of
`--train-length` bits; it is tested on the last bit's prediction of fresh
strings of each `--test-lengths` (the training length among them). A cell
whose next state depends on its state through a nonlinearity (the LSTM,
the sLSTM) can flip a stored bit and go on flipping it at any length; a
cell whose update is linear in its state with gates of the input only
(MinGRU, MinLSTM, the cells a parallel scan solves) cannot represent the
flip, and can at best fit the training lengths.

Equal budgets: every model's units are chosen so that its parameter count
is the closest to the LSTM's at `--units`. Every model is tuned alike:
Adam with gradients clipped to norm 1, its learning rate the best of
`--learning-rates` on the validation strings (training length), tried with
the first seed; then the other seeds at that rate. Every run trains to a
plateau of the validation loss (`--patience` epochs without improvement,
or `--max-epochs`, reported as not converged); the best epoch's weights
are kept.

    python -m benchmarks.state_tracking --out benchmarks/saved/state_tracking.json \\
        --plot benchmarks/figures/state_tracking.png   # the documented run
    python -m benchmarks.state_tracking --from-json benchmarks/saved/state_tracking.json \\
        --plot benchmarks/figures/state_tracking.png   # redraw from a saved run

`KERAS_GATES_SMOKE=1` (`benchmarks/smoke.py`): one seed, one rate, tiny
layers, two epochs: seconds per model.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import keras
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from example_utils import Plateau  # noqa: E402
from example_utils import not_converged_note  # noqa: E402
from example_utils import save_study  # noqa: E402
from example_utils import steps_range  # noqa: E402
from example_utils import tuned  # noqa: E402

import keras_gates as kg  # noqa: E402
from benchmarks.conditions import here  # noqa: E402
from benchmarks.smoke import parse_args as smoke_parse_args  # noqa: E402

HEADS = 4
# name: (layer of `units`, the multiple its units must be)
MODELS = {
    "LSTM": (lambda u: keras.layers.LSTM(u, return_sequences=True), 1),
    "SLSTM": (lambda u: kg.SLSTM(u, num_heads=HEADS, return_sequences=True), HEADS),
    "MinGRU": (lambda u: kg.MinGRU(u, return_sequences=True), 1),
    "MinLSTM": (lambda u: kg.MinLSTM(u, return_sequences=True), 1),
}


def parity_data(samples, length, rng):
    """`(one-hot bits (samples, length, 2), running parity (samples,
    length, 1))`."""
    bits = rng.integers(0, 2, size=(samples, length))
    x = np.eye(2, dtype="float32")[bits]
    y = (np.cumsum(bits, axis=1) % 2).astype("float32")[..., None]
    return x, y


def build(name, units):
    layer, _ = MODELS[name]
    model = keras.Sequential(
        [
            keras.Input((None, 2)),
            layer(units),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    return model


def equal_units(name, reference_params):
    """The units (a multiple of the model's) whose model has the parameter
    count closest to `reference_params`."""
    _, multiple = MODELS[name]
    candidates = range(multiple, 1024 + 1, multiple)
    # The count grows with the units: bisect to the first at or above the
    # reference, then take the closer of it and the one below.
    low, high = 0, len(candidates) - 1
    while low < high:
        middle = (low + high) // 2
        if build(name, candidates[middle]).count_params() < reference_params:
            low = middle + 1
        else:
            high = middle
    near = candidates[max(low - 1, 0) : low + 1]
    return min(
        near, key=lambda u: abs(build(name, u).count_params() - reference_params)
    )


def last_bit_accuracy(model, x, y):
    p = model.predict(x, batch_size=256, verbose=0)[:, -1, 0]
    return float(np.mean((p > 0.5) == (y[:, -1, 0] > 0.5)))


def train(name, units, rate, seed, data, args):
    keras.utils.set_random_seed(seed)
    model = build(name, units)
    model.compile(keras.optimizers.Adam(rate, clipnorm=1.0), "binary_crossentropy")
    plateau = Plateau(patience=args.patience, min_delta=1e-4)
    started = time.perf_counter()
    (x, y), valid = data["train"], data["valid"]
    model.fit(
        x,
        y,
        batch_size=args.batch_size,
        epochs=args.max_epochs,
        validation_data=valid,
        callbacks=[plateau],
        verbose=0,
    )
    accuracy = {
        str(length): last_bit_accuracy(model, *data["test"][length])
        for length in args.test_lengths
    }
    return {
        "model": name,
        "units": units,
        "params": model.count_params(),
        "rate": rate,
        "seed": seed,
        "valid": plateau.best,
        "steps": plateau.best_step,
        "converged": plateau.converged,
        "curve": plateau.curve,
        "accuracy": accuracy,
        "seconds": time.perf_counter() - started,
    }


def table(runs, args):
    lengths = [str(n) for n in args.test_lengths]
    header = "| model | units | parameters | rate | steps | " + " | ".join(
        f"accuracy at {n} bits" for n in lengths
    )
    lines = [header + " |", "|---|" + "---:|" * (4 + len(lengths))]
    for name in dict.fromkeys(r["model"] for r in runs):
        mine = [r for r in runs if r["model"] == name]
        cells = []
        for n in lengths:
            values = [r["accuracy"][n] for r in mine]
            spread = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
            cells.append(f"{statistics.mean(values):.2f}{spread}")
        first = mine[0]
        lines.append(
            f"| {name} | {first['units']} | {first['params']:,} | {first['rate']:g} "
            f"| {steps_range(mine)} | " + " | ".join(cells) + " |"
        )
    note = not_converged_note(runs, f"{args.max_epochs} epochs")
    lines += [
        "",
        f"Trained on {args.train_length}-bit strings, tested on "
        f"{args.test_samples:,} fresh strings per length: the accuracy of the "
        f"last bit's parity (chance: 0.50), mean ± sd over {len(args.seeds)} "
        "seeds.",
    ]
    return lines + ([note] if note else [])


def plot(runs, args, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengths = [int(n) for n in args.test_lengths]
    fig, axis = plt.subplots(figsize=(7, 3.6), constrained_layout=True)
    # Lines that coincide (two models at 1.00) stay apart by their styles.
    styles = [("-", "o", 4.0), ("--", "s", 2.0), ("-", "^", 4.0), (":", "v", 2.0)]
    for k, name in enumerate(dict.fromkeys(r["model"] for r in runs)):
        mine = [r for r in runs if r["model"] == name]
        values = np.array([[r["accuracy"][str(n)] for n in lengths] for r in mine])
        colour, (line, marker, width) = f"C{k}", styles[k % len(styles)]
        for row in values:
            axis.plot(lengths, row, marker, color=colour, alpha=0.4, markersize=5)
        axis.plot(
            lengths,
            values.mean(axis=0),
            line,
            color=colour,
            linewidth=width,
            label=name,
        )
    axis.axvline(args.train_length, color="grey", linestyle=":", linewidth=1)
    axis.text(args.train_length, 1.02, " training length", fontsize=9, color="grey")
    axis.axhline(0.5, color="grey", linewidth=0.8)
    axis.set_xscale("log")
    axis.minorticks_off()
    axis.set_xticks(lengths)
    axis.set_xticklabels([str(n) for n in lengths])
    axis.set_ylim(0.4, 1.05)
    axis.set_xlabel("string length (bits)", fontsize=10)
    axis.set_ylabel("parity accuracy, last bit", fontsize=10)
    axis.set_title(
        "Parity: trained on short strings, tested on longer (dots: seeds)", fontsize=11
    )
    axis.legend(fontsize=9, loc="center right")
    fig.savefig(path, dpi=200)
    print(f"wrote {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--units", type=int, default=16, help="the LSTM's units")
    parser.add_argument("--train-length", type=int, default=20)
    parser.add_argument(
        "--test-lengths", type=int, nargs="+", default=[20, 40, 80, 160]
    )
    parser.add_argument("--train-samples", type=int, default=4096)
    parser.add_argument("--test-samples", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[3e-3, 1e-2])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument("--patience", type=int, default=6)
    parser.add_argument("--out", help="write every run and the table as JSON")
    parser.add_argument("--plot", help="draw accuracy against length (PNG)")
    parser.add_argument("--from-json", help="redraw from a saved --out")
    args = smoke_parse_args(
        parser,
        argv,
        seeds=[0],
        learning_rates=[1e-2],
        units=4,
        max_epochs=2,
        train_samples=128,
        test_samples=64,
        test_lengths=[20, 40],
    )
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        for key in ("train_length", "test_lengths", "seeds"):
            setattr(args, key, saved["args"][key])
        print(saved["markdown"])
        if args.plot:
            plot(saved["runs"], args, args.plot)
        return saved
    started = time.perf_counter()
    rng = np.random.default_rng(1234)  # the data: the same for every model
    data = {
        "train": parity_data(args.train_samples, args.train_length, rng),
        "valid": parity_data(512, args.train_length, rng),
        "test": {n: parity_data(args.test_samples, n, rng) for n in args.test_lengths},
    }
    reference = build("LSTM", args.units).count_params()
    runs = []
    for name in args.models:
        units = args.units if name == "LSTM" else equal_units(name, reference)
        rate, tuning = tuned(
            args.learning_rates,
            lambda r, s, name=name, units=units: train(name, units, r, s, data, args),
            tuning_seed=args.seeds[0],
        )
        for seed in args.seeds:
            run = tuning.get(rate) if seed == args.seeds[0] else None
            run = run or train(name, units, rate, seed, data, args)
            runs.append(run)
            accuracy = ", ".join(f"{n}: {a:.2f}" for n, a in run["accuracy"].items())
            print(
                f"{name} units {units} ({run['params']} parameters), rate {rate:g}, "
                f"seed {seed}: valid loss {run['valid']:.4f} after {run['steps']} "
                f"steps; accuracy {accuracy} ({run['seconds']:.0f} s)",
                flush=True,
            )
    lines = table(runs, args)
    print("\n".join(lines))
    seconds = time.perf_counter() - started
    print(f"{seconds / 60:.1f} minutes")
    if args.out:
        save_study(args.out, args, runs, lines, seconds, here(keras.backend.backend()))
    if args.plot:
        plot(runs, args, args.plot)
    return runs


if __name__ == "__main__":
    main()
