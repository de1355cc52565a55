"""Does the depth gate help deeper stacks? Stacked LSTMs against the
Depth-Gated LSTM on the character language model of
examples/text_generation.py.

For each depth (3 and 6 layers) and seed: `Embedding -> N stacked
keras.layers.LSTM -> Dense` against `Embedding -> DepthGatedLSTM(num_layers=N)
-> Dense`, the second with fewer units so that the two models have about the
same number of parameters (the closest count), both without peepholes (the depth gate is
the only difference), trained the same way (Adam, gradient clipping, the
same epochs and batches). It prints the bits per character of each run on
held-out text and the mean per model and depth.

    tar xzf ../shared/data/aclImdb_v1.tar.gz -C /tmp
    python -m benchmarks.depth_gated_study --imdb-dir /tmp/aclImdb   # the documented table
    python -m benchmarks.depth_gated_study --smoke                  # seconds

`KERAS_GATES_SMOKE=1` (`benchmarks/smoke.py`) acts as `--smoke`, its sizes
replacing those given on the command line.

The text: the IMDB training reviews (`--imdb-dir`, read as
examples/text_generation.py reads them), the first `--max-chars`
characters, of which the last `--held-out` share is held out.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import keras

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from text_generation import Vocabulary  # noqa: E402
from text_generation import bits_per_char  # noqa: E402
from text_generation import generated_text  # noqa: E402
from text_generation import imdb_text  # noqa: E402
from text_generation import windows  # noqa: E402

import keras_gates  # noqa: E402
from benchmarks.smoke import parse_args as smoke_parse_args  # noqa: E402

MODELS = ("stacked LSTM", "DepthGatedLSTM")
# `--smoke`: seconds, offline (the text: generated sentences unless --imdb-dir).
SMOKE = {
    "max_chars": 6000,
    "depths": [2],
    "seeds": [1],
    "units": 16,
    "epochs": 1,
    "seq_len": 20,
}


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


def run(args):
    if args.imdb_dir:
        text = imdb_text(args.imdb_dir, args.max_chars)[: args.max_chars]
        source = f"IMDB training reviews from {args.imdb_dir}"
    else:
        text = generated_text(0)[: args.max_chars]
        source = "generated sentences (no --imdb-dir)"
    split = int(len(text) * (1 - args.held_out))
    vocab = Vocabulary(text[:split])
    ids = vocab.encode(text)
    train = windows(ids[:split], args.seq_len, args.seq_len)
    held_out = windows(ids[split:], args.seq_len, args.seq_len)
    print(
        f"text: {source}, {len(text)} characters, {len(vocab)} symbols; "
        f"{len(train[0])} training and {len(held_out[0])} held-out windows of "
        f"{args.seq_len}"
    )
    results = []
    for layers in args.depths:
        dg_units, params, dg_params = matched_units(
            layers, args.units, len(vocab), args.embedding_dim
        )
        sizes = {
            "stacked LSTM": (args.units, params),
            "DepthGatedLSTM": (dg_units, dg_params),
        }
        for seed in args.seeds:
            for name in MODELS:
                units, count = sizes[name]
                keras.utils.set_random_seed(seed)
                model = build(name, layers, units, len(vocab), args.embedding_dim)
                model.compile(
                    optimizer=keras.optimizers.Adam(
                        args.learning_rate, clipnorm=args.clipnorm
                    ),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                )
                start = time.perf_counter()
                model.fit(
                    *train,
                    batch_size=args.batch_size,
                    epochs=args.epochs,
                    shuffle=True,
                    verbose=args.verbose,
                )
                seconds = time.perf_counter() - start
                bpc = bits_per_char(model, *held_out, args.batch_size)
                results.append(
                    {
                        "layers": layers,
                        "model": name,
                        "units": units,
                        "parameters": count,
                        "seed": seed,
                        "bits_per_char": bpc,
                        "seconds": seconds,
                    }
                )
                print(
                    f"{layers} layers  {name:<15} units {units:>3}  params {count}  "
                    f"seed {seed}  {bpc:.3f} bits/char  ({seconds:.0f} s)",
                    flush=True,
                )
    print(
        f"\n| layers | model | units | parameters | bits per char ({len(args.seeds)} seeds) | mean |"
    )
    print("|---:|---|---:|---:|---|---:|")
    for layers in args.depths:
        for name in MODELS:
            rows = [r for r in results if r["layers"] == layers and r["model"] == name]
            values = [r["bits_per_char"] for r in rows]
            print(
                f"| {layers} | {name} | {rows[0]['units']} | {rows[0]['parameters']} | "
                f"{', '.join(f'{v:.3f}' for v in values)} | {statistics.mean(values):.3f} |"
            )
    if args.out:
        Path(args.out).write_text(
            json.dumps({"args": vars(args), "runs": results}, indent=1)
        )
        print(f"wrote {args.out}")
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--imdb-dir", help="an unpacked aclImdb archive")
    parser.add_argument("--max-chars", type=int, default=600_000)
    parser.add_argument("--held-out", type=float, default=0.05)
    parser.add_argument("--depths", type=int, nargs="+", default=[3, 6])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--units", type=int, default=128, help="of the stacked LSTMs")
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--clipnorm", type=float, default=1.0)
    parser.add_argument("--verbose", type=int, default=0)
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
