"""Polyphonic music as piano rolls, from the scores that `music21` ships:
JSB Chorales rebuilt, and any other corpus in the same representation.

The benchmark of Boulanger-Lewandowski, Bengio and Vincent (ICML 2012) is a
piano roll of 382 four-part Bach chorales: 88 keys (MIDI 21 to 108), one
frame per quarter note, each piece transposed to C major or C minor, split
229 / 76 / 77 (train / valid / test) after Allan and Williams (2005). Its
files cannot be downloaded here; this module rebuilds it from music21's
corpus (`music21.corpus.chorales.Iterator`, the Riemenschneider numbering,
371 numbers of which some share a file). It is a stand-in, not the
benchmark: 349 distinct chorales, and a split of its own. The same
representation serves every corpus (`CORPORA` names them):

- `jsb`: the distinct chorale files (duplicates by path dropped);
- a music21 composer (`palestrina`, `monteverdi`, ...): its files in
  music21's corpus;
- a folder: every score under it (`.mxl`, `.xml`, `.musicxml`, `.krn`,
  `.mid`, `.midi`);

`corpus:N` keeps a seeded sample of N pieces. Each piece is transposed to
C major or C minor from music21's key analysis and sampled at every
quarter-note beat (key k is on at frame t when a note of MIDI pitch 21 + k
sounds at offset t); the pieces are split 60 / 20 / 20 percent by a seeded
shuffle (the benchmark's proportions, not its pieces).

The frames are cached as one `.npz` per corpus (parsing takes minutes). The
metric is the literature's: the negative log-likelihood of the next frame
under 88 independent Bernoulli outputs, summed over the keys and averaged
over the predicted frames, in nats.

    python -m benchmarks.music                       # JSB: builds its cache, prints its sizes
    python -m benchmarks.music --corpus palestrina:60

Under `KERAS_GATES_SMOKE=1` (`benchmarks/smoke.py`), without `--cache-dir`, it
builds a cache of the first `SMOKE_PIECES` pieces in a temporary folder
instead, as `benchmarks.variant_study` does then.
"""

import argparse
import os
import pathlib
import tempfile

import numpy as np

from benchmarks.smoke import smoke

KEYS, LOWEST = 88, 21  # MIDI 21 (A0) to 108 (C8)
SPLIT_SEED = 2012
SCORES = (".mxl", ".xml", ".musicxml", ".krn", ".mid", ".midi")
CACHE_DIR = os.path.join(os.path.expanduser("~"), ".keras", "datasets")
# The pieces of a smoke run's cache: 3 train, 1 valid, 1 test.
SMOKE_PIECES = 5


def chorale_paths():
    """The distinct chorale files of music21's corpus, in corpus order."""
    from music21 import corpus

    paths = []
    for name in corpus.chorales.Iterator(returnType="filename"):
        work = corpus.getWork(name)
        if isinstance(work, list):  # a .krn and an .mxl of one chorale
            work = next((w for w in work if str(w).endswith(".mxl")), work[0])
        full = str(work)
        if full not in paths:
            paths.append(full)
    return paths


def parse_corpus(spec):
    """`"name:N"` -> `("name", N)`; `"name"` -> `("name", None)`."""
    name, _, count = spec.partition(":")
    return name, int(count) if count else None


def corpus_paths(spec):
    """The score files of a corpus (see the module's docstring), sorted, or
    a seeded sample of them for `name:N`."""
    name, count = parse_corpus(spec)
    if name == "jsb":
        paths = chorale_paths()
    elif os.path.isdir(name):
        paths = sorted(
            str(p) for p in pathlib.Path(name).rglob("*") if p.suffix.lower() in SCORES
        )
    else:
        from music21 import corpus

        paths = sorted(str(p) for p in corpus.getComposer(name))
    if not paths:
        raise ValueError(f"no scores in corpus {name!r}")
    if count is not None and count < len(paths):
        keep = np.random.default_rng(SPLIT_SEED).choice(len(paths), count, False)
        paths = [paths[k] for k in sorted(keep)]
    return paths


def corpus_label(spec):
    """A corpus's name in tables: `"JSB Chorales (music21)"`, `"palestrina
    (120 pieces)"`."""
    name, count = parse_corpus(spec)
    if name == "jsb":
        return "JSB Chorales (music21)"
    name = os.path.basename(os.path.normpath(name))
    return f"{name} ({count} pieces)" if count else name


def piano_roll(path):
    """One piece as a (frames, 88) 0/1 array, transposed to C major or C
    minor, one frame per quarter note."""
    from music21 import converter
    from music21 import interval
    from music21 import pitch

    score = converter.parse(path)
    key = score.analyze("key")
    shift = interval.Interval(key.tonic, pitch.Pitch("C"))
    # The nearest C: a shift of at most a tritone up or down.
    semitones = (shift.semitones + 6) % 12 - 6
    notes = []
    end = 0.0
    for note in score.flatten().notes:
        start = float(note.offset)
        stop = start + float(note.quarterLength)
        end = max(end, stop)
        for p in note.pitches:
            notes.append((start, stop, p.midi + semitones))
    frames = int(np.ceil(end - 1e-9))
    roll = np.zeros((frames, KEYS), np.uint8)
    for start, stop, midi in notes:
        if not LOWEST <= midi < LOWEST + KEYS:
            continue
        first = int(np.ceil(start - 1e-9))
        last = int(np.ceil(stop - 1e-9))  # frames t with start <= t < stop
        roll[first:last, midi - LOWEST] = 1
    return roll


