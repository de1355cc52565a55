"""The registry of benchmarked layers, their FLOP counts and speed targets."""

import dataclasses

import keras

import keras_gates as kg

SLICES = (8, 8)


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
    # The longest sequence to time it on (the mLSTM's parallel form holds
    # a steps x steps matrix per head), or None.
    max_steps: int = None
    # Arguments of `model.compile` beside the optimizer and the loss.
    compile_args: dict = dataclasses.field(default_factory=dict)
    # What a user writes for this layer (`u`: the units), for the tables the
    # documentation quotes; the name when left out.
    code: str = None

    @property
    def label(self):
        return self.code or self.name


def gate_block_macs(blocks):
    """`macs` of a cell with `blocks` gate blocks, each fed by the input and
    the state: 4 for an LSTM, 3 for a GRU or CIFG, 2 for a minimal GRU."""
    return lambda d, u: blocks * u * (d + u)


def sru_macs(d, u):
    """Input products only: 3 blocks, 4 with a projected highway."""
    return (3 if d == u else 4) * u * d


def min_gru_macs(d, u):
    """Input products only: the gate and the candidate."""
    return 2 * u * d


def min_lstm_macs(d, u):
    """Input products only: two gates and the candidate."""
    return 3 * u * d


def mlstm_macs(d, u, heads=4):
    """The input product (q, k, v, o and two gates per head), then each
    head's write (k vᵀ) and read (qᵀ C and qᵀ n) of its (u/h)² memory."""
    return d * (4 * u + 2 * heads) + 2 * u * u // heads + u


def clockwork_macs(d, u):
    """The input product and the block upper-triangular recurrent product of
    8 modules (9/16 of a full one)."""
    return u * d + u * u * 9 // 16


def depth_gated_macs(d, u):
    """Two layers: 4 blocks on the input, 5 on the layer below (with the
    depth gate's), 4 on each layer's own state."""
    return 4 * u * d + 5 * u * u + 2 * 4 * u * u


# The layers whose step loop the `gpu` preset also times.
STEP_CASES = ("PeepholeLSTM", "CoupledLSTM", "MinimalGRU", "SRU", "MinGRU")
# The layers with a fast path or a scan, each with its defaults: the first
# rows of the GPU preset and of the speed guide's table.
FAST_PATH_DEFAULTS = (
    "PeepholeLSTM",
    "CoupledLSTM",
    "MinimalGRU",
    "SRU",
    "SRU(v=0)",
    "MinGRU",
)

