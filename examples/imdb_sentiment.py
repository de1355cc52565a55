"""IMDB sentiment: classify movie reviews with a keras-gates layer.

What it shows: raw review text -> `TextVectorization` (20,000 words; the last
300 of a longer review, where reviewers give their verdict) ->
`Embedding(128, mask_zero=True)` with whole channels dropped (0.4) -> one
recurrent layer of 64 units (`--cell`; three stacked for `sru` and `mingru`,
which have no recurrent matrix, as their papers stack them; `--layers`) ->
dropout 0.5 -> a sigmoid. Every gated layer starts its memory gates with
chrono initialization up to the review length (`--chrono-init`; `0` for the
layers' own biases). Adam at 2e-3 with a cosine decay over the 5 epochs and
gradients clipped to norm 1, on the 25,000 IMDB training reviews (20% held
out for validation, the best epoch kept, stopping after 2 epochs without
progress), scored on the 25,000 test reviews. The padding is masked, so
the layer's last state is the one after the review's last word.

How to run it:

    pip install -e ".[examples]"
    python examples/imdb_sentiment.py                        # peephole LSTM, tfds download
    python examples/imdb_sentiment.py --cell coupled --bidirectional
    python examples/imdb_sentiment.py --data-dir aclImdb      # a local copy, no download
    python examples/imdb_sentiment.py --smoke                 # offline, seconds
    python examples/imdb_sentiment.py --data-dir aclImdb --tflite   # + TFLite scores
    python examples/imdb_sentiment.py --seq-len 512 --sliced 8 8    # a SlicedRNN

By default the reviews come from tensorflow-datasets (`imdb_reviews`, an
80 MB download). `--data-dir` reads the original aclImdb archive unpacked:
`train/pos`, `train/neg`, `test/pos`, `test/neg`, one review per file (its
`train/unsup` folder is ignored). It prints the median seconds per epoch,
then `test accuracy: X`; with `--tflite`, then the size and test accuracy of
the model exported to TFLite, float32 and full-integer int8 (both on the
fused LSTM op for the LSTM family), scored one review per call on the
LiteRT interpreter.

Measured on the real archive with the defaults, 2 CPU cores, one run per
cell, each alone on the machine (`tar xzf aclImdb_v1.tar.gz -C /tmp`, then
`python examples/imdb_sentiment.py --cell CELL --data-dir /tmp/aclImdb`):
test accuracy `peephole` 0.8869 (67 s per epoch), `coupled` 0.8879 (42 s),
`minimal_gru` 0.8888 (37 s), `sru` (3 layers) 0.8780 (101 s), `mingru` (3
layers) 0.8834 (67 s), keras `lstm` 0.8851 (48 s), keras `gru` 0.8897 (46 s). The examples guide (docs/guides/examples.md) has the table.
"""

import argparse
import contextlib
import math
import os
import pathlib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from example_utils import CELLS  # noqa: E402
from example_utils import EpochTimer  # noqa: E402
from example_utils import parse_with_smoke  # noqa: E402
from example_utils import recurrent_layer  # noqa: E402

import keras_gates  # noqa: E402

CLASS_NAMES = ["neg", "pos"]  # label 0 and 1, as in tensorflow-datasets


def load_tfds(data_dir=None):
    """(train, validation, test) datasets of (text, label) from tfds."""
    import tensorflow_datasets as tfds

    return tfds.load(
        "imdb_reviews",
        split=["train[:80%]", "train[80%:]", "test"],
        as_supervised=True,
        data_dir=data_dir,
    )


def load_directory(path, seed, shuffle_test=False):
    """(train, validation, test) datasets of (text, label) from an aclImdb
    folder: `train/{neg,pos}` split 80/20, `test/{neg,pos}` (in file order,
    or shuffled with `shuffle_test`)."""
    path = pathlib.Path(path)
    for split in ("train", "test"):
        for name in CLASS_NAMES:
            if not (path / split / name).is_dir():
                raise FileNotFoundError(
                    f"--data-dir {path}: expected the aclImdb layout with a "
                    f"folder {path / split / name} of review files"
                )
    options = dict(class_names=CLASS_NAMES, batch_size=None, seed=seed)
    train, validation = keras.utils.text_dataset_from_directory(
        path / "train", validation_split=0.2, subset="both", **options
    )
    test = keras.utils.text_dataset_from_directory(
        path / "test", shuffle=shuffle_test, **options
    )
    return train, validation, test