def build(cache, corpus="jsb", verbose=True, limit=None):
    """Parses every piece of `corpus` (the first `limit`, for tests) and
    writes the cache: the frames of all pieces concatenated, their lengths,
    their split and their file names."""
    paths = corpus_paths(corpus)[:limit]
    rolls = []
    for k, path in enumerate(paths):
        rolls.append(piano_roll(path))
        if verbose and (k + 1) % 50 == 0:
            print(f"parsed {k + 1} / {len(paths)}", flush=True)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(paths))
    n_train, n_valid = round(0.6 * len(paths)), round(0.2 * len(paths))
    split = np.empty(len(paths), "<U5")
    split[order[:n_train]] = "train"
    split[order[n_train : n_train + n_valid]] = "valid"
    split[order[n_train + n_valid :]] = "test"
    os.makedirs(os.path.dirname(os.path.abspath(cache)), exist_ok=True)
    np.savez_compressed(
        cache,
        frames=np.concatenate(rolls),
        lengths=np.array([len(r) for r in rolls]),
        split=split,
        names=np.array([os.path.basename(p) for p in paths]),
    )
    return cache


def cache_path(corpus="jsb", cache_dir=None):
    """Where a corpus's frames are cached: in `cache_dir`, by default
    `~/.keras/datasets/`, as `NAME[_N]_music21.npz`."""
    name, count = parse_corpus(corpus)
    name = "jsb" if name == "jsb" else os.path.basename(os.path.normpath(name))
    suffix = f"_{count}" if count else ""
    return os.path.join(cache_dir or CACHE_DIR, f"{name}{suffix}_music21.npz")


def smoke_cache(corpus="jsb"):
    """The path of a new cache of the first `SMOKE_PIECES` pieces of
    `corpus`, in a temporary folder: the data of a smoke run."""
    folder = tempfile.mkdtemp(prefix="keras_gates_music_")
    path = os.path.join(folder, "smoke.npz")
    return build(path, corpus, verbose=False, limit=SMOKE_PIECES)


def default_cache(corpus="jsb", cache_dir=None):
    """The cache of `corpus`: `cache_path(corpus, cache_dir)`, or, with no
    `cache_dir` under `KERAS_GATES_SMOKE=1`, a new `smoke_cache(corpus)`."""
    if cache_dir is None and smoke():
        return smoke_cache(corpus)
    return cache_path(corpus, cache_dir)


def load(cache, corpus="jsb"):
    """`{"train": [...], "valid": [...], "test": [...]}`, each a list of
    (frames, 88) float32 piano rolls; builds the cache of `corpus` when it
    is absent."""
    if not os.path.exists(cache):
        build(cache, corpus)
    data = np.load(cache)
    pieces = np.split(data["frames"], np.cumsum(data["lengths"])[:-1])
    out = {"train": [], "valid": [], "test": []}
    for roll, part in zip(pieces, data["split"], strict=True):
        out[str(part)].append(roll.astype("float32"))
    return out


def batch(pieces, pad_to=None):
    """Inputs (frames 0..T-2), targets (frames 1..T-1) and a 0/1 weight per
    predicted frame, zero-padded at the end to the longest piece."""
    longest = max(len(p) for p in pieces) - 1
    steps = pad_to or longest
    x = np.zeros((len(pieces), steps, KEYS), "float32")
    y = np.zeros_like(x)
    w = np.zeros((len(pieces), steps), "float32")
    for k, p in enumerate(pieces):
        n = min(len(p) - 1, steps)
        x[k, :n], y[k, :n], w[k, :n] = p[:n], p[1 : n + 1], 1.0
    return x, y, w


def chunks(pieces, frames):
    """The pieces cut into consecutive pieces of `frames + 1` frames that
    share their boundary frame (so that every frame but the first of a
    piece is predicted once), for training on short sequences."""
    out = []
    for p in pieces:
        for start in range(0, len(p) - 1, frames):
            out.append(p[start : start + frames + 1])
    return [c for c in out if len(c) > 1]


def nll_per_frame(probabilities, targets, weights):
    """The summed-over-keys Bernoulli NLL averaged over the weighted frames,
    in nats (float64, probabilities clipped to [1e-7, 1 - 1e-7])."""
    p = np.clip(probabilities.astype("float64"), 1e-7, 1 - 1e-7)
    per_key = -(targets * np.log(p) + (1 - targets) * np.log1p(-p))
    return float((per_key.sum(-1) * weights).sum() / weights.sum())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="jsb", help="jsb, a composer, a folder")
    parser.add_argument("--cache-dir", help="default: ~/.keras/datasets/")
    args = parser.parse_args(argv)
    data = load(default_cache(args.corpus, args.cache_dir), args.corpus)
    for part, pieces in data.items():
        frames = sum(len(p) for p in pieces)
        notes = np.mean([p.sum(-1).mean() for p in pieces])
        print(
            f"{part}: {len(pieces)} pieces, {frames} frames, {notes:.2f} keys on per frame"
        )


if __name__ == "__main__":
    main()
