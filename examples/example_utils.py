"""Shared by the example scripts: the `--cell` choices, the layer with its
chrono initialization, `--smoke`, and the seconds per epoch.

`--smoke` runs a script in seconds, offline: its smoke settings become the
defaults, and options given on the command line still win. The environment
variable `KERAS_GATES_SMOKE=1` acts as `--smoke` for every script (the
documentation's tests run its command lines so) and also caps the sizes a
command line gives (epochs, steps, units, data): with it, a command asks for
what to run and on which data, and runs in seconds whatever sizes it names.
"""

import os
import statistics
import sys
import time

import keras

import keras_gates
from keras_gates.initializers import Chrono

# `--cell` name -> layer class; the last two are Keras' own baselines.
CELLS = {
    "peephole": keras_gates.PeepholeLSTM,
    "coupled": keras_gates.CoupledLSTM,
    "minimal_gru": keras_gates.MinimalGRU,
    "sru": keras_gates.SRU,
    "mingru": keras_gates.MinGRU,
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
}


def chrono_layer(cls, units, chrono_init=None, **kwargs):
    """A layer of class `cls` with `units`; with `chrono_init=T`, its memory
    gate's bias starts at chrono initialization up to T steps: the argument
    of the keras-gates layers, the `bias_initializer` of Keras' LSTM and GRU,
    nothing for a layer without gates (SimpleRNN)."""
    if chrono_init is not None:
        chrono_init = max(int(chrono_init), 3)  # the shortest chrono timescale
        if cls is keras.layers.LSTM:
            kwargs.update(
                unit_forget_bias=False, bias_initializer=Chrono(chrono_init, "lstm")
            )
        elif cls is keras.layers.GRU:
            kwargs.update(bias_initializer=Chrono(chrono_init, "gru"))
        elif cls is not keras.layers.SimpleRNN:
            kwargs.update(chrono_init=chrono_init)
    return cls(units, **kwargs)


def recurrent_layer(cell, units, bidirectional=False, **kwargs):
    """The `--cell` layer with `units` (and `chrono_init`, see
    `chrono_layer`), wrapped in Bidirectional if asked."""
    layer = chrono_layer(CELLS[cell], units, **kwargs)
    return keras.layers.Bidirectional(layer) if bidirectional else layer


# What a run under KERAS_GATES_SMOKE=1 says on stderr (as the benchmarks do).
SMOKE_MESSAGE = "smoke run (KERAS_GATES_SMOKE=1): tiny settings, figures not meaningful"


def smoke_from_environment():
    """Whether `KERAS_GATES_SMOKE=1` asks for smoke runs."""
    return os.environ.get("KERAS_GATES_SMOKE") == "1"


def parse_with_smoke(
    parser, argv, smoke_help, caps=(), default_verbose=1, **smoke_defaults
):
    """Adds `--seed`, `--verbose` and `--smoke` to `parser` and parses `argv`.

    With `--smoke` (or `KERAS_GATES_SMOKE=1` in the environment),
    `smoke_defaults` replace the defaults (a run of seconds); options given
    on the command line still win, except under `KERAS_GATES_SMOKE=1` for
    the options named in `caps`: their smoke settings are the most they may
    be (a larger value given is lowered to it), so that any command line
    runs in seconds. `default_verbose` is the default of `--verbose`.
    """
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--verbose",
        type=int,
        default=default_verbose,
        help="Keras fit verbosity (1: progress bar, 2: a line per epoch)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"{smoke_help}. KERAS_GATES_SMOKE=1 in the environment acts as "
        "--smoke and caps the sizes given on the command line",
    )
    args = parser.parse_args(argv)
    from_environment = smoke_from_environment()
    if args.smoke or from_environment:
        parser.set_defaults(**smoke_defaults)
        args = parser.parse_args(argv)
        args.smoke = True
    if from_environment:
        print(SMOKE_MESSAGE, file=sys.stderr, flush=True)
        for name in caps:
            value = getattr(args, name)
            if value is not None and value > smoke_defaults[name]:
                setattr(args, name, smoke_defaults[name])
    return args


