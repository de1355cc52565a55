"""Greff et al.'s LSTM variants and Jozefowicz et al.'s mutants, measured on
real polyphonic music: JSB Chorales and a second corpus (Palestrina), both
rebuilt from music21's scores (`benchmarks/music.py`).

Every model is `input -> recurrent layer -> output layer`, the recurrent
layer one of `VARIANTS`, its units chosen so that the whole model's
parameter count is the closest to the vanilla LSTM's at `--units` (equal
budgets). The mutants MUT1 and MUT2 need as many input features as units:
a bias-free `Dense(units)` projects their inputs, and it counts in their
budget.

Every variant is tuned and trained alike, per corpus: Adam with gradients
clipped to norm 1, its learning rate the best of `--learning-rates` on the
validation pieces, tried with the first seed; then the other seeds at that
rate (the test pieces choose nothing). Every run trains to a plateau: the validation loss is measured after
each epoch, training stops when it has not improved for `--patience`
epochs (or at `--max-epochs`, reported as not converged), and the best
epoch's weights are kept. It prints one line per run and a table per
corpus (the test NLL's mean and standard deviation, and Welch's t-test of
each variant against the vanilla LSTM, two-sided p, scipy), and draws the
test scores of every seed and the learning curves.

    python -m benchmarks.variant_study --quick      # every variant, 1 seed, tiny: minutes
    python -m benchmarks.variant_study --out variant_study.json \\
        --plot variant_study.png --curves variant_curves.png   # the documented run

`KERAS_GATES_SMOKE=1` (`benchmarks/smoke.py`): the variants asked for, one
seed, one rate, a tiny layer, two epochs and a few pieces of each corpus
(`music.SMOKE_PIECES`): seconds per variant.
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
from example_utils import load_studies  # noqa: E402
from example_utils import not_converged_note  # noqa: E402
from example_utils import plot_curves  # noqa: E402
from example_utils import save_study  # noqa: E402
from example_utils import steps_range  # noqa: E402
from example_utils import tuned  # noqa: E402

import keras_gates as kg  # noqa: E402
from benchmarks import music  # noqa: E402
from benchmarks.conditions import here  # noqa: E402
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
# The documented run: the variants Greff found to hurt (NFG, NOAF), two he
# found harmless (NP, CIFG), and Jozefowicz's GRU and first mutant.
STUDIED = ("LSTM", "NP", "CIFG", "NFG", "NOAF", "GRU", "MUT1")
CORPORA = ("jsb", "palestrina:60")
LEARNING_RATES = (3e-3, 1e-2, 3e-2)


def recurrent(name, units, x):
    make, projected = VARIANTS[name]
    if projected:
        x = keras.layers.Dense(units, use_bias=False, name="projection")(x)
    return make(units)(x)


def music_model(name, units):
    frames = keras.Input((None, music.KEYS), name="frames")
    x = recurrent(name, units, frames)
    outputs = keras.layers.Dense(music.KEYS, activation="sigmoid")(x)
    return keras.Model(frames, outputs)


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


def run_music(name, units, seed, learning_rate, data, args):
    """One run to a plateau: the NLL per frame on the validation and test
    pieces, and the plateau's record (curve, steps, converged)."""
    start = time.perf_counter()
    keras.utils.set_random_seed(seed)
    model = music_model(name, units)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=args.clipnorm),
        loss="binary_crossentropy",
        run_eagerly=args.run_eagerly,
    )
    # Training on chunks of the pieces, the held-out scores on whole pieces.
    train = music.batch(music.chunks(data["train"], args.chunk))
    valid, test = (music.batch(data[k], args.max_frames) for k in ("valid", "test"))
    plateau = Plateau("val_loss", patience=args.patience)
    model.fit(
        train[0],
        train[1],
        sample_weight=train[2],
        validation_data=valid,
        batch_size=args.batch_size,
        epochs=args.max_epochs,
        shuffle=True,
        verbose=args.verbose,
        callbacks=[plateau],
    )
    scores = {}
    for part, (x, y, w) in (("valid", valid), ("test", test)):
        scores[part] = music.nll_per_frame(model.predict(x, verbose=0), y, w)
    # In the table's unit: Keras' loss is the mean over every key of every
    # frame, padded frames (weight 0) included; the table's, the sum over
    # the keys averaged over the real frames.
    weights = valid[2]
    record = plateau.record(scale=music.KEYS * weights.size / float(weights.sum()))
    seconds = time.perf_counter() - start
    return {**scores, **record, "learning_rate": learning_rate, "seconds": seconds}