def strip_html(text, label):
    # The reviews hold "<br />" line breaks.
    return tf.strings.regex_replace(text, "<br\\s*/?>", " "), label


# Stacked layers by default, the way their papers use them: an SRU or a
# MinGRU layer has no recurrent matrix, so one layer alone has little capacity.
DEFAULT_LAYERS = {"sru": 3, "mingru": 3}


def build_model(args):
    inputs = keras.Input((args.seq_len,), dtype="int64", name="tokens")
    x = keras.layers.Embedding(args.max_tokens, args.embedding_dim, mask_zero=True)(
        inputs
    )
    if args.embedding_dropout:
        # Whole embedding channels dropped for a review: against the
        # vocabulary's 2.5 million weights learning the training reviews.
        x = keras.layers.SpatialDropout1D(args.embedding_dropout, seed=args.seed)(x)
    for i in range(args.layers):
        layer = recurrent_layer(
            args.cell,
            args.units,
            args.bidirectional,
            dropout=args.dropout,
            seed=args.seed + i,
            chrono_init=args.chrono_init,
            return_sequences=i < args.layers - 1,
        )
        if args.sliced:  # the last layer, read as a tree of slices
            layer = keras_gates.SlicedRNN(layer, args.sliced)
        x = layer(x)
    x = keras.layers.Dropout(args.head_dropout, seed=args.seed)(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="positive")(x)
    return keras.Model(inputs, outputs, name=f"imdb_{args.cell}")


def run(args):
    keras.utils.set_random_seed(args.seed)
    if args.data_dir:
        train, validation, test = load_directory(
            args.data_dir, args.seed, shuffle_test=args.smoke
        )
        if args.smoke:  # a few reviews of each split, the same in every pass
            train, validation, test = (
                d.take(args.smoke_examples).cache() for d in (train, validation, test)
            )
    else:
        mock = contextlib.nullcontext()
        if args.smoke:
            import tensorflow_datasets as tfds

            mock = tfds.testing.mock_data(num_examples=args.smoke_examples)
        with mock:
            train, validation, test = load_tfds(args.tfds_dir)
    train, validation, test = (d.map(strip_html) for d in (train, validation, test))

    vectorize = keras.layers.TextVectorization(max_tokens=args.max_tokens, ragged=True)
    vectorize.adapt(train.map(lambda text, label: text).batch(1024))
    print(f"vocabulary: {vectorize.vocabulary_size()} tokens")

    def tokens(text):
        """The token ids of a batch of reviews, `seq_len` of them per review:
        its first ones (`--keep first`) or its last ones, where reviews give
        their verdict (`--keep last`); shorter reviews padded with 0."""
        ids = vectorize(text)
        ids = (
            ids[:, : args.seq_len] if args.keep == "first" else ids[:, -args.seq_len :]
        )
        return ids.to_tensor(shape=[None, args.seq_len])

    def batches(dataset, shuffle):
        if shuffle:
            dataset = dataset.shuffle(25000, seed=args.seed)
        dataset = dataset.batch(args.batch_size)
        return dataset.map(lambda text, label: (tokens(text), label)).prefetch(
            tf.data.AUTOTUNE
        )

    model = build_model(args)
    model.summary()
    train_batches = batches(train, shuffle=True)
    learning_rate = args.learning_rate
    if args.schedule == "cosine":
        # From --learning-rate down to 0 over the --epochs.
        steps = int(train_batches.cardinality()) * args.epochs
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=args.clipnorm or None),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    timer = EpochTimer()
    model.fit(
        train_batches,
        validation_data=batches(validation, shuffle=False),
        epochs=args.epochs,
        shuffle=False,  # the dataset shuffles itself
        callbacks=[
            keras.callbacks.EarlyStopping(
                "val_accuracy", patience=2, restore_best_weights=True
            ),
            timer,
        ],
        verbose=args.verbose,
    )
    _, accuracy = model.evaluate(batches(test, shuffle=False), verbose=0)
    print(timer.summary())
    print(f"test accuracy: {accuracy:.4f}")
    if args.tflite:
        score_tflite(model, batches(train, shuffle=False), batches(test, False), args)
    return accuracy


