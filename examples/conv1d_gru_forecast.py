"""Weather forecast with a Conv1D -> MaxPooling1D -> Conv1D -> recurrent stack.

What it shows: the classic Jena climate task, the temperature 24 hours ahead
from the preceding 5 days of weather, with a convolutional front end that
shortens the sequence (120 hourly steps -> 54) before a keras-gates layer
(`--cell`, the minimal GRU by default, 32 units, dropout and recurrent
dropout 0.2) reads it. Besides the weather columns, the model sees the hour
of the day and the day of the year (as sines and cosines of the timestamps;
`--no-time-features` leaves them out). It forecasts the *change* over the
next 24 hours, with an output layer that starts at zero: it starts as the
persistence forecast ("tomorrow as warm as now") and training has to beat
that. Data are split in time: the first 50% of rows train, the next 25%
validate (the best epoch is kept, stopping after 3 epochs without progress),
the last 25% test.

How to run it:

    pip install -e ".[examples]"
    python examples/conv1d_gru_forecast.py                  # downloads the Jena CSV (13 MB zip)
    python examples/conv1d_gru_forecast.py --cell coupled --csv my_station.csv
    python examples/conv1d_gru_forecast.py --smoke          # offline, a generated series

`--csv PATH` reads any file with a "Date Time" column (`--time-column`) and
numeric columns, however many, at any regular interval between rows: the
interval is read from the timestamps, so "24 hours ahead" stays 24 hours
whether the file has a row every 10 minutes (the original) or every hour.
`--target` names the column to forecast ("T (degC)" by default). The last line
printed is `test MAE: X (persistence baseline: Y)`, both in the target's unit.

Measured on the Jena file of `../shared/data` (hourly rows, 2009-2016), one
run per cell on a 2-core CPU, with the defaults
(`gunzip -c jena_climate_2009_2016_hourly.csv.gz > /tmp/jena.csv`, then
`python examples/conv1d_gru_forecast.py --csv /tmp/jena.csv --cell CELL`):
test MAE `minimal_gru` 2.340, `sru` 2.326, `mingru` 2.347, `peephole` 2.401,
`coupled` 2.403, keras `gru` 2.346, keras `lstm` 2.411, against 2.624 for
persistence (7 to 10 s per epoch, 5 to 8 epochs; the examples guide's
section has the table).
"""

import argparse
import csv
import datetime
import itertools
import os
import pathlib
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from example_utils import CELLS  # noqa: E402
from example_utils import EpochTimer  # noqa: E402
from example_utils import parse_with_smoke  # noqa: E402
from example_utils import recurrent_layer  # noqa: E402

