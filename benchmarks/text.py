"""Times the layers where users run them: masked, variable-length text.

The IMDB-shaped model of `examples/imdb_sentiment.py`: token ids padded on
the right to 300, `Embedding(20000, 128, mask_zero=True)`, the recurrent
layer, `Dense(1, "sigmoid")`, `model.compile("adam", "binary_crossentropy")`
with Keras' defaults otherwise; batches of 64 reviews whose lengths follow
IMDB's (below, or the real reviews with `--imdb-dir`). A train step is
`train_on_batch`, inference `predict_on_batch`; each round gives every case
the same batch, a different one each round.

Beside them, in PyTorch: `torch.nn.LSTM` and `torch.nn.GRU` on packed
sequences (`pack_padded_sequence`, the right way to give them variable
lengths), the same model and Adam.

Each Keras backend and PyTorch runs in a worker process of its own, taking
turns (`benchmarks.workers`); the ratios are to keras LSTM on the same
backend, in the same run.

    python -m benchmarks.text                              # TensorFlow and JAX
    python -m benchmarks.text --backends tensorflow jax torch --units 64 256
    python -m benchmarks.text --imdb-dir aclImdb           # the real reviews

Writes `text.json` (every timing) into `--out`.
"""

import argparse
import dataclasses
import json
import os
import re

import numpy as np

from benchmarks.conditions import conditions
from benchmarks.peers import KERAS_LAYERS
from benchmarks.smoke import smoke
from benchmarks.workers import PHASES
from benchmarks.workers import summarize
from benchmarks.workers import time_groups
from benchmarks.workers import write_json

VOCABULARY = 20_000
EMBEDDING = 128
LENGTH = 300
BATCH = 64
BATCHES = 8  # distinct batches, one per round in turn


@dataclasses.dataclass(frozen=True)
class Sizes:
    """The model's and the batches' sizes."""

    vocabulary: int = VOCABULARY
    embedding: int = EMBEDDING
    length: int = LENGTH
    batch: int = BATCH
    batches: int = BATCHES


# `KERAS_GATES_SMOKE=1`'s (`benchmarks.smoke`): the same cases, tiny.
SMOKE_SIZES = Sizes(vocabulary=50, embedding=8, length=12, batch=4, batches=2)


def sizes():
    """The sizes of this run: `Sizes()`, or `SMOKE_SIZES` in a smoke run."""
    return SMOKE_SIZES if smoke() else Sizes()


TORCH_LAYERS = ["torch.nn.LSTM packed", "torch.nn.GRU packed"]

# Words per review in IMDB's 25,000 training reviews (as `TextVectorization`
# splits them, see `review_lengths`): the 0th, 5th, ..., 100th
# percentiles, measured by `python -m benchmarks.text --imdb-dir aclImdb
# --lengths-only`. Drawn between them uniformly, then cut at LENGTH.
IMDB_PERCENTILES = [
    10, 63, 89, 108, 118, 125, 133, 141, 149, 160, 172,
    186, 203, 224, 248, 280, 320, 371, 452, 589, 2459,
]  # fmt: skip

# The environment variable that hands the workers the batches' lengths.
_LENGTHS_VARIABLE = "KERAS_GATES_TEXT_LENGTHS"


def review_lengths(imdb_dir, split="train"):
    """Words per review in `imdb_dir/split/{pos,neg}`."""
    lengths = []
    for label in ("pos", "neg"):
        folder = os.path.join(imdb_dir, split, label)
        for name in sorted(os.listdir(folder)):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                text = f.read().replace("<br />", " ")
            # Words as `TextVectorization`'s defaults split them: punctuation
            # stripped, then split on white space.
            lengths.append(len(re.sub(r"[^\w\s]", "", text).split()))
    return np.array(lengths)


def draw_lengths(percentiles, count, seed=0, length=LENGTH):
    """`count` lengths from the distribution whose 0th to 100th percentiles
    (equally spaced) are `percentiles`, cut to 1..`length`."""
    rng = np.random.default_rng(seed)
    quantiles = np.linspace(0.0, 1.0, len(percentiles))
    lengths = np.interp(rng.uniform(size=count), quantiles, percentiles)
    return np.clip(np.round(lengths), 1, length).astype(int)


