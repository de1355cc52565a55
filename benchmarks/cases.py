"""The registry of benchmarked layers, their FLOP counts and speed targets."""

import dataclasses

import keras

import keras_gates as kg


@dataclasses.dataclass(frozen=True)
class Case:
    """A layer to time: how to build it and its multiply-adds per step.

    Cases named after a layer alone build it with its defaults
    (`fast_path="auto"`), which is what a user gets; a "scan" case forces
    the parallel scan (`fast_path=True`) for comparison, a "hoisted" case the
    fast path of the recurrent layers (`x @ kernel` for all steps before the
    loop).

    `macs(d, u)` is the number of multiply-adds of the matrix products of one
    time step for one sequence, with `d` input features and `u` units. The
    element-wise work is left out: it is small in FLOPs, though not in time.
    """

    name: str
    build: callable
    macs: callable
    # (baseline case name, ratio the layer should reach or beat), or None.
    target: tuple = None


CASES = {
    case.name: case
    for case in [
        Case(
            "keras.LSTM", lambda u: keras.layers.LSTM(u), lambda d, u: 4 * u * (d + u)
        ),
        Case("keras.GRU", lambda u: keras.layers.GRU(u), lambda d, u: 3 * u * (d + u)),
        Case(
            "PeepholeLSTM",
            lambda u: kg.PeepholeLSTM(u),
            lambda d, u: 4 * u * (d + u),
            ("keras.LSTM", 0.85),
        ),
        Case(
            "CoupledLSTM",
            lambda u: kg.CoupledLSTM(u),
            lambda d, u: 3 * u * (d + u),
            ("keras.LSTM", 0.50),
        ),
        Case(
            "MinimalGRU",
            lambda u: kg.MinimalGRU(u),
            lambda d, u: 2 * u * (d + u),
            ("keras.GRU", 0.70),
        ),
        Case(
            "SRU",
            lambda u: kg.SRU(u),
            lambda d, u: (3 if d == u else 4) * u * d,
            ("keras.LSTM", 0.25),
        ),
        Case(
            "PeepholeLSTM hoisted",
            lambda u: kg.PeepholeLSTM(u, fast_path=True),
            lambda d, u: 4 * u * (d + u),
        ),
        Case(
            "CoupledLSTM hoisted",
            lambda u: kg.CoupledLSTM(u, fast_path=True),
            lambda d, u: 3 * u * (d + u),
        ),
        Case(
            "MinimalGRU hoisted",
            lambda u: kg.MinimalGRU(u, fast_path=True),
            lambda d, u: 2 * u * (d + u),
        ),
        Case(
            "SRU hoisted",
            lambda u: kg.SRU(u, fast_path=True),
            lambda d, u: (3 if d == u else 4) * u * d,
        ),
        Case(
            "SRU(v=0)",
            lambda u: kg.SRU(u, recurrent_gates=False),
            lambda d, u: (3 if d == u else 4) * u * d,
        ),
        Case(
            "SRU(v=0) scan",
            lambda u: kg.SRU(u, recurrent_gates=False, fast_path=True),
            lambda d, u: (3 if d == u else 4) * u * d,
        ),
        Case(
            "MinGRU",
            lambda u: kg.MinGRU(u),
            lambda d, u: 2 * u * d,
            ("keras.GRU", 0.25),
        ),
        Case(
            "MinGRU scan",
            lambda u: kg.MinGRU(u, fast_path=True),
            lambda d, u: 2 * u * d,
        ),
    ]
}

# (batch, steps) shapes, all with FEATURES inputs and UNITS units.
FEATURES, UNITS = 128, 256
TARGET_SHAPES = [(64, 100), (16, 1000)]
PRESETS = {
    # The two shapes the targets are set at, and batch 16 at three lengths.
    "quick": {"shapes": [(64, 100), (16, 16), (16, 100), (16, 1000)], "rounds": 5},
    "full": {
        "shapes": [(b, t) for b in (16, 64) for t in (16, 100, 1000)],
        "rounds": 7,
    },
    # Seconds: for the test suite.
    "smoke": {"shapes": [(4, 8), (4, 16)], "rounds": 2, "features": 8, "units": 16},
}