JENA_URL = (
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
    "jena_climate_2009_2016.csv.zip"
)
TIME_FORMATS = ("%d.%m.%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
# The rows of `--csv` a smoke run reads (its first 41 days at 10 minutes).
SMOKE_ROWS = 6000


def download_jena():
    path = keras.utils.get_file(origin=JENA_URL, extract=True)
    found = sorted(pathlib.Path(path).parent.rglob("jena_climate_2009_2016.csv"))
    if not found:
        raise FileNotFoundError(f"no jena_climate_2009_2016.csv under {path}")
    return found[0]


def time_parser(example):
    """A function that parses timestamps written like `example`: the first of
    `TIME_FORMATS` that reads it, else ISO 8601 (found once, for every row)."""
    for fmt in TIME_FORMATS:
        try:
            datetime.datetime.strptime(example, fmt)
        except ValueError:
            continue
        return lambda text: datetime.datetime.strptime(text, fmt)
    return datetime.datetime.fromisoformat


def read_csv(path, time_column="Date Time", max_rows=None):
    """Timestamps (seconds), numeric column names and values `(rows, columns)`
    of the first `max_rows` rows (all by default).

    Columns that do not hold a number in every row are left out.
    """
    with open(path, newline="") as f:
        rows = list(
            itertools.islice(csv.reader(f), None if max_rows is None else max_rows + 1)
        )
    header, rows = rows[0], [r for r in rows[1:] if r]
    if time_column not in header:
        raise ValueError(
            f"{path}: no {time_column!r} column (columns: {', '.join(header)})"
        )
    t = header.index(time_column)
    if not rows:
        raise ValueError(f"{path}: no data rows")
    parse = time_parser(rows[0][t])
    seconds = np.array([parse(r[t]).timestamp() for r in rows])
    names, columns = [], []
    for j, name in enumerate(header):
        if j == t:
            continue
        try:
            columns.append(np.array([float(r[j]) for r in rows], dtype="float32"))
        except ValueError:
            print(f"leaving out column {name!r}: not numeric")
            continue
        names.append(name)
    if not names:
        raise ValueError(f"{path}: no numeric column besides {time_column!r}")
    return seconds, names, np.stack(columns, axis=1)


def row_interval(seconds):
    """The usual time between rows, in seconds (the median difference)."""
    steps = np.diff(seconds)
    if len(steps) == 0 or np.any(steps < 0):
        raise ValueError("the time column must hold at least 2 rows in time order")
    interval = float(np.median(steps))
    if interval <= 0:
        raise ValueError("the time column repeats timestamps: no interval between rows")
    return interval


def rows_for(hours, interval, what):
    """`hours` as a whole number of rows, or a ValueError."""
    rows = hours * 3600 / interval
    if rows < 1 or abs(rows - round(rows)) > 0.01:
        raise ValueError(
            f"{what} of {hours} h is not a whole number of rows "
            f"{interval / 60:g} minutes apart"
        )
    return round(rows)


def make_datasets(seconds, names, values, args):
    """Train / validation / test datasets of (window, normalized 24 h change),
    and the target's standard deviation (to turn errors back into its unit)."""
    if args.target not in names:
        raise ValueError(f"--target {args.target!r} is not a numeric column: {names}")
    interval = row_interval(seconds)
    # One model step per `--sampling-hours` (every row if rows are further apart).
    stride = 1
    if interval < args.sampling_hours * 3600:
        stride = rows_for(args.sampling_hours, interval, "--sampling-hours")
    steps = rows_for(args.past_hours, interval * stride, "--past-hours")
    ahead = rows_for(args.ahead_hours, interval, "--ahead-hours")
    print(
        f"{len(values)} rows {interval / 60:g} minutes apart; a window is "
        f"{steps} steps of {stride} row(s), the target {ahead} rows "
        f"({args.ahead_hours} h) after its last row"
    )
    if args.time_features:
        # The hour of the day and the day of the year, as points on circles.
        day, year = 86400.0, 365.2425 * 86400.0
        phases = [2 * np.pi * seconds / day, 2 * np.pi * seconds / year]
        clock = [f(p) for p in phases for f in (np.sin, np.cos)]
        values = np.concatenate([values, np.stack(clock, 1).astype("float32")], 1)
        names = [*names, "day sin", "day cos", "year sin", "year cos"]
    n = len(values)
    train_end, validation_end = int(0.5 * n), int(0.75 * n)
    mean = values[:train_end].mean(axis=0)
    std = values[:train_end].std(axis=0) + 1e-6
    data = (values - mean) / std
    target = values[:, names.index(args.target)]
    span = (steps - 1) * stride  # rows from a window's first to its last row
    # change[i]: the target `ahead` rows after the last row of the window
    # that starts at row i, minus the target at that last row.
    change = np.zeros(n - ahead, "float32")
    last = np.arange(n - ahead - span) + span
    change[: len(last)] = target[last + ahead] - target[last]
    target_std = float(std[names.index(args.target)])
    change /= target_std

    def windows(start, end, shuffle):
        # Windows lie within rows [start, end) and their target within `end`.
        return keras.utils.timeseries_dataset_from_array(
            data[: end - ahead],
            change[: end - ahead],
            sequence_length=steps,
            sampling_rate=stride,
            sequence_stride=stride,
            shuffle=shuffle,
            seed=args.seed,
            batch_size=args.batch_size,
            start_index=start,
        )

    return (
        windows(0, train_end, True),
        windows(train_end, validation_end, False),
        windows(validation_end, n, False),
        (steps, len(names)),
        target_std,
    )


def build_model(input_shape, args):
    inputs = keras.Input(input_shape, name="weather")
    x = keras.layers.Conv1D(args.filters, 5, activation="relu")(inputs)
    x = keras.layers.MaxPooling1D(args.pool)(x)
    x = keras.layers.Conv1D(args.filters, 5, activation="relu")(x)
    options = {"dropout": args.dropout, "seed": args.seed}
    if args.chrono_init:
        options["chrono_init"] = args.chrono_init
    if args.recurrent_dropout and args.cell not in ("mingru",):
        options["recurrent_dropout"] = args.recurrent_dropout
    x = recurrent_layer(args.cell, args.units, **options)(x)
    # Zero at the start: the model starts as the persistence forecast.
    outputs = keras.layers.Dense(1, kernel_initializer="zeros", name="change")(x)
    return keras.Model(inputs, outputs, name=f"forecast_{args.cell}")


def generate_csv(path, days=60, minutes=10, seed=0):
    """Writes a synthetic weather file in the Jena layout: a daily temperature
    cycle plus slow anomalies, and pressure and humidity that follow them."""
    rng = np.random.default_rng(seed)
    rows = days * 24 * 60 // minutes
    hours = np.arange(rows) * minutes / 60
    # An anomaly that drifts over days (AR(1) per row, ~1.5 day memory).
    keep = np.exp(-minutes / (36 * 60))
    anomaly = np.zeros(rows)
    noise = rng.normal(scale=np.sqrt(1 - keep**2) * 4, size=rows)
    for i in range(1, rows):
        anomaly[i] = keep * anomaly[i - 1] + noise[i]
    temperature = 8 + 6 * np.sin(2 * np.pi * (hours - 9) / 24) + anomaly
    pressure = 990 - 1.5 * anomaly + rng.normal(scale=0.3, size=rows)
    humidity = np.clip(75 - 4 * np.sin(2 * np.pi * (hours - 9) / 24), 0, 100)
    start = datetime.datetime(2009, 1, 1, 0, 10)
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["Date Time", "p (mbar)", "T (degC)", "rh (%)"])
        for i in range(rows):
            when = start + datetime.timedelta(minutes=minutes * i)
            out.writerow(
                [
                    when.strftime(TIME_FORMATS[0]),
                    f"{pressure[i]:.2f}",
                    f"{temperature[i]:.2f}",
                    f"{humidity[i]:.2f}",
                ]
            )


