"""Greff et al.'s LSTM variants and Jozefowicz et al.'s mutants, measured on
real polyphonic music (JSB Chorales, from music21) and on the IMDB character
language model.

Every model is `input -> recurrent layer -> output layer`, the recurrent
layer one of `VARIANTS`, its units chosen so that the whole model's
parameter count is the closest to the vanilla LSTM's at `--units` (equal
budgets). The mutants MUT1 and MUT2 need as many input features as units:
a bias-free `Dense(units)` projects their inputs, and it counts in their
budget. Each model is trained with the same recipe (Adam, gradient clipping,
the same epochs and batches; on JSB the epoch of the best validation loss is
kept), for every seed. It prints one line per run and a table per task:
mean, standard deviation, and Welch's t-test of each variant against the
vanilla LSTM (two-sided p, scipy), and draws a strip plot of the seeds.

    python -m benchmarks.variant_study --quick                     # < 5 minutes
    tar xzf ../shared/data/aclImdb_v1.tar.gz -C /tmp
    python -m benchmarks.variant_study --imdb-dir /tmp/aclImdb     # the documented run

`KERAS_GATES_SMOKE=1` (`benchmarks/smoke.py`): the variants asked for, one
seed, a tiny layer, one epoch, a few chorales (`jsb.SMOKE_CHORALES`, unless
`--jsb-cache` is given) and a few thousand characters: seconds per variant.

JSB: `benchmarks/jsb.py` (the derived data set, its split and its metric,
the next frame's negative log-likelihood per frame in nats). IMDB: the
training reviews read as examples/text_generation.py reads them, bits per
character on held-out windows (generated sentences without `--imdb-dir`).
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

from text_generation import Vocabulary  # noqa: E402
from text_generation import bits_per_char  # noqa: E402
from text_generation import generated_text  # noqa: E402
from text_generation import imdb_text  # noqa: E402
from text_generation import windows  # noqa: E402

import keras_gates as kg  # noqa: E402
from benchmarks import jsb  # noqa: E402
from benchmarks.smoke import parse_args as smoke_parse_args  # noqa: E402

# name: (layer factory of units, needs inputs of its own size)
VARIANTS = {
    "LSTM": (lambda u: kg.PeepholeLSTM(u, return_sequences=True), False),
    "NIG": (
        lambda u: kg.PeepholeLSTM(u, input_gate=False, return_sequences=True),
        False,
    ),
    "NFG": (
        lambda u: kg.PeepholeLSTM(u, forget_gate=False, return_sequences=True),
        False,
    ),
    "NOG": (
        lambda u: kg.PeepholeLSTM(u, output_gate=False, return_sequences=True),
        False,
    ),
    "NIAF": (
        lambda u: kg.PeepholeLSTM(u, input_activation="linear", return_sequences=True),
        False,
    ),
    "NOAF": (
        lambda u: kg.PeepholeLSTM(u, output_activation="linear", return_sequences=True),
        False,
    ),
    "NP": (lambda u: kg.PeepholeLSTM(u, peepholes=None, return_sequences=True), False),
    "CIFG": (lambda u: kg.CoupledLSTM(u, return_sequences=True), False),
    "FGR": (
        lambda u: kg.PeepholeLSTM(u, full_gate_recurrence=True, return_sequences=True),
        False,
    ),
    # Jozefowicz et al.'s forget-gate bias: NP starts it at 1 (unit_forget_bias).
    "NP, b_f=0": (
        lambda u: kg.PeepholeLSTM(
            u, peepholes=None, unit_forget_bias=False, return_sequences=True
        ),
        False,
    ),
    "GRU": (lambda u: keras.layers.GRU(u, return_sequences=True), False),
    "MUT1": (lambda u: kg.MutantGRU(u, mutant=1, return_sequences=True), True),
    "MUT2": (lambda u: kg.MutantGRU(u, mutant=2, return_sequences=True), True),
    "MUT3": (lambda u: kg.MutantGRU(u, mutant=3, return_sequences=True), True),
}


def recurrent(name, units, x):
    make, projected = VARIANTS[name]
    if projected:
        x = keras.layers.Dense(units, use_bias=False, name="projection")(x)
    return make(units)(x)


def music_model(name, units):
    frames = keras.Input((None, jsb.KEYS), name="frames")
    x = recurrent(name, units, frames)
    return keras.Model(frames, keras.layers.Dense(jsb.KEYS, activation="sigmoid")(x))


def text_model(name, units, vocabulary, embedding_dim):
    chars = keras.Input((None,), dtype="int32", name="chars")
    x = keras.layers.Embedding(vocabulary, embedding_dim)(chars)
    x = recurrent(name, units, x)
    return keras.Model(chars, keras.layers.Dense(vocabulary)(x))


def matched_units(build, name, budget):
    """The units whose model's parameter count is the closest to `budget`
    (the count grows with the units: bisection, then the nearer neighbour)."""
    count = {}

    def params(units):
        if units not in count:
            count[units] = build(name, units).count_params()
        return count[units]

    low, high = 1, 8
    while params(high) < budget:
        low, high = high, 2 * high
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if params(middle) < budget else (low, middle)
    best = min((low, high), key=lambda u: abs(params(u) - budget))
    return best, params(best)


def compile_model(model, loss, args):
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=args.clipnorm),
        loss=loss,
        run_eagerly=args.run_eagerly,
    )


def run_music(name, units, seed, data, args):
    keras.utils.set_random_seed(seed)
    model = music_model(name, units)
    compile_model(model, "binary_crossentropy", args)
    # Training on chunks of the pieces, the held-out scores on whole pieces.
    train = jsb.batch(jsb.chunks(data["train"], args.chunk))
    valid, test = (jsb.batch(data[k], args.max_frames) for k in ("valid", "test"))
    model.fit(
        train[0],
        train[1],
        sample_weight=train[2],
        validation_data=valid,
        batch_size=args.batch_size,
        epochs=args.music_epochs,
        shuffle=True,
        verbose=args.verbose,
        callbacks=[
            keras.callbacks.EarlyStopping(
                restore_best_weights=True, patience=args.patience
            )
        ],
    )
    scores = {}
    for part, (x, y, w) in (("valid", valid), ("test", test)):
        scores[part] = jsb.nll_per_frame(model.predict(x, verbose=0), y, w)
    return scores


def run_text(name, units, seed, text, args):
    vocab, train, held_out = text
    keras.utils.set_random_seed(seed)
    model = text_model(name, units, len(vocab), args.embedding_dim)
    compile_model(
        model, keras.losses.SparseCategoricalCrossentropy(from_logits=True), args
    )
    model.fit(
        *train,
        batch_size=args.batch_size * 4,
        epochs=args.text_epochs,
        shuffle=True,
        verbose=args.verbose,
    )
    return {"test": bits_per_char(model, *held_out, 256)}


def load_text(args):
    if args.imdb_dir:
        text = imdb_text(args.imdb_dir, args.max_chars)[: args.max_chars]
        source = f"IMDB training reviews from {args.imdb_dir}"
    else:
        text = generated_text(0)[: args.max_chars]
        source = "generated sentences (no --imdb-dir)"
    split = int(len(text) * 0.95)
    vocab = Vocabulary(text[:split])
    ids = vocab.encode(text)
    train = windows(ids[:split], args.seq_len, args.seq_len)
    held_out = windows(ids[split:], args.seq_len, args.seq_len)
    print(f"text: {source}, {len(text)} characters, {len(vocab)} symbols")
    return vocab, train, held_out


def welch_p(values, reference):
    """Two-sided p of Welch's t-test, or None without scipy or spread."""
    try:
        from scipy import stats
    except ImportError:
        return None
    if len(values) < 2 or (np.std(values) == 0 and np.std(reference) == 0):
        return None
    return float(stats.ttest_ind(values, reference, equal_var=False).pvalue)