def score_tflite(model, train_batches, test_batches, args):
    """Exports the trained model to TFLite, float32 and full-integer int8
    (calibrated on `--calibration` training reviews), and scores the test
    reviews on the LiteRT interpreter, one review per call as on a phone.
    Prints each file's size and its test accuracy; returns them by name."""
    import numpy as np

    from keras_gates import export
    from keras_gates.export import litert

    def rows(dataset, limit=None):
        count = 0
        for tokens, labels in dataset:
            for row, label in zip(tokens.numpy(), labels.numpy(), strict=True):
                if limit is not None and count == limit:
                    return
                count += 1
                yield row[None], label

    samples = [row for row, _ in rows(train_batches, args.calibration)]
    scores = {}
    for name, options in (
        ("float32", {}),
        ("int8", {"quantization": "int8", "representative_data": samples}),
    ):
        content = export.to_tflite(model, **options)
        runner = litert.load(content).get_signature_runner("serving_default")
        correct = total = 0
        for row, label in rows(test_batches, args.tflite_reviews):
            (probability,) = runner(tokens=row).values()
            correct += int((np.ravel(probability)[0] > 0.5) == bool(label))
            total += 1
        scores[name] = (len(content), correct / total)
        print(
            f"tflite {name}: {len(content) / 1024:.1f} KB, test accuracy "
            f"{correct / total:.4f} on {total} reviews; recurrent ops "
            f"{[op for op in export.op_names(content) if 'LSTM' in op or op == 'WHILE']}"
        )
    return scores


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cell", choices=list(CELLS), default="peephole")
    parser.add_argument("--bidirectional", action="store_true")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=20000)
    parser.add_argument("--seq-len", type=int, default=300)
    parser.add_argument(
        "--keep",
        choices=["first", "last"],
        default="last",
        help="which --seq-len tokens of a longer review to keep",
    )
    parser.add_argument("--embedding-dim", type=int, default=128)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument(
        "--chrono-init",
        type=int,
        help="chrono initialization of the memory gates up to this many steps "
        "(default: --seq-len, the longest dependency; 0: the layers' own)",
    )
    parser.add_argument(
        "--layers",
        type=int,
        help="stacked recurrent layers (default: 3 for sru and mingru, else 1)",
    )
    parser.add_argument(
        "--sliced",
        type=int,
        nargs="+",
        help="read the layer as a SlicedRNN with these slice counts, e.g. 8 8 "
        "(--seq-len must be a multiple of their product)",
    )
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--embedding-dropout", type=float, default=0.4)
    parser.add_argument("--head-dropout", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--schedule", choices=["constant", "cosine"], default="cosine")
    parser.add_argument(
        "--clipnorm", type=float, default=1.0, help="0: no gradient clipping"
    )
    parser.add_argument(
        "--data-dir", help="a local aclImdb folder (train/pos, train/neg, test/...)"
    )
    parser.add_argument(
        "--tflite",
        action="store_true",
        help="also export to TFLite (float32, int8) and score it on the test reviews",
    )
    parser.add_argument(
        "--calibration",
        type=int,
        default=200,
        help="training reviews that calibrate the int8 model",
    )
    parser.add_argument(
        "--tflite-reviews",
        type=int,
        help="score the TFLite models on the first this many test reviews (all)",
    )
    parser.add_argument(
        "--tfds-dir",
        help="tensorflow-datasets data_dir (default ~/tensorflow_datasets)",
    )
    args = parse_with_smoke(
        parser,
        argv,
        "seconds, offline: tiny model, one epoch, tfds mock data (random text), "
        "or 256 reviews of each split of --data-dir",
        caps=(
            "epochs",
            "max_tokens",
            "embedding_dim",
            "units",
            "calibration",
            "tflite_reviews",
        ),
        epochs=1,
        max_tokens=500,
        seq_len=32,
        embedding_dim=16,
        units=8,
        batch_size=32,
        calibration=16,
        tflite_reviews=32,
    )
    args.smoke_examples = 256
    if args.layers is None:
        args.layers = DEFAULT_LAYERS.get(args.cell, 1)
    if args.sliced and args.layers != 1:
        parser.error("--sliced reads one recurrent layer: pass --layers 1")
    if args.chrono_init is None:
        # The longest sequence a layer reads: the review, or for a Sliced
        # RNN its longest level (the minimal slices, or a group of them).
        args.chrono_init = args.seq_len
        if args.sliced:
            args.chrono_init = max(args.seq_len // math.prod(args.sliced), *args.sliced)
    args.chrono_init = args.chrono_init or None
    return args


def main(argv=None):
    return run(parse_args(argv))


if __name__ == "__main__":
    main()
