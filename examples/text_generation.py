"""Character-level text generation with a keras-gates layer.

What it shows: a character language model (Embedding -> one recurrent
layer, `--cell`, PeepholeLSTM by default -> Dense over the characters),
trained with gradient clipping (`clipnorm`, against exploding gradients) to
predict each next character; its bits per character on held-out text, next
to a keras `LSTM` of the same size trained the same way (`--baseline lstm`);
then text generated from a prompt, one character at a time through the
layer's state (a stateful copy of the model reads one character per call;
the prefix is never read again), at several temperatures side by side
(`keras_gates.sampling.sample`: 0 takes the likeliest character, higher
values take more chances); and the same generation through the streaming
TFLite step model, which must give the same characters for the same seed.

How to run it:

    pip install -e ".[examples]"
    python examples/text_generation.py                       # a public-domain text
    python examples/text_generation.py --text book.txt       # any text file
    python examples/text_generation.py --imdb-dir aclImdb    # the IMDB reviews' text
    python examples/text_generation.py --smoke               # offline, seconds

By default the text is Nietzsche's "Beyond Good and Evil" (600 KB, public
domain, the text of Keras' own character-generation example), downloaded
with `keras.utils.get_file`. The last `--held-out` share of the text is
held out. It prints the bits per character of each model, the generations,
and last `tflite generation matches keras: True` (or False).
"""

import argparse
import math
import os
import pathlib
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from example_utils import CELLS  # noqa: E402
from example_utils import parse_with_smoke  # noqa: E402

from keras_gates import sampling  # noqa: E402

TEXT_URL = "https://s3.amazonaws.com/text-datasets/nietzsche.txt"
UNKNOWN = "\x00"  # index 0: a character of the held-out text not in training


def load_text(args):
    """The text to model: `--text`, the IMDB reviews of `--imdb-dir`, the
    generated text of `--smoke`, or the default download."""
    if args.text:
        text = pathlib.Path(args.text).read_text(encoding="utf-8", errors="replace")
    elif args.imdb_dir:
        text = imdb_text(args.imdb_dir, args.max_chars)
    elif args.smoke:
        text = generated_text(args.seed)
    else:
        path = keras.utils.get_file("nietzsche.txt", origin=TEXT_URL)
        text = pathlib.Path(path).read_text(encoding="utf-8")
    return text[: args.max_chars] if args.max_chars else text


def imdb_text(root, max_chars=None):
    """The training reviews of an unpacked aclImdb archive, one per line,
    HTML line breaks removed, in a fixed order (sorted file names, positive
    and negative interleaved), up to `max_chars` characters."""
    folders = [pathlib.Path(root) / "train" / name for name in ("pos", "neg")]
    files = [sorted(folder.glob("*.txt")) for folder in folders]
    lines, size = [], 0
    for pair in zip(*files, strict=False):
        for path in pair:
            review = re.sub(r"<br\s*/?>", " ", path.read_text(encoding="utf-8"))
            lines.append(review)
            size += len(review) + 1
        if max_chars and size >= max_chars:
            break
    return "\n".join(lines)


def generated_text(seed, sentences=3000):
    """An offline stand-in: sentences from a tiny grammar (a signal to learn
    in seconds)."""
    rng = np.random.default_rng(seed)
    subjects = ["the cat", "a dog", "my friend", "the old man", "she"]
    verbs = ["sees", "likes", "finds", "wants", "reads"]
    objects = ["the book", "a red ball", "the sea", "some bread", "the moon"]
    return " ".join(
        f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}."
        for _ in range(sentences)
    )


class Vocabulary:
    """Characters <-> ids: the training text's characters, most frequent
    first, after the unknown character (id 0)."""

    def __init__(self, text):
        counts = {}
        for char in text:
            counts[char] = counts.get(char, 0) + 1
        self.chars = [UNKNOWN, *sorted(counts, key=lambda c: (-counts[c], c))]
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def encode(self, text):
        return np.array([self.index.get(c, 0) for c in text], "int32")

    def decode(self, ids):
        return "".join(self.chars[int(i)] for i in ids)


def windows(ids, seq_len, stride):
    """(inputs, targets): windows of `seq_len` ids and the same shifted by
    one, starting every `stride` ids."""
    starts = np.arange(0, len(ids) - seq_len - 1, stride)
    index = starts[:, None] + np.arange(seq_len + 1)
    chunks = ids[index]
    return chunks[:, :-1], chunks[:, 1:]


def build_model(cell, vocabulary, args, stateful=False):
    """Embedding -> the recurrent layer (all outputs) -> Dense logits. The
    stateful variant reads one character per call, batch 1."""
    shape = {"batch_shape": (1, 1)} if stateful else {"shape": (None,)}
    inputs = keras.Input(**shape, dtype="int32", name="chars")
    x = keras.layers.Embedding(vocabulary, args.embedding_dim)(inputs)
    x = CELLS[cell](args.units, return_sequences=True, stateful=stateful)(x)
    logits = keras.layers.Dense(vocabulary, name="logits")(x)
    return keras.Model(inputs, logits, name=f"chars_{cell}")


def bits_per_char(model, inputs, targets, batch_size):
    """Mean cross-entropy of the next character on held-out windows, in bits."""
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    total, count = 0.0, 0
    for start in range(0, len(inputs), batch_size):
        x = inputs[start : start + batch_size]
        y = targets[start : start + batch_size]
        total += float(loss(y, model.predict_on_batch(x))) * y.size
        count += y.size
    return total / count / math.log(2)


