"""JSB Chorales derived from the Bach chorales that `music21` ships.

The benchmark of Boulanger-Lewandowski, Bengio and Vincent (ICML 2012) is a
piano roll of 382 four-part chorales: 88 keys (MIDI 21 to 108), one frame
per quarter note, each piece transposed to C major or C minor, split 229 /
76 / 77 (train / valid / test) after Allan and Williams (2005). Its files
cannot be downloaded here; this module rebuilds it from music21's corpus
(`music21.corpus.chorales.Iterator`, the Riemenschneider numbering, 371
numbers of which some share a file), with the same representation:

- the distinct chorale files (duplicates by path dropped);
- each transposed to C major or C minor from music21's key analysis;
- sampled at every quarter-note beat: key k is on at frame t when a note of
  MIDI pitch 21 + k sounds at offset t (quarter lengths from the start);
- split 60 / 20 / 20 percent by a seeded shuffle of the files (the
  benchmark's proportions, not its pieces).

The frames are cached as one `.npz` (parsing takes a few minutes). The
metric is the literature's: the negative log-likelihood of the next frame
under 88 independent Bernoulli outputs, summed over the keys and averaged
over the predicted frames, in nats.

    python -m benchmarks.jsb          # builds the cache and prints its sizes

Under `KERAS_GATES_SMOKE=1` (`benchmarks/smoke.py`), without `--cache`, it
builds a cache of the first `SMOKE_CHORALES` chorales in a temporary folder
instead, as `benchmarks.variant_study` does then.
"""

import argparse
import os
import tempfile

import numpy as np

from benchmarks.smoke import smoke

KEYS, LOWEST = 88, 21  # MIDI 21 (A0) to 108 (C8)
SPLIT_SEED = 2012
CACHE = os.path.join(os.path.expanduser("~"), ".keras", "datasets", "jsb_music21.npz")
# The chorales of a smoke run's cache: 3 train, 1 valid, 1 test.
SMOKE_CHORALES = 5


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


def piano_roll(path):
    """One chorale as a (frames, 88) 0/1 array, transposed to C major or C
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


def build(cache=CACHE, verbose=True, limit=None):
    """Parses every chorale (the first `limit`, for tests) and writes the
    cache: the frames of all pieces concatenated, their lengths, their split
    and their file names."""
    paths = chorale_paths()[:limit]
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
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    np.savez_compressed(
        cache,
        frames=np.concatenate(rolls),
        lengths=np.array([len(r) for r in rolls]),
        split=split,
        names=np.array([os.path.basename(p) for p in paths]),
    )
    return cache


def smoke_cache():
    """The path of a new cache of the first `SMOKE_CHORALES` chorales, in a
    temporary folder: the data of a smoke run, seconds to build."""
    folder = tempfile.mkdtemp(prefix="keras_gates_jsb_")
    path = os.path.join(folder, "jsb_smoke.npz")
    return build(path, verbose=False, limit=SMOKE_CHORALES)


def default_cache():
    """The cache used when none is named: `CACHE`, or under
    `KERAS_GATES_SMOKE=1` a new `smoke_cache()`."""
    return smoke_cache() if smoke() else CACHE


def load(cache=CACHE):
    """`{"train": [...], "valid": [...], "test": [...]}`, each a list of
    (frames, 88) float32 piano rolls; builds the cache when it is absent."""
    if not os.path.exists(cache):
        build(cache)
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
    parser.add_argument("--cache", help=f"default: {CACHE}")
    args = parser.parse_args(argv)
    args.cache = args.cache or default_cache()
    if not os.path.exists(args.cache):
        build(args.cache)
    data = load(args.cache)
    for part, pieces in data.items():
        frames = sum(len(p) for p in pieces)
        notes = np.mean([p.sum(-1).mean() for p in pieces])
        print(
            f"{part}: {len(pieces)} chorales, {frames} frames, {notes:.2f} keys on per frame"
        )


if __name__ == "__main__":
    main()