CASES = {
    case.name: case
    for case in [
        Case(
            "keras.LSTM",
            lambda u: keras.layers.LSTM(u),
            gate_block_macs(4),
            code="keras.layers.LSTM",
        ),
        Case(
            "keras.GRU",
            lambda u: keras.layers.GRU(u),
            gate_block_macs(3),
            code="keras.layers.GRU",
        ),
        Case(
            "PeepholeLSTM",
            lambda u: kg.PeepholeLSTM(u),
            gate_block_macs(4),
            ("keras.LSTM", 0.85),
        ),
        Case(
            "CoupledLSTM",
            lambda u: kg.CoupledLSTM(u),
            gate_block_macs(3),
            ("keras.LSTM", 0.50),
        ),
        Case(
            "MinimalGRU",
            lambda u: kg.MinimalGRU(u),
            gate_block_macs(2),
            ("keras.GRU", 0.70),
        ),
        Case(
            "SRU",
            lambda u: kg.SRU(u),
            sru_macs,
            ("keras.LSTM", 0.25),
        ),
        # The hoisted fast path, forced (on a CPU "auto" runs the step loop).
        *(
            Case(
                f"{layer.__name__} hoisted",
                lambda u, layer=layer: layer(u, fast_path=True),
                macs,
                code=f"{layer.__name__}(fast_path=True)",
            )
            for layer, macs in [
                (kg.PeepholeLSTM, gate_block_macs(4)),
                (kg.CoupledLSTM, gate_block_macs(3)),
                (kg.MinimalGRU, gate_block_macs(2)),
                (kg.SRU, sru_macs),
            ]
        ),
        # The step loop, forced (on an accelerator "auto" is the fast path).
        *(
            Case(
                f"{name} steps",
                lambda u, name=name: getattr(kg, name)(u, fast_path=False),
                macs,
                code=f"{name}(fast_path=False)",
            )
            for name, macs in zip(
                STEP_CASES,
                [
                    gate_block_macs(4),
                    gate_block_macs(3),
                    gate_block_macs(2),
                    sru_macs,
                    min_gru_macs,
                ],
                strict=True,
            )
        ),
        # The model compiled by XLA (`model.compile(jit_compile=True)`).
        *(
            Case(
                f"{layer.__name__} jit",
                lambda u, layer=layer: layer(u),
                macs,
                compile_args={"jit_compile": True},
                code=f"{layer.__name__}, compile(jit_compile=True)",
            )
            for layer, macs in [
                (kg.PeepholeLSTM, gate_block_macs(4)),
                (kg.CoupledLSTM, gate_block_macs(3)),
            ]
        ),
        Case(
            "SRU(v=0)",
            lambda u: kg.SRU(u, recurrent_gates=False),
            sru_macs,
            code="SRU(recurrent_gates=False)",
        ),
        Case(
            "SRU(v=0) scan",
            lambda u: kg.SRU(u, recurrent_gates=False, fast_path=True),
            sru_macs,
            code="SRU(recurrent_gates=False, fast_path=True)",
        ),
        Case(
            "MinGRU",
            lambda u: kg.MinGRU(u),
            min_gru_macs,
            ("keras.GRU", 0.25),
        ),
        Case(
            "MinGRU scan",
            lambda u: kg.MinGRU(u, fast_path=True),
            min_gru_macs,
            code="MinGRU(fast_path=True)",
        ),
        Case("MinLSTM", lambda u: kg.MinLSTM(u), min_lstm_macs),
        # xLSTM's sLSTM, 4 heads: its block-diagonal recurrent kernel runs
        # as one dense (zero off the heads) product, the MACs counted.
        Case("SLSTM", lambda u: kg.SLSTM(u), gate_block_macs(4)),
        Case(
            "MinLSTM scan",
            lambda u: kg.MinLSTM(u, fast_path=True),
            min_lstm_macs,
            code="MinLSTM(fast_path=True)",
        ),
        # xLSTM's mLSTM in each of its forms (4 heads).
        *(
            Case(
                f"MLSTM {form}",
                lambda u, form=form: kg.MLSTM(u, form=form),
                mlstm_macs,
                code=f'MLSTM(form="{form}")',
                max_steps=2048 if form == "parallel" else None,
            )
            for form in ("recurrent", "parallel", "chunkwise")
        ),
        # The answers to long dependencies. The Clockwork RNN's
        # count is the dense step's: every module at every step; with
        # `skip_inactive` a step of the exponential clock computes fewer.
        Case(
            "keras.SimpleRNN",
            lambda u: keras.layers.SimpleRNN(u),
            gate_block_macs(1),
            code="keras.layers.SimpleRNN",
        ),
        Case(
            "ClockworkRNN",
            lambda u: kg.ClockworkRNN(u, periods=8),
            clockwork_macs,
            code="ClockworkRNN(periods=8)",
        ),
        Case(
            "ClockworkRNN skip",
            lambda u: kg.ClockworkRNN(u, periods=8, skip_inactive=True),
            clockwork_macs,
            code="ClockworkRNN(periods=8, skip_inactive=True)",
        ),
        Case(
            "DepthGatedLSTM",
            lambda u: kg.DepthGatedLSTM(u, num_layers=2),
            depth_gated_macs,
            code="DepthGatedLSTM(num_layers=2)",
        ),
        # The Sliced RNN (`--sliced`): 64 slices, read as (8, 8), each level
        # a layer like the first. The levels above add 2 x 8 steps of the
        # same cell per 64 slices: left out of the count.
        Case(
            "Sliced PeepholeLSTM",
            lambda u: kg.SlicedRNN(kg.PeepholeLSTM(u), SLICES),
            gate_block_macs(4),
            ("PeepholeLSTM", 1 / 8),
            code="SlicedRNN(PeepholeLSTM, (8, 8))",
        ),
        Case(
            "Sliced MinimalGRU",
            lambda u: kg.SlicedRNN(kg.MinimalGRU(u), SLICES),
            gate_block_macs(2),
            ("MinimalGRU", 1 / 8),
            code="SlicedRNN(MinimalGRU, (8, 8))",
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
    # The Sliced RNN against the plain layers (`--sliced`): long sequences,
    # a small layer.
    "sliced": {
        "shapes": [(16, t) for t in (256, 1024, 4096, 16384)],
        "rounds": 3,
        "features": 32,
        "units": 64,
        "layers": [
            "PeepholeLSTM",
            "Sliced PeepholeLSTM",
            "MinimalGRU",
            "Sliced MinimalGRU",
        ],
    },
    # The mLSTM's three forms against length, beside the LSTM and MinGRU's
    # scan (`--preset mlstm`; the parallel form up to 2,048 steps).
    "mlstm": {
        "shapes": [(16, t) for t in (128, 256, 512, 1024, 2048, 4096, 16384)],
        "rounds": 3,
        "features": 32,
        "units": 64,
        "layers": [
            "keras.LSTM",
            "MinGRU scan",
            "MLSTM recurrent",
            "MLSTM parallel",
            "MLSTM chunkwise",
        ],
    },
    # The Clockwork RNN against a SimpleRNN of its size, with and without
    # skipping the modules that do not run (`--units 64` for a small one).
    "clockwork": {
        "shapes": [(16, 256)],
        "rounds": 5,
        "features": 32,
        "units": 512,
        "layers": ["keras.SimpleRNN", "ClockworkRNN", "ClockworkRNN skip"],
    },
    # Every layer and path on a GPU (`--preset gpu`, under 5 minutes there):
    # the defaults (on an accelerator, "auto" is the fast path), the step
    # loop forced, T = 100 to 4096, the Sliced RNN where its 64 slices
    # divide the length.
    "gpu": {
        "shapes": [(64, 100), (64, 1000), (64, 4096)],
        "rounds": 3,
        "layers": [
            *FAST_PATH_DEFAULTS,
            *(f"{name} steps" for name in STEP_CASES),
            "MLSTM parallel",
            "MLSTM chunkwise",
            "Sliced PeepholeLSTM",
            "Sliced MinimalGRU",
        ],
    },
    # Seconds: for the test suite, and every preset's tiny form under
    # KERAS_GATES_SMOKE=1 (`benchmarks/smoke.py`; `sliced_smoke` for `sliced`).
    "smoke": {"shapes": [(4, 8)], "rounds": 2, "features": 8, "units": 16},
    "sliced_smoke": {
        "shapes": [(2, 64), (2, 128)],
        "rounds": 1,
        "features": 4,
        "units": 8,
        "layers": ["MinimalGRU", "Sliced MinimalGRU"],
    },
}
