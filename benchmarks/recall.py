"""Associative recall at small scale: multi-query associative recall (MQAR,
Arora et al., 2023, the task of the xLSTM paper's section 4.1), at the
scale of a CPU.

A sequence holds P key-value pairs, `k1 v1 k2 v2 ... kP vP`, then the P
keys again in a random order: at each of these queries the model must
name the value that followed the key (chance: 1 in `--values`). The keys
of a sequence are distinct; the values are random. Each model reads the
tokens (`Embedding -> recurrent layer (return_sequences) -> Dense`) and is
scored at the query steps only. It trains on a mixture of pair counts
(`--pairs`, sequences left-padded to the longest, the padding masked) and
is tested on fresh sequences of each count: the accuracy against the
number of pairs, and with it the length (3 P steps).

Equal budgets: every model's units are chosen so that its parameter count
is the closest to the LSTM's at `--units`. Every model is tuned alike:
Adam with gradients clipped to norm 1, its learning rate the best of
`--learning-rates` on the validation sequences, tried with the first
seed; then the other seeds at that rate. Every run trains to a plateau of
the validation loss (`--patience` epochs without improvement, or
`--max-epochs`, reported as not converged); the best epoch's weights are
kept.

    python -m benchmarks.recall --out benchmarks/saved/recall.json \\
        --plot benchmarks/figures/recall.png   # the documented run
    python -m benchmarks.recall --from-json benchmarks/saved/recall.json \\
        --plot benchmarks/figures/recall.png   # redraw from a saved run

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
EMBEDDING = 32
# name: (layer of `units`, the multiple its units must be). The mLSTM is
# the official layer around it (`MLSTMBlock`, residual, `units` its inner
# width): its causal convolution lets the key of a value's step see the
# token before, the pair's key; the memory alone writes each step's own
# key and value, which here are never one token.
MODELS = {
    "MLSTM": (
        lambda u: kg.blocks.MLSTMBlock(HEADS, inner_units=u, residual=True),
        HEADS,
    ),
    "SLSTM": (lambda u: kg.SLSTM(u, num_heads=HEADS, return_sequences=True), HEADS),
    "LSTM": (lambda u: keras.layers.LSTM(u, return_sequences=True), 1),
    "GRU": (lambda u: keras.layers.GRU(u, return_sequences=True), 1),
    "MinGRU": (lambda u: kg.MinGRU(u, return_sequences=True), 1),
}


def recall_data(samples, pair_counts, keys, values, rng):
    """`(tokens (samples, 3 max P), value targets, weights at the queries)`.
    Token 0 is padding, keys are 1..keys, values keys+1..keys+values; each
    sample has a pair count drawn from `pair_counts`, left-padded."""
    longest = 3 * max(pair_counts)
    tokens = np.zeros((samples, longest), "int32")
    targets = np.zeros((samples, longest), "int32")
    weights = np.zeros((samples, longest), "float32")
    for row in range(samples):
        pairs = int(rng.choice(pair_counts))
        chosen = rng.choice(keys, size=pairs, replace=False) + 1
        answers = rng.integers(0, values, size=pairs) + keys + 1
        order = rng.permutation(pairs)
        sequence = np.concatenate(
            [np.stack([chosen, answers], axis=1).reshape(-1), chosen[order]]
        )
        start = longest - len(sequence)
        tokens[row, start:] = sequence
        targets[row, longest - pairs :] = answers[order]
        weights[row, longest - pairs :] = 1.0
    return tokens, targets, weights


def build(name, units, vocabulary):
    layer, _ = MODELS[name]
    return keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            keras.layers.Embedding(vocabulary, EMBEDDING, mask_zero=True),
            layer(units),
            keras.layers.Dense(vocabulary),
        ]
    )


def equal_units(name, reference_params, vocabulary):
    """The units (a multiple of the model's) whose model has the parameter
    count closest to `reference_params`."""
    _, multiple = MODELS[name]
    candidates = range(multiple, 2048 + 1, multiple)

    def count(units):
        return build(name, units, vocabulary).count_params()

    low, high = 0, len(candidates) - 1
    while low < high:  # the count grows with the units
        middle = (low + high) // 2
        if count(candidates[middle]) < reference_params:
            low = middle + 1
        else:
            high = middle
    near = candidates[max(low - 1, 0) : low + 1]
    return min(near, key=lambda u: abs(count(u) - reference_params))


def query_accuracy(model, tokens, targets, weights):
    logits = model.predict(tokens, batch_size=256, verbose=0)
    right = (np.argmax(logits, axis=-1) == targets) * weights
    return float(right.sum() / weights.sum())


def train(name, units, rate, seed, data, args):
    keras.utils.set_random_seed(seed)
    model = build(name, units, data["vocabulary"])
    model.compile(
        keras.optimizers.Adam(rate, clipnorm=1.0),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        weighted_metrics=[],
    )
    plateau = Plateau(patience=args.patience, min_delta=1e-3)
    started = time.perf_counter()
    tokens, targets, weights = data["train"]
    model.fit(
        tokens,
        targets,
        sample_weight=weights,
        batch_size=args.batch_size,
        epochs=args.max_epochs,
        validation_data=data["valid"],
        callbacks=[plateau],
        verbose=0,
    )
    accuracy = {
        str(pairs): query_accuracy(model, *data["test"][pairs]) for pairs in args.pairs
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
    counts = [str(p) for p in args.pairs]
    header = "| model | units | parameters | rate | steps | " + " | ".join(
        f"{p} pairs ({3 * int(p)} steps)" for p in counts
    )
    lines = [header + " |", "|---|" + "---:|" * (4 + len(counts))]
    for name in dict.fromkeys(r["model"] for r in runs):
        mine = [r for r in runs if r["model"] == name]
        cells = []
        for p in counts:
            values = [r["accuracy"][p] for r in mine]
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
        f"Trained on {args.train_samples:,} sequences of {', '.join(counts)} pairs "
        f"({args.keys} keys, {args.values} values), tested on {args.test_samples:,} "
        f"fresh sequences per count: the accuracy at the query steps (chance: "
        f"{1 / args.values:.2f}), mean ± sd over {len(args.seeds)} seeds.",
    ]
    return lines + ([note] if note else [])


def plot(runs, args, path, conditions=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = [int(p) for p in args.pairs]
    fig, axis = plt.subplots(figsize=(7, 3.8), constrained_layout=True)
    styles = [("-", 4.0), ("--", 2.0), ("-", 2.5), (":", 2.0), ("-.", 2.0)]
    for k, name in enumerate(dict.fromkeys(r["model"] for r in runs)):
        mine = [r for r in runs if r["model"] == name]
        values = np.array([[r["accuracy"][str(p)] for p in counts] for r in mine])
        colour, (line, width) = f"C{k}", styles[k % len(styles)]
        for row in values:
            axis.plot(counts, row, "o", color=colour, alpha=0.4, markersize=5)
        axis.plot(
            counts, values.mean(axis=0), line, color=colour, linewidth=width, label=name
        )
    axis.axhline(1 / args.values, color="grey", linewidth=0.8)
    axis.text(counts[0], 1 / args.values + 0.02, " chance", fontsize=9, color="grey")
    axis.set_xscale("log", base=2)
    axis.minorticks_off()
    axis.set_xticks(counts)
    axis.set_xticklabels([f"{p}\n({3 * p} steps)" for p in counts])
    axis.set_ylim(0.0, 1.05)
    axis.set_xlabel("key-value pairs (sequence length)", fontsize=10)
    axis.set_ylabel("recall accuracy at the queries", fontsize=10)
    title = f"Multi-query associative recall, equal parameters, {len(args.seeds)} seeds (dots)"
    if conditions:  # where it was measured
        title += f"\n{conditions}"
    axis.set_title(title, fontsize=10)
    axis.legend(fontsize=9, loc="center right")
    fig.savefig(path, dpi=200)
    print(f"wrote {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--units", type=int, default=32, help="the LSTM's units")
    parser.add_argument("--pairs", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--keys", type=int, default=16)
    parser.add_argument("--values", type=int, default=16)
    parser.add_argument("--train-samples", type=int, default=6144)
    parser.add_argument("--test-samples", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[3e-3, 1e-2])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-epochs", type=int, default=40)
    parser.add_argument("--patience", type=int, default=8)
    parser.add_argument("--out", help="write every run and the table as JSON")
    parser.add_argument("--plot", help="draw accuracy against the pairs (PNG)")
    parser.add_argument("--from-json", help="redraw from a saved --out")
    args = smoke_parse_args(
        parser,
        argv,
        seeds=[0],
        learning_rates=[1e-2],
        units=16,
        max_epochs=2,
        train_samples=128,
        test_samples=64,
        pairs=[2, 4],
    )
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        for key in ("pairs", "seeds", "values"):
            setattr(args, key, saved["args"][key])
        print(saved["markdown"])
        if args.plot:
            plot(saved["runs"], args, args.plot, saved["conditions"])
        return saved
    started = time.perf_counter()
    rng = np.random.default_rng(1234)  # the data: the same for every model
    vocabulary = 1 + args.keys + args.values
    data = {
        "vocabulary": vocabulary,
        "train": recall_data(
            args.train_samples, args.pairs, args.keys, args.values, rng
        ),
        "valid": recall_data(512, args.pairs, args.keys, args.values, rng),
        "test": {
            p: recall_data(args.test_samples, [p], args.keys, args.values, rng)
            for p in args.pairs
        },
    }
    reference = build("LSTM", args.units, vocabulary).count_params()
    runs = []
    for name in args.models:
        units = (
            args.units if name == "LSTM" else equal_units(name, reference, vocabulary)
        )
        rate, tuning = tuned(
            args.learning_rates,
            lambda r, s, name=name, units=units: train(name, units, r, s, data, args),
            tuning_seed=args.seeds[0],
        )
        for seed in args.seeds:
            run = tuning.get(rate) if seed == args.seeds[0] else None
            run = run or train(name, units, rate, seed, data, args)
            runs.append(run)
            accuracy = ", ".join(f"{p}: {a:.2f}" for p, a in run["accuracy"].items())
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
    conditions = here(keras.backend.backend())
    if args.out:
        save_study(args.out, args, runs, lines, seconds, conditions)
    if args.plot:
        plot(runs, args, args.plot, conditions)
    return runs


if __name__ == "__main__":
    main()
