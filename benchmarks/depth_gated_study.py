"""Does the depth gate help a deep stack? Stacked LSTMs against the
Depth-Gated LSTM on two character language models: English prose (IMDB
reviews) and Python source code (the standard library's).

Per text: `Embedding -> --depth stacked keras.layers.LSTM -> Dense` against
`Embedding -> DepthGatedLSTM(num_layers=--depth) -> Dense`, the second
with fewer units so that the two models have about the same number of
parameters (the closest count), both without peepholes (the depth gate is
the only difference). Both are tuned and trained alike: Adam with gradients
clipped to norm 1, the learning rate the best of `--learning-rates` on the
validation text, tried with the first seed, then the other seeds at that
rate (the test text chooses nothing).
Every run trains to a plateau: the validation loss after each epoch,
stopping when it has not improved for `--patience` epochs (or at
`--max-epochs`, reported as not converged), the best epoch's weights kept.
It prints the bits per character of each run on the test text, a table of
mean and standard deviation, and draws the learning curves.

    tar xzf aclImdb_v1.tar.gz
    python -m benchmarks.depth_gated_study --imdb-dir aclImdb \\
        --out depth_gated.json --curves depth_gated_curves.png   # the documented table
    python -m benchmarks.depth_gated_study --smoke                  # seconds

`KERAS_GATES_SMOKE=1` (`benchmarks/smoke.py`) acts as `--smoke`, its sizes
replacing those given on the command line.

The texts (`--corpus`): `imdb`, the IMDB training reviews (`--imdb-dir`,
read as examples/text_generation.py reads them; without it, generated
sentences stand in and the output says so); `python`, the `.py` files of
the running Python's standard library, in path order. Of the first
`--max-chars` characters of each, the last 10% are held out: the first
half for validation, the second for the test.
"""

import argparse
import math
import pathlib
import sys
import sysconfig
import time
from pathlib import Path

import keras

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from example_utils import Plateau  # noqa: E402
from example_utils import load_studies  # noqa: E402
from example_utils import mean_sd  # noqa: E402
from example_utils import not_converged_note  # noqa: E402
from example_utils import plot_curves  # noqa: E402
from example_utils import save_study  # noqa: E402
from example_utils import steps_range  # noqa: E402
from example_utils import tuned  # noqa: E402
from text_generation import Vocabulary  # noqa: E402
from text_generation import bits_per_char  # noqa: E402
from text_generation import generated_text  # noqa: E402
from text_generation import imdb_text  # noqa: E402
from text_generation import windows  # noqa: E402

import keras_gates  # noqa: E402
from benchmarks.conditions import here  # noqa: E402
from benchmarks.smoke import parse_args as smoke_parse_args  # noqa: E402

MODELS = ("stacked LSTM", "DepthGatedLSTM")
CORPORA = ("imdb", "python")
LEARNING_RATES = (3e-3, 1e-2, 3e-2)
# `--smoke`: seconds, offline (the text: generated sentences unless --imdb-dir).
SMOKE = {
    "max_chars": 6000,
    "depth": 2,
    "seeds": [1],
    "units": 16,
    "max_epochs": 2,
    "seq_len": 20,
    "learning_rates": [3e-3],
}


def python_text(max_chars):
    """The `.py` files of the standard library, in path order, up to
    `max_chars` characters."""
    root = pathlib.Path(sysconfig.get_paths()["stdlib"])
    parts, size = [], 0
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        parts.append(text)
        size += len(text)
        if size >= max_chars:
            break
    return "".join(parts)[
        :max_chars
    ], f"the Python {sys.version.split()[0]} standard library's source"


def corpus_text(name, args):
    if name == "python":
        return python_text(args.max_chars)
    if args.imdb_dir:
        text = imdb_text(args.imdb_dir, args.max_chars)[: args.max_chars]
        return text, "IMDB training reviews"
    text = generated_text(0)[: args.max_chars]
    return text, "generated sentences (no --imdb-dir: a stand-in for IMDB)"