def batches(lengths, seed=0, sizes=Sizes()):  # noqa: B008 (frozen)
    """`[(tokens, labels)]`: `sizes.batches` batches of `sizes.batch` rows,
    right padding."""
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths).reshape(sizes.batches, sizes.batch)
    out = []
    for row_lengths in lengths:
        tokens = np.zeros((sizes.batch, sizes.length), "int32")
        for row, n in enumerate(row_lengths):
            tokens[row, :n] = rng.integers(1, sizes.vocabulary, size=n)
        labels = rng.integers(0, 2, size=(sizes.batch, 1)).astype("float32")
        out.append((tokens, labels))
    return out


def _shared_batches():
    return batches(json.loads(os.environ[_LENGTHS_VARIABLE]), sizes=sizes())


def _cycled(fns):
    """One call per round, each round the next batch."""
    state = {"round": 0}

    def call():
        fns[state["round"] % len(fns)]()
        state["round"] += 1

    return call


# --------------------------------------------------------------- the workers


def keras_cases(layers, batch, steps, features, units, device=None):
    """`({name: (train, infer)}, {})`: the text model with each layer, on the
    worker's Keras backend."""
    import keras

    from benchmarks.cases import CASES

    data, size = _shared_batches(), sizes()
    cases = {}
    for name in layers:
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((size.length,), dtype="int32"),
                keras.layers.Embedding(size.vocabulary, size.embedding, mask_zero=True),
                CASES[name].build(units),
                keras.layers.Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(optimizer="adam", loss="binary_crossentropy")
        trains = [lambda x=x, y=y, m=model: m.train_on_batch(x, y) for x, y in data]
        infers = [lambda x=x, m=model: m.predict_on_batch(x) for x, _ in data]
        trains[0](), infers[0]()  # traced (and compiled) before timing
        cases[name] = (_cycled(trains), _cycled(infers))
    return cases, {}