def welch_p(values, reference):
    """Two-sided p of Welch's t-test, or None without scipy or spread."""
    try:
        from scipy import stats
    except ImportError:
        return None
    if len(values) < 2 or (np.std(values) == 0 and np.std(reference) == 0):
        return None
    return float(stats.ttest_ind(values, reference, equal_var=False).pvalue)


def table(corpus, results, variants, cap):
    rows = [r for r in results if r["data"] == corpus]
    reference = [r["test"] for r in rows if r["variant"] == "LSTM"]
    lines = [
        f"**{corpus}: NLL per frame (nats) on the test pieces, lower is better**",
        "",
        # Narrow enough for a documentation column: each seed is in the
        # plot and the JSON.
        "| variant | units | parameters | rate | mean ± sd | vs LSTM | "
        "Welch p | steps |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in variants:
        mine = [r for r in rows if r["variant"] == name]
        values = [r["test"] for r in mine]
        sd = f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else ""
        p = None if name == "LSTM" or not reference else welch_p(values, reference)
        vs = (
            f"{statistics.mean(values) - statistics.mean(reference):+.3f}"
            if reference
            else ""
        )
        lines.append(
            f"| {name} | {mine[0]['units']} | {mine[0]['parameters']:,} | "
            f"{mine[0]['learning_rate']:g} | "
            f"{statistics.mean(values):.3f}{sd} | {vs} | "
            f"{'' if p is None else f'{p:.3f}'} | "
            f"{steps_range(mine)} |"
        )
    note = not_converged_note(rows, cap)
    lines += ["", note] if note else []
    print("\n" + "\n".join(lines), flush=True)
    return lines


def plot(results, corpora, variants, path, subtitle):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Drawn for a documentation column (about 700-900 px): one panel per
    # corpus, stacked, 200 dpi, 9-10 pt text.
    fig, axes = plt.subplots(
        len(corpora),
        1,
        figsize=(7, 0.35 * len(variants) * len(corpora) + 1.6),
        squeeze=False,
    )
    rng = np.random.default_rng(0)
    for ax, corpus in zip(axes[:, 0], corpora, strict=True):
        for k, name in enumerate(variants):
            values = [
                r["test"]
                for r in results
                if r["data"] == corpus and r["variant"] == name
            ]
            jitter = rng.uniform(-0.15, 0.15, len(values))
            ax.scatter(values, k + jitter, s=18, color="C0" if name != "LSTM" else "C3")
            ax.plot([np.mean(values)] * 2, [k - 0.3, k + 0.3], color="black", lw=1)
        reference = [
            r["test"] for r in results if r["data"] == corpus and r["variant"] == "LSTM"
        ]
        if reference:
            ax.axvline(np.mean(reference), color="C3", lw=0.8, ls="--")
        ax.set_yticks(range(len(variants)), variants)
        ax.invert_yaxis()
        ax.set_xlabel("NLL per frame, nats (test, lower is better)", fontsize=9)
        ax.set_title(corpus, fontsize=10)
        ax.tick_params(labelsize=9)
    fig.suptitle(
        "LSTM variants at equal parameter counts: one dot per seed, bar = mean\n"
        + subtitle,
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=200)
    plt.close(fig)
    print(f"wrote {path}")


def run(args):
    start = time.perf_counter()
    variants = args.variants or list(STUDIED)
    grid = [args.learning_rate] if args.learning_rate else args.learning_rates
    results, saved_seconds = load_studies(args.from_json)
    labels = list(dict.fromkeys(r["data"] for r in results))
    if args.from_json:
        variants = list(dict.fromkeys(r["variant"] for r in results))
    done = {}  # (corpus, variant): its runs, from --resume
    if args.resume and Path(args.resume).exists():
        saved = json.loads(Path(args.resume).read_text())
        saved_seconds = saved["seconds"]
        for r in saved["runs"]:
            done.setdefault((r["data"], r["variant"]), []).append(r)
    for corpus in () if args.from_json else args.corpus:
        label = music.corpus_label(corpus)
        labels.append(label)
        data = music.load(music.default_cache(corpus, args.cache_dir), corpus)
        sizes = {k: len(v) for k, v in data.items()}
        print(f"{label}: {sizes} pieces", flush=True)
        budget = music_model("LSTM", args.units).count_params()
        for name in variants:
            if len(done.get((label, name), ())) == len(args.seeds):
                results += done[label, name]
                print(f"{label} {name:<6} from {args.resume}", flush=True)
                continue
            units, count = matched_units(music_model, name, budget)
            rate, trials = tuned(
                grid,
                lambda lr, seed, n=name, u=units, d=data: run_music(
                    n, u, seed, lr, d, args
                ),
                args.seeds[0],
            )
            if trials:
                tried = "  ".join(
                    f"{lr:g}: {t['valid']:.3f}" for lr, t in trials.items()
                )
                print(
                    f"{label} {name:<6} tuning (valid) {tried} -> {rate:g}", flush=True
                )
            for seed in args.seeds:
                # The first seed's run at the chosen rate is its tuning run.
                scores = trials.get(rate) if seed == args.seeds[0] else None
                scores = scores or run_music(name, units, seed, rate, data, args)
                seconds = scores["seconds"]
                results.append(
                    dict(
                        data=label,
                        variant=name,
                        model=name,
                        units=units,
                        parameters=count,
                        seed=seed,
                        tuning={f"{lr:g}": t["valid"] for lr, t in trials.items()},
                        **scores,
                    )
                )
                print(
                    f"{label} {name:<6} units {units:>3} params {count} seed {seed}  "
                    f"valid {scores['valid']:.3f}  test {scores['test']:.3f}  "
                    f"steps {scores['steps']}"
                    f"{'' if scores['converged'] else ' (not converged)'}  ({seconds:.0f} s)",
                    flush=True,
                )
            if args.out:  # what has run so far, for --resume
                elapsed = saved_seconds + time.perf_counter() - start
                save_study(args.out, args, results, [], elapsed, "(partial)")
    seconds = saved_seconds + (0 if args.from_json else time.perf_counter() - start)
    lines = []
    for label in labels:
        lines += table(label, results, variants, f"{args.max_epochs} epochs") + [""]
    unconverged = sum(not r["converged"] for r in results)
    print(f"runs that reached --max-epochs before a plateau: {unconverged}")
    print(f"seconds: {seconds:.0f}")
    subtitle = here(keras.backend.backend())
    if args.plot:
        plot(results, labels, variants, args.plot, subtitle)
    if args.curves:
        plot_curves(
            results,
            args.curves,
            f"Validation NLL per frame while training (every seed)\n{subtitle}",
            ylabel="NLL per frame (nats)",
            zoom=1.25,
        )
        print(f"wrote {args.curves}")
    if args.out:
        save_study(args.out, args, results, lines, seconds, subtitle)
    return results


# KERAS_GATES_SMOKE=1: the tiny sizes, whatever the command line gives.
SMOKE = {
    "seeds": [1],
    "units": 8,
    "max_epochs": 2,
    "max_frames": 16,
    "chunk": 8,
    "learning_rates": [1e-2],
    "learning_rate": None,
    # Eager: compiling each model would take longer than its tiny training.
    "run_eagerly": True,
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--corpus",
        nargs="+",
        default=list(CORPORA),
        help="jsb, a music21 composer or a folder of scores; NAME:N samples N pieces",
    )
    parser.add_argument(
        "--cache-dir", help="the corpora's piano rolls (default: ~/.keras/datasets/)"
    )
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--units", type=int, default=64, help="the vanilla LSTM's")
    parser.add_argument(
        "--learning-rates", type=float, nargs="+", default=list(LEARNING_RATES)
    )
    parser.add_argument("--learning-rate", type=float, help="one rate, no tuning")
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument(
        "--max-frames", type=int, help="cut the held-out pieces to this many frames"
    )
    parser.add_argument(
        "--chunk", type=int, default=64, help="training frames per sequence"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--clipnorm", type=float, default=1.0)
    parser.add_argument(
        "--from-json",
        nargs="+",
        help="train nothing: the tables and figures of saved runs (--out files)",
    )
    parser.add_argument(
        "--resume",
        help="a partial --out file: its finished variants are not run again",
    )
    parser.add_argument("--plot", help="a PNG: the test score of every seed")
    parser.add_argument("--curves", help="a PNG: the learning curves")
    parser.add_argument("--out", help="a JSON file for every run")
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument(
        "--quick", action="store_true", help="every variant, one seed, minutes"
    )
    parser.set_defaults(run_eagerly=False)  # not an option: see SMOKE
    if parser.parse_args(argv).quick:
        parser.set_defaults(
            variants=list(VARIANTS),
            seeds=[1],
            units=16,
            max_epochs=3,
            max_frames=64,
            chunk=32,
            learning_rates=[1e-2],
        )
    return smoke_parse_args(parser, argv, **SMOKE)


def main(argv=None):
    return run(parse_args(argv))


if __name__ == "__main__":
    main()