def train(cell, vocab, train_data, held_out, args):
    keras.utils.set_random_seed(args.seed)
    model = build_model(cell, len(vocab), args)
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=args.clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    start = time.perf_counter()
    model.fit(
        *train_data,
        batch_size=args.batch_size,
        epochs=args.epochs,
        shuffle=True,
        verbose=args.verbose,
    )
    seconds = time.perf_counter() - start
    bpc = bits_per_char(model, *held_out, args.batch_size)
    print(f"{cell}: {bpc:.3f} bits per character on held-out text ({seconds:.0f} s)")
    return model, bpc


def step_seed(seed, step):
    """The sampling seed of one generated character: the same in every
    generation loop."""
    return seed * 100_003 + step


def generate(next_logits, reset, vocab, prompt, length, temperature, seed):
    """`prompt` then `length` sampled characters, one call of `next_logits`
    (one character id -> the next character's logits) per character."""
    reset()
    ids = list(vocab.encode(prompt))
    for i in ids[:-1]:  # read the prompt: the state moves, nothing sampled
        next_logits(i)
    current = ids[-1]
    for step in range(length):
        logits = next_logits(current)
        current = int(sampling.sample(logits, temperature, step_seed(seed, step)))
        ids.append(current)
    return vocab.decode(ids)


def keras_stepper(model, cell, vocab, args):
    """A stateful copy of `model` that reads one character per call."""
    stateful = build_model(cell, len(vocab), args, stateful=True)
    stateful.set_weights(model.get_weights())
    layer = next(x for x in stateful.layers if isinstance(x, keras.layers.RNN))

    def next_logits(i):
        x = np.array([[i]], "int32")
        return np.asarray(stateful(x, training=False))[0, -1]

    return next_logits, layer.reset_states


def tflite_stepper(model):
    """The streaming TFLite step model: the states are explicit inputs and
    outputs, held here between calls."""
    from keras_gates import export
    from keras_gates.export import litert

    runner = litert.load(export.to_tflite(model, streaming=True))
    runner = runner.get_signature_runner("step")
    names = sorted(k for k in runner.get_input_details() if k.startswith("state_"))
    details = runner.get_input_details()
    states = {}

    def reset():
        for name in names:
            states[name] = np.zeros(details[name]["shape"], details[name]["dtype"])

    def next_logits(i):
        out = runner(inputs=np.array([[i]], "int32"), **states)
        for name in names:
            states[name] = out[name]
        return np.asarray(out["outputs"]).reshape(-1)

    return next_logits, reset


def run(args):
    text = load_text(args)
    split = int(len(text) * (1 - args.held_out))
    vocab = Vocabulary(text[:split])
    ids = vocab.encode(text)
    print(
        f"text: {len(text):,} characters ({split:,} for training), "
        f"{len(vocab)} distinct"
    )
    train_data = windows(ids[:split], args.seq_len, args.seq_len // 2)
    held_out = windows(ids[split:], args.seq_len, args.seq_len)
    results = {}
    model, results[args.cell] = train(args.cell, vocab, train_data, held_out, args)
    if args.baseline and args.baseline != args.cell:
        _, results[args.baseline] = train(
            args.baseline, vocab, train_data, held_out, args
        )

    prompt = args.prompt or text[split : split + 40]
    next_logits, reset = keras_stepper(model, args.cell, vocab, args)
    generations = {}
    for temperature in args.temperatures:
        sample = generate(
            next_logits, reset, vocab, prompt, args.length, temperature, args.seed
        )
        generations[temperature] = sample
        print(f"\n--- temperature {temperature} ---\n{sample}")
    if args.tflite:
        next_logits, reset = tflite_stepper(model)
        same = all(
            generate(next_logits, reset, vocab, prompt, args.length, t, args.seed)
            == generations[t]
            for t in args.temperatures
        )
        print(f"\ntflite generation matches keras: {same}")
        results["tflite_matches"] = same
    results["generations"] = generations
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cell", choices=list(CELLS), default="peephole")
    parser.add_argument(
        "--baseline",
        choices=[*CELLS, ""],
        default="lstm",
        help="also train this layer for its bits per character ('' for none)",
    )
    parser.add_argument("--text", help="a UTF-8 text file to model")
    parser.add_argument(
        "--imdb-dir", help="model the reviews of an unpacked aclImdb archive"
    )
    parser.add_argument("--max-chars", type=int, help="use this much of the text")
    parser.add_argument("--held-out", type=float, default=0.05)
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--clipnorm", type=float, default=1.0)
    parser.add_argument("--prompt", help="default: the start of the held-out text")
    parser.add_argument("--length", type=int, default=300, help="characters to add")
    parser.add_argument(
        "--temperatures", type=float, nargs="+", default=[0.2, 0.6, 1.0, 1.2]
    )
    parser.add_argument(
        "--no-tflite",
        dest="tflite",
        action="store_false",
        help="skip the generation through the streaming TFLite model",
    )
    return parse_with_smoke(
        parser,
        argv,
        "seconds, offline: generated sentences (or the first 100,000 characters "
        "of --text or --imdb-dir), a small model, three epochs",
        caps=("max_chars", "units", "embedding_dim", "epochs", "seq_len", "length"),
        max_chars=100_000,
        units=32,
        embedding_dim=8,
        epochs=3,
        seq_len=40,
        length=60,
        baseline="",
    )


def main(argv=None):
    return run(parse_args(argv))


if __name__ == "__main__":
    main()
