"""A weather station's recurrent classifier on a microcontroller (TFLite Micro).

What it shows: real sensor data (the Jena weather station, hourly: pressure,
temperature, humidity, vapour pressure, wind, dew point) and a small
recurrent classifier that reads the last 24 hours and says whether the
temperature 6 hours after the last reading will be more than 1 degC lower,
within 1 degC, or more than 1 degC higher. Each layer (`--cells`) is trained
in Keras, exported with `keras_gates.export.to_tflite_micro` (a
one-step model, int8 weights, int16 activations, as a microcontroller runs
it: one call per hourly reading) and run on TFLM's own interpreter (the
`tflite-micro` package). The script prints, per layer, the accuracy of Keras
and of TFLM on the same test windows, how often their classes agree, the
model's bytes and the tensor arena TFLM needs. `--out-dir` also writes each
model as a C array (`model.h`, `model.cc`) for the device's build.

How to run it:

    pip install -e ".[micro]"
    python examples/micro_weather.py                      # downloads Jena
    gunzip -c jena_climate_2009_2016_hourly.csv.gz > /tmp/jena.csv
    python examples/micro_weather.py --csv /tmp/jena.csv  # a local copy
    python examples/micro_weather.py --smoke              # seconds

The split is by time: the first 70% of the rows train, the next 15%
validate, the windows of the last 15% test (`--test` of them, evenly
spaced, run on the interpreter). Measured results are in the documentation
(Deployment: microcontrollers), with this command.
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from conv1d_gru_forecast import SMOKE_ROWS  # noqa: E402
from conv1d_gru_forecast import download_jena  # noqa: E402
from conv1d_gru_forecast import generate_csv  # noqa: E402
from conv1d_gru_forecast import read_csv  # noqa: E402
from conv1d_gru_forecast import row_interval  # noqa: E402
from conv1d_gru_forecast import rows_for  # noqa: E402
from example_utils import CELLS  # noqa: E402
from example_utils import parse_with_smoke  # noqa: E402

# Keras' SimpleRNN beside the --cell layers.
LAYERS = {**CELLS, "simple_rnn": keras.layers.SimpleRNN}
CLASSES = ("cooler", "about the same", "warmer")


def windows(seconds, names, values, args):
    """(x, labels) of train, validation and test: windows of `--past-hours`
    hourly steps, every feature standardized on the training rows; the label
    is the class of the temperature change `--ahead-hours` after the window's
    last row."""
    if args.target not in names:
        raise ValueError(f"--target {args.target!r} is not a numeric column: {names}")
    stride = rows_for(1, row_interval(seconds), "An hourly step")
    values = values[::stride]
    steps, ahead = args.past_hours, args.ahead_hours
    target = values[:, names.index(args.target)]
    n = len(values)
    train_end, validation_end = int(0.7 * n), int(0.85 * n)
    mean = values[:train_end].mean(axis=0)
    std = values[:train_end].std(axis=0) + 1e-6
    data = ((values - mean) / std).astype("float32")

    def cut(start, end, every=1):
        last = np.arange(start + steps - 1, end - ahead, every)
        x = np.stack([data[i - steps + 1 : i + 1] for i in last])
        change = target[last + ahead] - target[last]
        labels = (change > -args.margin).astype(int) + (change > args.margin)
        return x, labels

    test_x, test_y = cut(validation_end, n)
    pick = np.linspace(0, len(test_x) - 1, min(args.test, len(test_x))).astype(int)
    return (
        cut(0, train_end, args.train_stride),
        cut(train_end, validation_end, args.train_stride),
        (test_x[pick], test_y[pick]),
    )


def build(cell, input_shape, args):
    return keras.Sequential(
        [
            keras.Input((None, input_shape[-1]), name="readings"),
            LAYERS[cell](args.units),
            keras.layers.Dense(len(CLASSES), name="logits"),
        ],
        name=f"weather_{cell}",
    )


def run_cell(cell, data, args):
    from keras_gates.export import micro

    (x, y), validation, (test_x, test_y) = data
    keras.utils.set_random_seed(args.seed)
    model = build(cell, x.shape[1:], args)
    model.compile(
        keras.optimizers.Adam(args.learning_rate, clipnorm=1.0),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(
        x,
        y,
        validation_data=validation,
        epochs=args.epochs,
        batch_size=args.batch_size,
        verbose=args.verbose,
    )
    trained = time.perf_counter() - start
    want = np.asarray(model.predict(test_x, verbose=0))
    pick = np.random.default_rng(args.seed).permutation(len(x))[: args.calibration]
    quantization = None if args.quantization == "float32" else args.quantization
    content = micro.to_tflite_micro(
        model, None if quantization is None else x[pick], quantization=quantization
    )
    arena = micro.arena_size(content)
    got = micro.run_micro(content, test_x, micro.load(content, arena + 1024))[:, -1]
    if args.out_dir:
        folder = os.path.join(args.out_dir, cell)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "model.tflite"), "wb") as f:
            f.write(content)
        for name, text in micro.c_source(content, "model").items():
            with open(os.path.join(folder, name), "w") as f:
                f.write(text)
    return {
        "cell": cell,
        "keras": float((want.argmax(-1) == test_y).mean()),
        "tflm": float((got.argmax(-1) == test_y).mean()),
        "agree": float((got.argmax(-1) == want.argmax(-1)).mean()),
        "diff": float(np.max(np.abs(got - want))),
        "largest": float(np.max(np.abs(want))),
        "bytes": len(content),
        "arena": arena,
        "seconds": trained,
    }


def table(rows, count):
    lines = [
        f"| layer | Keras accuracy | TFLM accuracy | classes agree ({count} windows) "
        "| max abs logit difference (largest logit) | model bytes | arena bytes |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['cell']} | {r['keras']:.3f} | {r['tflm']:.3f} | {r['agree']:.1%} "
            f"| {r['diff']:.3f} ({r['largest']:.1f}) | {r['bytes']:,} | {r['arena']:,} |"
        )
    return "\n".join(lines)


def run(args):
    with tempfile.TemporaryDirectory() as scratch:
        path = args.csv
        if args.smoke and not path:
            path = os.path.join(scratch, "generated_weather.csv")
            generate_csv(path, days=40, minutes=60, seed=args.seed)
        elif not path:
            path = download_jena()
        seconds, names, values = read_csv(
            path, args.time_column, SMOKE_ROWS if args.smoke else None
        )
    data = windows(seconds, names, values, args)
    (x, y), _, (test_x, _) = data
    shares = np.bincount(y, minlength=len(CLASSES)) / len(y)
    print(
        f"{len(x)} training windows of {x.shape[1]} hours x {x.shape[2]} "
        f"readings ({', '.join(names)}); classes "
        + ", ".join(f"{c} {s:.0%}" for c, s in zip(CLASSES, shares, strict=True))
        + f"; {len(test_x)} test windows on the interpreter"
    )
    rows = []
    for cell in args.cells:
        rows.append(run_cell(cell, data, args))
        r = rows[-1]
        print(
            f"{cell}: Keras {r['keras']:.3f}, TFLM {r['tflm']:.3f}, agree "
            f"{r['agree']:.1%}, {r['bytes']} bytes, arena {r['arena']} "
            f"(trained in {r['seconds']:.0f} s)",
            flush=True,
        )
    print(table(rows, len(test_x)))
    return rows


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--csv", help="a weather CSV (default: download Jena)")
    parser.add_argument("--time-column", default="Date Time")
    parser.add_argument("--target", default="T (degC)")
    parser.add_argument(
        "--cells", nargs="+", choices=list(LAYERS), default=list(LAYERS)
    )
    parser.add_argument("--units", type=int, default=16)
    parser.add_argument("--past-hours", type=int, default=24)
    parser.add_argument("--ahead-hours", type=int, default=6)
    parser.add_argument("--margin", type=float, default=1.0, help="degC")
    parser.add_argument("--train-stride", type=int, default=3, help="hours")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=5e-3)
    parser.add_argument("--test", type=int, default=200, help="test windows")
    parser.add_argument("--calibration", type=int, default=300, help="windows")
    parser.add_argument(
        "--quantization", choices=["int16", "int8", "float32"], default="int16"
    )
    parser.add_argument("--out-dir", help="write each model and its C array here")
    return parse_with_smoke(
        parser,
        argv,
        "seconds: a generated 40-day weather file (or the first "
        f"{SMOKE_ROWS} rows of --csv), two layers, one epoch",
        caps=("epochs", "units", "test", "calibration"),
        cells=["coupled", "gru"],
        epochs=1,
        units=16,
        test=20,
        calibration=20,
        verbose=0,
    )


def main(argv=None):
    return run(parse_args(argv))


if __name__ == "__main__":
    main()