def torch_cases(layers, batch, steps, features, units, device="cpu"):
    """`({name: (train, infer)}, {})`: the same model in PyTorch, the
    recurrent layer fed packed sequences."""
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence

    data, size = _shared_batches(), sizes()
    cases = {}
    for name in layers:
        torch.manual_seed(0)
        recurrent = torch.nn.GRU if "GRU" in name else torch.nn.LSTM
        embedding = torch.nn.Embedding(size.vocabulary, size.embedding, padding_idx=0)
        rnn = recurrent(size.embedding, units, batch_first=True)
        head = torch.nn.Linear(units, 1)
        modules = torch.nn.ModuleList([embedding, rnn, head]).to(device)
        optimizer = torch.optim.Adam(modules.parameters())
        loss_fn = torch.nn.BCEWithLogitsLoss()

        def forward(tokens, embedding=embedding, rnn=rnn, head=head):
            lengths = (tokens != 0).sum(dim=1)
            packed = pack_padded_sequence(
                embedding(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            _, state = rnn(packed)
            h = state[0] if isinstance(state, tuple) else state
            return head(h[-1])

        tensors = [
            (
                torch.from_numpy(x.astype("int64")).to(device),
                torch.from_numpy(y).to(device),
            )
            for x, y in data
        ]

        def train(x, y, forward=forward, optimizer=optimizer, loss_fn=loss_fn):
            optimizer.zero_grad()
            loss_fn(forward(x), y).backward()
            optimizer.step()

        def infer(x, forward=forward):
            with torch.no_grad():
                torch.sigmoid(forward(x))

        trains = [lambda x=x, y=y, t=train: t(x, y) for x, y in tensors]
        infers = [lambda x=x, i=infer: i(x) for x, _ in tensors]
        trains[0](), infers[0]()
        cases[name] = (_cycled(trains), _cycled(infers))
    return cases, {}


# ------------------------------------------------------------------ the run

KERAS = "benchmarks.text:keras_cases"
TORCH = "benchmarks.text:torch_cases"
PYTORCH = "pytorch"  # the PyTorch worker's label (torch is a Keras backend)


def ratios_to_keras_lstm(records):
    """Each Keras record's ratio to keras LSTM of its backend, same units
    and phase (`ratio_keras.LSTM`); PyTorch's to keras LSTM on TensorFlow."""
    base = {
        (r["backend"], r["units"], r["phase"]): r["median_s"]
        for r in records
        if r["layer"] == "keras.LSTM"
    }
    for r in records:
        backend = "tensorflow" if r["backend"] == PYTORCH else r["backend"]
        key = (backend, r["units"], r["phase"])
        if key in base:
            r["ratio_keras.LSTM"] = r["median_s"] / base[key]
    return records


def print_table(records, units_list):
    """Rows: backend and layer; columns: ms (ratio to keras LSTM) per units
    and phase."""
    columns = [(u, p) for u in units_list for p in PHASES]
    rows = list(dict.fromkeys((r["backend"], r["layer"]) for r in records))
    cell = {(r["backend"], r["layer"], r["units"], r["phase"]): r for r in records}
    width = max(len(f"{b} {n}") for b, n in rows) + 2
    print(
        f"{'backend, layer':<{width}}"
        + "".join(f"{f'{u} {p} ms':>18}" for u, p in columns)
    )
    for backend, name in rows:
        line = f"{f'{backend} {name}':<{width}}"
        for u, p in columns:
            r = cell.get((backend, name, u, p))
            if r is None:
                line += f"{'-':>18}"
                continue
            text = f"{1e3 * r['median_s']:.1f}"
            if "ratio_keras.LSTM" in r:
                text += f" ({r['ratio_keras.LSTM']:.2f})"
            line += f"{text:>18}"
        print(line)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--backends", nargs="+", default=["tensorflow", "jax"], help="Keras backends"
    )
    parser.add_argument("--units", nargs="+", type=int, default=[64, 256])
    parser.add_argument("--layers", nargs="+", default=KERAS_LAYERS)
    parser.add_argument("--torch-layers", nargs="*", default=TORCH_LAYERS)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--imdb-dir", help="the real reviews' lengths (aclImdb)")
    parser.add_argument(
        "--lengths-only",
        action="store_true",
        help="print the percentiles of --imdb-dir's lengths and stop",
    )
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    rounds, units_list = args.rounds, args.units
    size = sizes()
    if smoke():  # KERAS_GATES_SMOKE=1: the tiny form
        rounds, units_list = 2, [8]
    count = size.batches * size.batch
    if args.imdb_dir:
        real = review_lengths(args.imdb_dir)
        if args.lengths_only:
            percentiles = np.percentile(real, np.linspace(0, 100, 21))
            print([int(round(p)) for p in percentiles])
            return None
        rng = np.random.default_rng(0)
        lengths = np.clip(rng.choice(real, size=count), 1, size.length)
        source = f"lengths of {count} reviews of {args.imdb_dir}"
    else:
        lengths = draw_lengths(IMDB_PERCENTILES, count, length=size.length)
        source = "lengths drawn from IMDB's distribution"
    os.environ[_LENGTHS_VARIABLE] = json.dumps([int(n) for n in lengths])
    print(
        f"{size.batches} batches of {size.batch} x {size.length} tokens, {source}: "
        f"median {int(np.median(lengths))}, {np.mean(lengths == size.length):.0%} "
        f"cut at {size.length}; "
        f"{rounds} interleaved rounds"
    )
    groups = [(KERAS, args.layers)] * len(args.backends) + [(TORCH, args.torch_layers)]
    labels = [(b, b) for b in args.backends] + [(PYTORCH, "tensorflow")]
    records = []
    for units in units_list:
        print(f"Timing {units} units")
        shape = (size.batch, size.length)
        times, _ = time_groups(
            groups, shape, size.embedding, units, rounds, labels=labels
        )
        for record in summarize(times, *shape):
            backend, _, layer = record["layer"].partition(" :: ")
            records.append(
                {**record, "backend": backend, "layer": layer, "units": units}
            )
    ratios_to_keras_lstm(records)
    print()
    print_table(records, units_list)
    result = {
        "rounds": rounds,
        "batch": size.batch,
        "length": size.length,
        "lengths": source,
        "median_length": float(np.median(lengths)),
        "conditions": conditions("tensorflow", *args.backends, "torch"),
        "records": records,
    }
    return write_json(result, args.out, "text.json")


if __name__ == "__main__":
    main()