def table(task, metric, results, variants):
    rows = [r for r in results if r["task"] == task]
    reference = [r["test"] for r in rows if r["variant"] == "LSTM"]
    lines = [
        f"\n{task}: {metric} on the test set, lower is better",
        "| variant | units | parameters | per seed | mean | sd | vs LSTM | Welch p |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for name in variants:
        mine = [r for r in rows if r["variant"] == name]
        values = [r["test"] for r in mine]
        sd = f"{statistics.stdev(values):.3f}" if len(values) > 1 else "–"
        p = None if name == "LSTM" else welch_p(values, reference)
        lines.append(
            f"| {name} | {mine[0]['units']} | {mine[0]['parameters']} | "
            f"{', '.join(f'{v:.3f}' for v in values)} | {statistics.mean(values):.3f} | "
            f"{sd} | {statistics.mean(values) - statistics.mean(reference):+.3f} | "
            f"{'' if p is None else f'{p:.3f}'} |"
        )
    print("\n".join(lines), flush=True)
    return lines


def plot(results, tasks, variants, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Drawn for a documentation column (about 700-900 px): one panel per
    # task, stacked, 200 dpi, 9-10 pt text.
    fig, axes = plt.subplots(
        len(tasks), 1, figsize=(7, 3.4 * len(tasks)), squeeze=False
    )
    rng = np.random.default_rng(0)
    for ax, (task, metric) in zip(axes[:, 0], tasks, strict=True):
        for k, name in enumerate(variants):
            values = [
                r["test"] for r in results if r["task"] == task and r["variant"] == name
            ]
            jitter = rng.uniform(-0.15, 0.15, len(values))
            ax.scatter(values, k + jitter, s=18, color="C0" if name != "LSTM" else "C3")
            ax.plot([np.mean(values)] * 2, [k - 0.3, k + 0.3], color="black", lw=1)
        reference = [
            r["test"] for r in results if r["task"] == task and r["variant"] == "LSTM"
        ]
        ax.axvline(np.mean(reference), color="C3", lw=0.8, ls="--")
        ax.set_yticks(range(len(variants)), variants)
        ax.invert_yaxis()
        ax.set_xlabel(f"{metric} (test, lower is better)", fontsize=9)
        ax.set_title(task, fontsize=10)
        ax.tick_params(labelsize=9)
    from benchmarks.conditions import conditions
    from benchmarks.conditions import describe

    backend = keras.backend.backend()
    fig.suptitle(
        "LSTM variants at equal parameter counts: one dot per seed, bar = mean\n"
        + describe(conditions(backend), backend),
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=200)
    print(f"wrote {path}")


def run(args):
    variants = args.variants or list(VARIANTS)
    results, tasks = [], []
    if "jsb" in args.tasks:
        data = jsb.load(args.jsb_cache or jsb.default_cache())
        sizes = {k: len(v) for k, v in data.items()}
        print(f"JSB from music21: {sizes} chorales", flush=True)
        budget = music_model("LSTM", args.units).count_params()
        tasks.append(("JSB Chorales", "NLL per frame (nats)"))
        for name in variants:
            units, count = matched_units(music_model, name, budget)
            for seed in args.seeds:
                start = time.perf_counter()
                scores = run_music(name, units, seed, data, args)
                seconds = time.perf_counter() - start
                results.append(
                    dict(
                        task="JSB Chorales",
                        variant=name,
                        units=units,
                        parameters=count,
                        seed=seed,
                        seconds=seconds,
                        **scores,
                    )
                )
                print(
                    f"JSB  {name:<10} units {units:>3} params {count} seed {seed}  valid {scores['valid']:.3f}  test {scores['test']:.3f}  ({seconds:.0f} s)",
                    flush=True,
                )
    if "imdb" in args.tasks:
        text = load_text(args)
        vocabulary = len(text[0])

        def build(name, units):
            return text_model(name, units, vocabulary, args.embedding_dim)

        budget = build("LSTM", args.text_units).count_params()
        tasks.append(("IMDB characters", "bits per character"))
        for name in variants:
            units, count = matched_units(build, name, budget)
            for seed in args.seeds[: args.text_seeds]:
                start = time.perf_counter()
                scores = run_text(name, units, seed, text, args)
                seconds = time.perf_counter() - start
                results.append(
                    dict(
                        task="IMDB characters",
                        variant=name,
                        units=units,
                        parameters=count,
                        seed=seed,
                        seconds=seconds,
                        **scores,
                    )
                )
                print(
                    f"IMDB {name:<10} units {units:>3} params {count} seed {seed}  test {scores['test']:.3f} bits/char  ({seconds:.0f} s)",
                    flush=True,
                )
    lines = []
    for task, metric in tasks:
        lines += table(task, metric, results, variants)
    if args.plot:
        plot(results, tasks, variants, args.plot)
    if args.out:
        Path(args.out).write_text(
            json.dumps({"args": vars(args), "runs": results, "tables": lines}, indent=1)
        )
        print(f"wrote {args.out}")
    return results


# KERAS_GATES_SMOKE=1: the tiny sizes, whatever the command line gives.
SMOKE = {
    "seeds": [1],
    "units": 8,
    "music_epochs": 1,
    "max_frames": 16,
    "chunk": 8,
    "max_chars": 3000,
    "text_units": 8,
    "text_seeds": 1,
    "text_epochs": 1,
    "seq_len": 20,
    # Eager: compiling each model would take longer than its tiny training.
    "run_eagerly": True,
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--tasks", nargs="+", default=["jsb", "imdb"], choices=["jsb", "imdb"]
    )
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--units", type=int, default=64, help="the vanilla LSTM's on JSB"
    )
    parser.add_argument("--music-epochs", type=int, default=100)
    parser.add_argument("--patience", type=int, default=8)
    parser.add_argument(
        "--max-frames", type=int, help="cut the chorales to this many frames"
    )
    parser.add_argument(
        "--chunk", type=int, default=64, help="training frames per sequence"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--clipnorm", type=float, default=1.0)
    parser.add_argument("--jsb-cache", help=f"default: {jsb.CACHE}")
    parser.add_argument("--imdb-dir", help="an unpacked aclImdb archive")
    parser.add_argument("--max-chars", type=int, default=100_000)
    parser.add_argument("--text-units", type=int, default=64, help="the vanilla LSTM's")
    parser.add_argument("--text-seeds", type=int, default=2, help="the first seeds")
    parser.add_argument("--text-epochs", type=int, default=2)
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument("--plot", help="a PNG: the strip plot of every seed")
    parser.add_argument("--out", help="a JSON file for every run")
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument(
        "--quick", action="store_true", help="every variant, one seed, minutes"
    )
    parser.set_defaults(run_eagerly=False)  # not an option: see SMOKE
    if parser.parse_args(argv).quick:
        quick = {
            "seeds": [1],
            "units": 16,
            "music_epochs": 2,
            "max_frames": 64,
            "chunk": 32,
            "max_chars": 20_000,
            "text_units": 16,
            "text_epochs": 1,
            "seq_len": 50,
        }
        parser.set_defaults(**quick)
    return smoke_parse_args(parser, argv, **SMOKE)


def main(argv=None):
    return run(parse_args(argv))


if __name__ == "__main__":
    main()
