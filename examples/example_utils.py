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