class EpochTimer(keras.callbacks.Callback):
    """The wall time of each training epoch (validation included); `median()`
    is what the scripts print as seconds per epoch."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._start)

    def median(self):
        return statistics.median(self.times)

    def summary(self):
        return f"seconds per epoch: {self.median():.0f} (median of {len(self.times)})"


class Plateau(keras.callbacks.Callback):
    """Trains to a plateau: stops when `monitor` has not improved for
    `patience` epochs, restores the weights of its best epoch, and records
    the learning curve.

    An improvement is a value below the last improvement's by more than
    `min_delta` (with `relative=True`, below it times `1 - min_delta`: for
    losses that fall over orders of magnitude). After training,
    `curve` holds `(optimizer steps, value)` per epoch, `best` and
    `best_step` the lowest value and its step, and `converged` says
    whether patience ran out (False: the epochs ran out first).
    """

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, relative=False):
        super().__init__()
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.relative = relative

    def on_train_begin(self, logs=None):
        self.curve, self.best, self.best_step = [], float("inf"), 0
        self.converged, self._reference, self._wait = False, float("inf"), 0
        self._best_weights = None

    def _improves(self, value):
        if self.relative:
            return value < self._reference * (1.0 - self.min_delta)
        return value < self._reference - self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        value = float((logs or {})[self.monitor])
        step = int(self.model.optimizer.iterations.numpy())
        self.curve.append((step, value))
        if value < self.best:  # NaN is never below
            self.best, self.best_step = value, step
            self._best_weights = self.model.get_weights()
        if self._improves(value):
            self._reference, self._wait = value, 0
            return
        self._wait += 1
        if self._wait >= self.patience:
            self.converged = True
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self._best_weights is not None:
            self.model.set_weights(self._best_weights)

    def record(self, scale=1.0):
        """What a study saves of the run: the curve, the best value and
        step, the steps trained and whether it converged; the values times
        `scale` (a loss in the unit of the study's tables)."""
        return {
            "curve": [(step, value * scale) for step, value in self.curve],
            "best": self.best * scale,
            "best_step": self.best_step,
            "steps": self.curve[-1][0] if self.curve else 0,
            "converged": self.converged,
        }


def tuned(grid, run, tuning_seed=0):
    """Tunes one model's learning rate: `run(learning_rate, seed)` returns a
    dict with its `"valid"` score (lower is better); every rate of `grid` is
    run on `tuning_seed`. Returns the best rate and every tuning run, by
    rate (none for a grid of one rate: there is nothing to choose)."""
    if len(grid) == 1:
        return grid[0], {}
    runs = {rate: run(rate, tuning_seed) for rate in grid}
    best = min(grid, key=lambda rate: runs[rate]["valid"])
    return best, runs


def mean_sd(values, digits=3):
    """`"mean ± sd"` of `values` (only the value for one)."""
    mean = statistics.mean(values)
    if len(values) < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def plot_curves(runs, path, title, ylabel="validation loss", log=False, zoom=None):
    """The learning curves of a study: one panel per data set, one colour
    per model, a line per seed. `runs`: dicts with `data`, `model` and
    `curve` (`[(steps, value), ...]`), as the studies save them. `zoom`:
    the top of each panel's axis as a multiple of its lowest value (the
    first epochs' losses are far above where the models settle)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["data"] for r in runs))
    models = list(dict.fromkeys(r["model"] for r in runs))
    colours = {m: f"C{k % 10}" for k, m in enumerate(models)}
    # Drawn for a documentation column (about 700-900 px): stacked panels,
    # 200 dpi, 9-10 pt text, the legend beside the panels.
    fig, axes = plt.subplots(
        len(datasets),
        1,
        figsize=(8, 3.2 * len(datasets) + 0.6),
        squeeze=False,
        layout="constrained",  # keeps the two-line title off the first panel
    )
    for ax, data in zip(axes[:, 0], datasets, strict=True):
        seen = set()
        for r in runs:
            if r["data"] != data or not r["curve"]:
                continue
            steps, values = zip(*r["curve"], strict=True)
            label = None if r["model"] in seen else r["model"]
            seen.add(r["model"])
            ax.plot(steps, values, color=colours[r["model"]], lw=1, label=label)
        if log:
            ax.set_yscale("log")
        if zoom:
            low = min(v for r in runs if r["data"] == data for _, v in r["curve"])
            ax.set_ylim(low * 0.99, low * zoom)
        ax.set_title(data, fontsize=10)
        ax.set_xlabel("optimizer steps", fontsize=9)
        ax.set_ylabel(ylabel, fontsize=9)
        ax.tick_params(labelsize=9)
        ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=200)
    plt.close(fig)


def save_study(path, args, runs, lines, seconds, conditions, **extra):
    """Writes a study's `--out` JSON: its arguments, conditions and time,
    every run, and its printed tables (`lines`, which
    `python -m benchmarks.quote` copies into the guides)."""
    import json
    import pathlib

    payload = {
        "args": vars(args),
        "conditions": conditions,
        "seconds": seconds,
        "runs": runs,
        "markdown": "\n".join(lines).strip() + "\n",
        **extra,
    }
    pathlib.Path(path).write_text(json.dumps(payload, indent=1))
    print(f"wrote {path}")


# Marks a table's steps when a run reached its cap before a plateau.
NOT_CONVERGED = "†"


def steps_range(runs):
    """The optimizer steps at which `runs` stopped, as a table cell: the
    range, and `NOT_CONVERGED` when one of them reached its cap first."""
    steps = [r["steps"] for r in runs]
    low, high = min(steps), max(steps)
    text = f"{low:,}" if low == high else f"{low:,}-{high:,}"
    return text + (NOT_CONVERGED if any(not r["converged"] for r in runs) else "")


def not_converged_note(runs, cap):
    """The footnote of `steps_range`'s mark, or "" when every run converged."""
    count = sum(not r["converged"] for r in runs)
    if not count:
        return ""
    return (
        f"{NOT_CONVERGED} {count} of {len(runs)} runs reached {cap} while still "
        "improving: their scores are the best they reached by then, not a "
        "plateau's."
    )


def load_studies(paths):
    """The runs of saved `--out` files (a study run in parts) and their
    times added: `(runs, seconds)`."""
    import json
    import pathlib

    runs, seconds = [], 0.0
    for path in paths or ():
        saved = json.loads(pathlib.Path(path).read_text())
        runs += saved["runs"]
        seconds += saved["seconds"]
    return runs, seconds