def run(args):
    keras.utils.set_random_seed(args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        path = args.csv
        if args.smoke and not path:
            path = os.path.join(scratch, "generated_weather.csv")
            generate_csv(path, days=args.smoke_days, seed=args.seed)
        elif not path:
            path = download_jena()
        seconds, names, values = read_csv(
            path, args.time_column, SMOKE_ROWS if args.smoke else None
        )
    train, validation, test, input_shape, target_std = make_datasets(
        seconds, names, values, args
    )
    model = build_model(input_shape, args)
    model.summary()
    model.compile(keras.optimizers.Adam(args.learning_rate), loss="mae")
    timer = EpochTimer()
    model.fit(
        train,
        validation_data=validation,
        epochs=args.epochs,
        shuffle=False,  # the dataset shuffles itself
        callbacks=[
            keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True),
            timer,
        ],
        verbose=args.verbose,
    )
    change = np.concatenate([y for _, y in test.as_numpy_iterator()])
    predicted = model.predict(test, verbose=0)[:, 0]
    mae = float(np.mean(np.abs(predicted - change))) * target_std
    baseline = float(np.mean(np.abs(change))) * target_std
    print(timer.summary())
    print(f"test MAE: {mae:.3f} (persistence baseline: {baseline:.3f})")
    return mae, baseline


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cell", choices=list(CELLS), default="minimal_gru")
    parser.add_argument("--csv", help="a local CSV (default: download Jena climate)")
    parser.add_argument("--time-column", default="Date Time")
    parser.add_argument("--target", default="T (degC)")
    parser.add_argument("--past-hours", type=float, default=120)
    parser.add_argument("--sampling-hours", type=float, default=1)
    parser.add_argument("--ahead-hours", type=float, default=24)
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--pool", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument(
        "--recurrent-dropout",
        type=float,
        default=0.2,
        help="(ignored for mingru, which has no recurrent input)",
    )
    parser.add_argument(
        "--chrono-init",
        type=int,
        default=0,
        help="chrono initialization of the memory gates up to this many steps "
        "(0: the layers' own biases)",
    )
    parser.add_argument(
        "--time-features",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="add the hour of the day and the day of the year as inputs",
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    args = parse_with_smoke(
        parser,
        argv,
        "seconds, offline: a generated series (or the first "
        f"{SMOKE_ROWS} rows of --csv), one epoch",
        caps=("epochs", "past_hours", "filters", "units"),
        epochs=1,
        past_hours=48,
        batch_size=64,
        filters=8,
        units=8,
        # 40 generated days: the day of the year would be a trend to overfit.
        time_features=False,
    )
    args.smoke_days = 40
    return args


def main(argv=None):
    return run(parse_args(argv))


if __name__ == "__main__":
    main()
