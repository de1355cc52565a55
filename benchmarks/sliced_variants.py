"""What was tried to make the Sliced RNN train faster on a CPU.

Times a train step (`train_on_batch`, default `sgd`/`mse`) of the plain
layer and of `SlicedRNN(layer, (8, 8))` in several variants, at one shape
(default batch 16 x 4096 steps x 32 features -> 64 units), every model in
each round (interleaved), and prints the medians and each one's ratio to
the plain layer under default settings:

- `jit_compile=True` (XLA) for the plain and the sliced model;
- `unroll=True` in every level (without XLA, and with it: `--unrolled-xla`,
  slow to compile);
- the hoisted fast path (`fast_path=True`) in level 0;
- Keras' own LSTM in every level (PeepholeLSTM's row only).

    python -m benchmarks.sliced_variants                 # under a minute on 2 cores
    python -m benchmarks.sliced_variants --steps 256 --rounds 1
"""

import argparse
import time

import keras
import numpy as np

import keras_gates as kg
from benchmarks.smoke import parse_args

SLICES = (8, 8)


def variants(layer, unrolled_xla):
    """name -> (a function making the recurrent layer, jit_compile)."""

    def sliced(**options):
        return lambda u: kg.SlicedRNN(
            layer(u, **options), SLICES, layers=[layer(u, **options) for _ in SLICES]
        )

    table = {
        "plain": (lambda u: layer(u), False),
        "sliced": (sliced(), False),
        "plain, jit_compile": (lambda u: layer(u), True),
        "sliced, jit_compile": (sliced(), True),
        "sliced, unroll": (sliced(unroll=True), False),
        "sliced, hoisted fast path in level 0": (
            lambda u: kg.SlicedRNN(layer(u, fast_path=True), SLICES),
            False,
        ),
    }
    if unrolled_xla:
        table["sliced, unroll, jit_compile"] = (sliced(unroll=True), True)
    if layer is kg.PeepholeLSTM:
        table["sliced, keras LSTM in every level"] = (
            lambda u: kg.SlicedRNN(keras.layers.LSTM(u), SLICES),
            False,
        )
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=4096)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--unrolled-xla", action="store_true")
    parser.add_argument(
        "--layers",
        nargs="+",
        choices=["PeepholeLSTM", "MinimalGRU"],
        default=["PeepholeLSTM", "MinimalGRU"],
    )
    args = parse_args(parser, argv, batch=2, steps=64, features=3, units=4, rounds=1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, args.steps, args.features)).astype("float32")
    y = rng.normal(size=(args.batch, args.units)).astype("float32")
    results = {}
    print("| layer | variant | train ms | / plain |")
    print("|---|---|---:|---:|")
    for layer in (getattr(kg, name) for name in args.layers):
        models = {}
        for name, (make, jit) in variants(layer, args.unrolled_xla).items():
            keras.utils.set_random_seed(0)
            model = keras.Sequential(
                [keras.Input((args.steps, args.features)), make(args.units)]
            )
            model.compile("sgd", "mse", jit_compile=jit)
            model.train_on_batch(x, y)  # compile and warm up
            model.train_on_batch(x, y)
            models[name] = model
        times = {name: [] for name in models}
        for _ in range(args.rounds):
            for name, model in models.items():
                start = time.perf_counter()
                model.train_on_batch(x, y)
                times[name].append(time.perf_counter() - start)
        medians = {name: 1000 * float(np.median(t)) for name, t in times.items()}
        for name, ms in medians.items():
            ratio = ms / medians["plain"]
            results[layer.__name__, name] = ms
            print(f"| {layer.__name__} | {name} | {ms:.0f} | {ratio:.2f} |")
    return results


if __name__ == "__main__":
    main()
