"""Shared by the example scripts: the `--cell` choices."""

import keras

import keras_gates

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


def recurrent_layer(cell, units, bidirectional=False, **kwargs):
    """The `--cell` layer with `units`, wrapped in Bidirectional if asked."""
    layer = CELLS[cell](units, **kwargs)
    return keras.layers.Bidirectional(layer) if bidirectional else layer


def parse_with_smoke(parser, argv, smoke_help, **smoke_defaults):
    """Adds `--seed`, `--verbose` and `--smoke` to `parser` and parses `argv`.

    With `--smoke`, `smoke_defaults` replace the defaults (a run of
    seconds); options given on the command line still win.
    """
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--verbose", type=int, default=1, help="Keras fit verbosity (1: progress bar)"
    )
    parser.add_argument("--smoke", action="store_true", help=smoke_help)
    args = parser.parse_args(argv)
    if args.smoke:
        parser.set_defaults(**smoke_defaults)
        args = parser.parse_args(argv)
    return args