def splits(text, seq_len):
    """Training, validation and test windows (90 / 5 / 5 percent, in that
    order) and the vocabulary of the training text."""
    first, second = int(len(text) * 0.9), int(len(text) * 0.95)
    vocab = Vocabulary(text[:first])
    ids = vocab.encode(text)
    parts = (ids[:first], ids[first:second], ids[second:])
    return vocab, [windows(p, seq_len, seq_len) for p in parts]


def build(model_name, layers, units, vocabulary, embedding_dim):
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(vocabulary, embedding_dim)(inputs)
    if model_name == "stacked LSTM":
        for _ in range(layers):
            x = keras.layers.LSTM(units, return_sequences=True)(x)
    else:
        x = keras_gates.DepthGatedLSTM(
            units, num_layers=layers, peepholes=None, return_sequences=True
        )(x)
    return keras.Model(inputs, keras.layers.Dense(vocabulary)(x))


def matched_units(layers, units, vocabulary, embedding_dim):
    """The Depth-Gated LSTM's units whose model has the parameter count
    closest to the stacked LSTMs' of `units`."""
    want = build("stacked LSTM", layers, units, vocabulary, embedding_dim)
    want = want.count_params()
    counts = {
        u: build("DepthGatedLSTM", layers, u, vocabulary, embedding_dim).count_params()
        for u in range(units // 2, units + 1)
    }
    best = min(counts, key=lambda u: abs(counts[u] - want))
    return best, want, counts[best]


def train(name, units, vocab, data, args, seed, learning_rate):
    """One run to a plateau: bits per character on the validation and test
    text, and the plateau's record."""
    start = time.perf_counter()
    train_windows, valid, test = data
    keras.utils.set_random_seed(seed)
    model = build(name, args.depth, units, len(vocab), args.embedding_dim)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=args.clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    plateau = Plateau("val_loss", patience=args.patience)
    model.fit(
        *train_windows,
        validation_data=valid,
        batch_size=args.batch_size,
        epochs=args.max_epochs,
        shuffle=True,
        verbose=args.verbose,
        callbacks=[plateau],
    )
    record = plateau.record(scale=1 / math.log(2))  # nats to bits
    return {
        "valid": bits_per_char(model, *valid, args.batch_size),
        "test": bits_per_char(model, *test, args.batch_size),
        "learning_rate": learning_rate,
        "seconds": time.perf_counter() - start,
        **record,
    }


def markdown(results, labels, seeds, cap):
    lines = [
        "| text | model | units | parameters | rate | bits per character, test "
        f"(seeds {', '.join(map(str, seeds))}) | mean ± sd | steps |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for label in labels:
        for name in MODELS:
            rows = [r for r in results if r["data"] == label and r["model"] == name]
            values = [r["test"] for r in rows]
            lines.append(
                f"| {label} | {name} | {rows[0]['units']} | {rows[0]['parameters']:,} | "
                f"{rows[0]['learning_rate']:g} | {', '.join(f'{v:.3f}' for v in values)} | "
                f"{mean_sd(values)} | {steps_range(rows)} |"
            )
    note = not_converged_note(results, cap)
    return lines + (["", note] if note else [])


def run(args):
    start = time.perf_counter()
    grid = [args.learning_rate] if args.learning_rate else args.learning_rates
    results, saved_seconds = load_studies(args.from_json)
    labels = list(dict.fromkeys(r["data"] for r in results))
    for corpus in () if args.from_json else args.corpus:
        text, source = corpus_text(corpus, args)
        vocab, data = splits(text, args.seq_len)
        label = (
            f"{corpus} ({source})" if corpus == "imdb" and not args.imdb_dir else corpus
        )
        labels.append(label)
        print(
            f"{corpus}: {source}, {len(text)} characters, {len(vocab)} symbols; "
            f"windows of {args.seq_len}: {', '.join(str(len(d[0])) for d in data)} "
            "(train, valid, test)",
            flush=True,
        )
        dg_units, params, dg_params = matched_units(
            args.depth, args.units, len(vocab), args.embedding_dim
        )
        sizes = {
            "stacked LSTM": (args.units, params),
            "DepthGatedLSTM": (dg_units, dg_params),
        }
        for name in MODELS:
            units, count = sizes[name]
            rate, trials = tuned(
                grid,
                lambda lr, seed, n=name, u=units, v=vocab, d=data: train(
                    n, u, v, d, args, seed, lr
                ),
                args.seeds[0],
            )
            if trials:
                tried = "  ".join(
                    f"{lr:g}: {t['valid']:.3f}" for lr, t in trials.items()
                )
                print(
                    f"{corpus} {name:<15} tuning (valid) {tried} -> {rate:g}",
                    flush=True,
                )
            for seed in args.seeds:
                # The first seed's run at the chosen rate is its tuning run.
                scores = trials.get(rate) if seed == args.seeds[0] else None
                scores = scores or train(name, units, vocab, data, args, seed, rate)
                seconds = scores["seconds"]
                results.append(
                    {
                        "data": label,
                        "layers": args.depth,
                        "model": name,
                        "units": units,
                        "parameters": count,
                        "seed": seed,
                        "tuning": {f"{lr:g}": t["valid"] for lr, t in trials.items()},
                        **scores,
                    }
                )
                print(
                    f"{corpus} {args.depth} layers {name:<15} units {units:>3} "
                    f"params {count} seed {seed}  {scores['test']:.3f} bits/char  "
                    f"steps {scores['steps']}"
                    f"{'' if scores['converged'] else ' (not converged)'}  ({seconds:.0f} s)",
                    flush=True,
                )
    lines = markdown(results, labels, args.seeds, f"{args.max_epochs} epochs")
    print("\n" + "\n".join(lines))
    seconds = saved_seconds if args.from_json else time.perf_counter() - start
    print(
        f"runs that reached --max-epochs before a plateau: "
        f"{sum(not r['converged'] for r in results)}"
    )
    print(f"seconds: {seconds:.0f}")
    subtitle = here(keras.backend.backend())
    if args.curves:
        plot_curves(
            results,
            args.curves,
            f"{args.depth} layers: validation bits per character while training "
            f"(every seed)\n{subtitle}",
            ylabel="bits per character",
            zoom=1.3,
        )
        print(f"wrote {args.curves}")
    if args.out:
        save_study(args.out, args, results, lines, seconds, subtitle)
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", nargs="+", default=list(CORPORA), choices=CORPORA)
    parser.add_argument("--imdb-dir", help="an unpacked aclImdb archive")
    parser.add_argument("--max-chars", type=int, default=150_000, help="per text")
    parser.add_argument("--depth", type=int, default=3, help="layers")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--units", type=int, default=64, help="of the stacked LSTMs")
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--learning-rates", type=float, nargs="+", default=list(LEARNING_RATES)
    )
    parser.add_argument("--learning-rate", type=float, help="one rate, no tuning")
    parser.add_argument("--clipnorm", type=float, default=1.0)
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument(
        "--from-json",
        nargs="+",
        help="train nothing: the table and figure of saved runs (--out files)",
    )
    parser.add_argument("--curves", help="a PNG: the learning curves")
    parser.add_argument("--out", help="a JSON file for every run")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="seconds, offline; KERAS_GATES_SMOKE=1 in the environment acts as "
        "--smoke, its sizes replacing those given",
    )
    if parser.parse_args(argv).smoke:
        parser.set_defaults(**SMOKE)
    return smoke_parse_args(parser, argv, smoke=True, **SMOKE)


def main(argv=None):
    return run(parse_args(argv))


if __name__ == "__main__":
    main()
