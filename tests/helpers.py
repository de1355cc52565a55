"""Shared test helpers: the layer configurations under test and their references."""

import datetime
import functools
import os
import pathlib
import re

import keras
import numpy as np
import pytest

import keras_gates as kg
from tests import reference as ref

# name: (layer class, constructor kwargs, input_dim). UNITS is the layer size.
UNITS = 4
CASES = {
    "peephole": (kg.PeepholeLSTM, {}, 3),
    "peephole_io_clip": (
        kg.PeepholeLSTM,
        {"peepholes": ["input", "output"], "cell_clip": 0.6},
        3,
    ),
    "peephole_nobias": (kg.PeepholeLSTM, {"peepholes": "forget", "use_bias": False}, 3),
    "coupled": (kg.CoupledLSTM, {}, 3),
    "coupled_peepholes": (kg.CoupledLSTM, {"peepholes": ["input", "output"]}, 3),
    "mgu": (kg.MinimalGRU, {}, 3),
    "mgu_update_only": (kg.MinimalGRU, {"reset": False}, 3),
    "sru_projected": (kg.SRU, {}, 3),
    "sru_identity_tanh": (kg.SRU, {"activation": "tanh"}, UNITS),
    "sru_2017": (kg.SRU, {"recurrent_gates": False, "fast_path": True}, 3),
    "sru_2017_identity_steps": (
        kg.SRU,
        {"recurrent_gates": False, "activation": "tanh", "fast_path": False},
        UNITS,
    ),
    "sru_2017_identity": (
        kg.SRU,
        {"recurrent_gates": False, "activation": "tanh", "fast_path": True},
        UNITS,
    ),
    "mingru": (kg.MinGRU, {"fast_path": True}, 3),
    # Other activations: a cell that hard-codes tanh or the sigmoid fails.
    "peephole_relu": (
        kg.PeepholeLSTM,
        {"activation": "relu", "recurrent_activation": "hard_sigmoid"},
        3,
    ),
    "coupled_linear": (
        kg.CoupledLSTM,
        {"activation": "linear", "recurrent_activation": "hard_sigmoid"},
        3,
    ),
    "mgu_relu": (
        kg.MinimalGRU,
        {"activation": "relu", "recurrent_activation": "hard_sigmoid"},
        3,
    ),
    "sru_relu": (
        kg.SRU,
        {"activation": "relu", "recurrent_activation": "hard_sigmoid"},
        3,
    ),
    "mingru_hard": (kg.MinGRU, {"recurrent_activation": "hard_sigmoid"}, 3),
    "mingru_hard_steps": (
        kg.MinGRU,
        {"recurrent_activation": "hard_sigmoid", "fast_path": False},
        3,
    ),
    "mingru_steps": (kg.MinGRU, {"fast_path": False}, 3),
    "minlstm": (kg.MinLSTM, {"fast_path": True}, 3),
    "minlstm_hard_steps": (
        kg.MinLSTM,
        {"recurrent_activation": "hard_sigmoid", "fast_path": False},
        3,
    ),
    # The hoisted fast path (x @ kernel for all steps before the loop).
    "peephole_hoisted": (kg.PeepholeLSTM, {"fast_path": True}, 3),
    "peephole_io_clip_hoisted": (
        kg.PeepholeLSTM,
        {"peepholes": ["input", "output"], "cell_clip": 0.6, "fast_path": True},
        3,
    ),
    "coupled_hoisted": (kg.CoupledLSTM, {"fast_path": True}, 3),
    "mgu_hoisted": (kg.MinimalGRU, {"fast_path": True}, 3),
    "mgu_update_only_hoisted": (
        kg.MinimalGRU,
        {"reset": False, "use_bias": False, "fast_path": True},
        3,
    ),
    "sru_projected_hoisted": (kg.SRU, {"fast_path": True}, 3),
    "sru_identity_hoisted": (kg.SRU, {"activation": "tanh", "fast_path": True}, UNITS),
    # The options of the reference implementations (issue 15).
    "lstmp_clips": (
        kg.PeepholeLSTM,
        {"projection_units": 3, "projection_clip": 0.4, "cell_clip": 0.8},
        3,
    ),
    "lstmp_clips_hoisted": (
        kg.PeepholeLSTM,
        {
            "projection_units": 2,
            "projection_clip": 0.4,
            "peepholes": ["forget"],
            "fast_path": True,
        },
        3,
    ),
    "peephole_layer_norm": (kg.PeepholeLSTM, {"layer_norm": True}, 3),
    "lstm_layer_norm_hoisted": (
        kg.PeepholeLSTM,
        {
            "layer_norm": True,
            "peepholes": None,
            "norm_epsilon": 0.01,
            "fast_path": True,
        },
        3,
    ),
    "sru_rescale_identity": (
        kg.SRU,
        {"rescale": True, "highway_bias": -1.5, "activation": "tanh"},
        UNITS,
    ),
    "sru_no_skip": (kg.SRU, {"skip_term": False}, UNITS),
    "sru_layer_norm_rescale": (
        kg.SRU,
        {"layer_norm": True, "rescale": True, "highway_bias": 0.5},
        UNITS,
    ),
    "sru_layer_norm_projected_hoisted": (
        kg.SRU,
        {"layer_norm": True, "fast_path": True},
        3,
    ),
    "sru_normalize_after_scan": (
        kg.SRU,
        {
            "layer_norm": True,
            "normalize_after": True,
            "recurrent_gates": False,
            "fast_path": True,
        },
        3,
    ),
    "sru_input_projection": (kg.SRU, {"input_projection_units": 2}, 3),
    "sru_split_highway": (kg.SRU, {"highway": "split", "rescale": True}, 2 * UNITS),
    # go_backwards (test_matches_reference's backward runs) reads the
    # second half.
    "sru_split_highway_hoisted": (
        kg.SRU,
        {"highway": "split", "fast_path": True},
        2 * UNITS,
    ),
    "sru_projection_highway": (kg.SRU, {"highway": "projection"}, UNITS),
    "mingru_log_space": (kg.MinGRU, {"log_space": True, "fast_path": True}, 3),
    "mingru_log_space_steps": (kg.MinGRU, {"log_space": True}, 3),
    "mingru_log_space_projected": (
        kg.MinGRU,
        {"log_space": True, "projection_units": 2, "fast_path": True},
        3,
    ),
    "mingru_projected_steps": (kg.MinGRU, {"projection_units": 5}, 3),
    "minlstm_log_space_projected": (
        kg.MinLSTM,
        {"log_space": True, "projection_units": 2, "fast_path": True},
        3,
    ),
    "minlstm_log_space_steps": (kg.MinLSTM, {"log_space": True}, 3),
    "slstm": (kg.SLSTM, {"num_heads": 2}, 3),
    "slstm_exponential_forget_hoisted": (
        kg.SLSTM,
        {"num_heads": 4, "exponential_forget_gate": True, "fast_path": True},
        3,
    ),
    "slstm_one_head_relu_nobias": (
        kg.SLSTM,
        {"num_heads": 1, "activation": "relu", "use_bias": False},
        3,
    ),
    # The mLSTM: the parallel form (form="auto" on short sequences), the
    # chunkwise form with chunks shorter than the sequences and keys of
    # their own size, and the recurrent form without a bias.
    "mlstm": (kg.MLSTM, {"num_heads": 2}, 3),
    "mlstm_chunkwise_keys": (
        kg.MLSTM,
        {"num_heads": 2, "key_units": 6, "form": "chunkwise", "chunk_size": 2},
        3,
    ),
    "mlstm_recurrent_nobias": (
        kg.MLSTM,
        {"num_heads": 1, "form": "recurrent", "use_bias": False},
        3,
    ),
    "coupled_clip_proj_norm_hoisted": (
        kg.CoupledLSTM,
        {
            "cell_clip": 0.7,
            "projection_units": 5,
            "projection_clip": 0.5,
            "layer_norm": True,
            "fast_path": True,
        },
        3,
    ),
    "sru_rescale_input_projection_hoisted": (
        kg.SRU,
        {
            "rescale": True,
            "highway_bias": 1.0,
            "input_projection_units": 2,
            "fast_path": True,
        },
        UNITS,
    ),
    "sru_no_skip_scan": (
        kg.SRU,
        {"skip_term": False, "recurrent_gates": False, "fast_path": True},
        3,
    ),
    "coupled_clip_proj_norm": (
        kg.CoupledLSTM,
        {
            "cell_clip": 0.7,
            "projection_units": 3,
            "layer_norm": True,
            "peepholes": ["input", "output"],
        },
        3,
    ),
    # Greff's variants (tests/test_variants.py runs each alone): FGR carries
    # a third state; absent gates remove their blocks.
    "lstm_fgr_nog": (
        kg.PeepholeLSTM,
        {"full_gate_recurrence": True, "output_gate": False, "cell_clip": 0.8},
        3,
    ),
    "lstm_nig_niaf_hoisted": (
        kg.PeepholeLSTM,
        {"input_gate": False, "input_activation": "linear", "fast_path": True},
        3,
    ),
    "lstm_nfg_noaf_proj_norm": (
        kg.PeepholeLSTM,
        {
            "forget_gate": False,
            "output_activation": "linear",
            "projection_units": 2,
            "layer_norm": True,
        },
        3,
    ),
    # Jozefowicz et al.'s mutants; MUT1 and MUT2 take units input features.
    "mut1": (kg.MutantGRU, {"mutant": 1}, UNITS),
    "mut2_hoisted": (kg.MutantGRU, {"mutant": "MUT2", "fast_path": True}, UNITS),
    "mut3_relu": (
        kg.MutantGRU,
        {"mutant": 3, "activation": "relu", "recurrent_activation": "hard_sigmoid"},
        3,
    ),
    # The clock: two modules (the dense step), then skipping modules with a
    # period that skips the first step (four modules on long sequences,
    # both steps: tests/test_clockwork.py).
    "clockwork": (kg.ClockworkRNN, {"periods": [1, 2]}, 3),
    "clockwork_uneven_hoisted": (
        kg.ClockworkRNN,
        {
            "periods": [2, 3],
            "skip_inactive": True,
            "use_bias": False,
            "fast_path": True,
        },
        3,
    ),
    # The depth gate: two layers with every peephole, three coupled on the
    # hoisted path (one layer: tests/test_depth_gated.py).
    "depth_gated": (kg.DepthGatedLSTM, {}, 3),
    "depth_gated_coupled_hoisted": (
        kg.DepthGatedLSTM,
        {
            "num_layers": 3,
            "coupled": True,
            "peepholes": "output",
            "use_bias": False,
            "recurrent_activation": "hard_sigmoid",
            "fast_path": True,
        },
        3,
    ),
}
# The cases without an explicit fast_path take the step-by-step loop.
for _cls, _kwargs, _ in CASES.values():
    _kwargs.setdefault("fast_path", False)
# One representative per layer class and path, for the slower feature tests.
MAIN_CASES = [
    "peephole",
    "coupled",
    "mgu",
    "sru_projected",
    "mingru",
    "minlstm",
    "slstm",
    "mlstm",
    "sru_2017",
    "peephole_hoisted",
    "coupled_hoisted",
    "mgu_hoisted",
    "sru_identity_hoisted",
    "clockwork",
    "depth_gated",
    "mut3_relu",
]


def has_recurrent_dropout(case):
    """MinGRU, MinLSTM, the mLSTM and the SRU with recurrent_gates=False
    have no recurrent connection, hence no recurrent dropout."""
    cls, kwargs, _ = CASES[case]
    no_recurrence = (kg.MinGRU, kg.MinLSTM, kg.MLSTM)
    return cls not in no_recurrence and kwargs.get("recurrent_gates", True)


WEIGHT_NAMES = (
    "kernel",
    "recurrent_kernel",
    "bias",
    "input_peephole",
    "forget_peephole",
    "output_peephole",
    "projection_kernel",
    "gate_recurrent_kernel",
    "kernel_norm_gamma",
    "kernel_norm_beta",
    "recurrent_norm_gamma",
    "recurrent_norm_beta",
    "state_norm_gamma",
    "state_norm_beta",
    "norm_gamma",
    "norm_beta",
)


def make_layer(case, **overrides):
    cls, kwargs, input_dim = CASES[case]
    return cls(UNITS, **{**kwargs, **overrides}), input_dim


def built_layer(case, steps, **overrides):
    """`make_layer`, built for `steps` timesteps and randomized."""
    layer, input_dim = make_layer(case, **overrides)
    layer.build((None, steps, input_dim))
    randomize(layer)
    return layer, input_dim


# The repository root, and the environment of a subprocess that runs one of
# the tests/ scripts with `python -m tests.<script>` from it.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def subprocess_env(**extra):
    return {
        **os.environ,
        "KERAS_BACKEND": "tensorflow",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": ROOT,
        **extra,
    }


def randomize(layer, seed=0, scale=0.5):
    """Sets every weight of a built layer to random normal values."""
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [rng.normal(0.0, scale, w.shape).astype("float32") for w in layer.get_weights()]
    )


def cell_weights(cell):
    """The cell's weights as float64 arrays, keyed by their names in docs/contract.md."""
    return {
        w.name: keras.ops.convert_to_numpy(w).astype(np.float64)
        for w in cell.weights
        # Per module or layer: recurrent_kernel_0, kernel_1, ...
        if w.name in WEIGHT_NAMES or re.fullmatch(r"\w+_\d+", w.name)
    }


def _numpy_activation(activation):
    name = keras.activations.serialize(activation)
    if name not in ref.ACTIVATIONS:
        raise ValueError(f"no NumPy reference for the activation {name!r}")
    return ref.ACTIVATIONS[name] or (lambda x: x)


def reference_step(cell, x_mask=None, state_mask=None):
    """The NumPy step of docs/contract.md for `cell`, with its current weights and
    activations."""
    w = cell_weights(cell)
    options = {
        "x_mask": x_mask,
        "state_mask": state_mask,
        "recurrent_activation": _numpy_activation(cell.recurrent_activation),
    }
    if hasattr(cell, "activation"):
        options["activation"] = _numpy_activation(cell.activation)
    if isinstance(cell, kg.PeepholeLSTMCell) and is_variant(cell):
        step = functools.partial(
            ref.lstm_variant_step,
            gates=cell.GATES,
            input_activation=_numpy_activation(
                cell.input_activation or cell.activation
            ),
            output_activation=_numpy_activation(
                cell.output_activation or cell.activation
            ),
            full_gate_recurrence=cell.full_gate_recurrence,
            cell_clip=cell.cell_clip,
            projection_clip=cell.projection_clip,
            norm_epsilon=cell.norm_epsilon,
        )
    elif isinstance(cell, (kg.PeepholeLSTMCell, kg.CoupledLSTMCell)):
        step = functools.partial(
            ref.peephole_lstm_step
            if isinstance(cell, kg.PeepholeLSTMCell)
            else ref.coupled_lstm_step,
            cell_clip=cell.cell_clip,
            projection_clip=cell.projection_clip,
            norm_epsilon=cell.norm_epsilon,
        )
    elif isinstance(cell, kg.MinimalGRUCell):
        step = functools.partial(ref.minimal_gru_step, reset=cell.reset)
    elif isinstance(cell, kg.MinGRUCell):
        step = functools.partial(ref.min_gru_step, log_space=cell.log_space)
    elif isinstance(cell, kg.MinLSTMCell):
        step = functools.partial(ref.min_lstm_step, log_space=cell.log_space)
    elif isinstance(cell, kg.SLSTMCell):
        step = functools.partial(
            ref.slstm_step,
            num_heads=cell.num_heads,
            exponential_forget_gate=cell.exponential_forget_gate,
        )
    elif isinstance(cell, kg.MLSTMCell):
        step = functools.partial(
            ref.mlstm_step,
            num_heads=cell.num_heads,
            units=cell.units,
            key_units=cell.key_units,
        )
    elif isinstance(cell, kg.SRUCell):
        highway = None if not cell.skip_term else cell.highway
        step = functools.partial(
            ref.sru_step,
            highway=highway
            if highway in (None, "first_half", "second_half")
            else "auto",
            scale=ref.sru_rescale(cell.highway_bias) if cell.rescale else 1.0,
            normalize_after=cell.normalize_after,
            norm_epsilon=cell.norm_epsilon,
        )
        name = keras.activations.serialize(cell.activation)
        options["activation"] = ref.ACTIVATIONS[name]  # None: the identity
    elif isinstance(cell, kg.DepthGatedLSTMCell):
        step = functools.partial(
            ref.depth_gated_lstm_step, layers=cell.num_layers, coupled=cell.coupled
        )
    elif isinstance(cell, kg.MutantGRUCell):
        step = functools.partial(ref.mutant_gru_step, mutant=cell.mutant)
    elif isinstance(cell, kg.ClockworkRNNCell):
        step = functools.partial(ref.clockwork_step, periods=cell.periods)
    else:
        raise TypeError(f"no reference for {type(cell).__name__}")
    return lambda x, states: step(x, states, w, **options)


def is_variant(cell):
    """Whether a PeepholeLSTMCell has one of Greff's variant options."""
    return (
        len(cell.GATES) < 3
        or cell.input_activation is not None
        or cell.output_activation is not None
        or cell.full_gate_recurrence
    )


def random_states(rng, batch, cell):
    """Random initial states of `cell` (normal, float32) that a run of the
    cell could reach: an sLSTM's normaliser `n` is at least 1 after its
    first step, so it is drawn as `1 + |normal|`."""
    states = [rng.normal(size=(batch, n)).astype("float32") for n in cell.state_size]
    if isinstance(cell, kg.SLSTMCell):
        states[2] = 1.0 + np.abs(states[2])
    if isinstance(cell, kg.MLSTMCell):  # q·n may be small: keep h moderate
        states[0] = 0.3 * states[0]
    return states


def zero_states(layer, batch):
    """The zero initial states of `layer`'s cell, float64."""
    return [np.zeros((batch, size)) for size in layer.cell.state_size]


def num_states(layer):
    return len(layer.cell.state_size)


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


# ------------------------------------------------- stand-in data of the pages

# The Jena climate file's columns after "Date Time", in its order.
JENA_COLUMNS = (
    "p (mbar)",
    "T (degC)",
    "Tpot (K)",
    "Tdew (degC)",
    "rh (%)",
    "VPmax (mbar)",
    "VPact (mbar)",
    "VPdef (mbar)",
    "sh (g/kg)",
    "H2OC (mmol/mol)",
    "rho (g/m**3)",
    "wv (m/s)",
    "max. wv (m/s)",
    "wd (deg)",
)


def write_acl_imdb(root, per_class, rng, words=12):
    """A tiny aclImdb tree in the real archive's layout (`{train,test}/
    {neg,pos}/ID_RATING.txt`, ratings 1-4 and 7-10, HTML line breaks, an
    unlabelled `train/unsup` beside) whose label is readable from one word
    per review: `words` filler words and "awful" or "wonderful"."""
    root = pathlib.Path(root)
    filler = "the a movie film plot actor scene story it was and".split()
    for split in ("train", "test"):
        for name, word, lowest in (("neg", "awful", 1), ("pos", "wonderful", 7)):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(per_class):
                review = list(rng.choice(filler, size=words)) + [word]
                rng.shuffle(review)
                path = folder / f"{i}_{lowest + i % 4}.txt"
                path.write_text(" ".join(review) + "<br /><br />")
    # The real archive also holds unlabelled reviews, which must be ignored.
    (root / "train" / "unsup").mkdir()
    (root / "train" / "unsup" / "0_0.txt").write_text("wonderful awful")


def write_jena_csv(path, rows=3000, seed=0):
    """A stand-in for `jena_climate_2009_2016.csv`: its header (quoted) and
    its 14 numeric columns, a row every 10 minutes from "01.01.2009 00:10:00"
    (day.month.year), with a daily temperature cycle, a drifting anomaly and
    the other columns following them roughly as the real ones do."""
    rng = np.random.default_rng(seed)
    hours = np.arange(1, rows + 1) / 6
    anomaly = np.cumsum(rng.normal(scale=0.05, size=rows))
    t = 2 + 5 * np.sin(2 * np.pi * (hours - 9) / 24) + anomaly
    p = 990 - 0.8 * anomaly + rng.normal(scale=0.2, size=rows)
    rh = np.clip(80 - 10 * np.sin(2 * np.pi * (hours - 9) / 24), 20, 100)
    vp_max = 6.1078 * np.exp(17.27 * t / (t + 237.3))
    vp_act = vp_max * rh / 100
    tdew = 237.3 * np.log(vp_act / 6.1078) / (17.27 - np.log(vp_act / 6.1078))
    wv = np.abs(rng.normal(2, 1, size=rows))
    columns = [
        p,
        t,
        (t + 273.15) * (1000 / p) ** 0.286,
        tdew,
        rh,
        vp_max,
        vp_act,
        vp_max - vp_act,
        622 * vp_act / (p - vp_act),
        1000 * vp_act / p,
        1e5 * p / (287.05 * (t + 273.15)),
        wv,
        wv + np.abs(rng.normal(1, 0.5, size=rows)),
        rng.uniform(0, 360, size=rows),
    ]
    start = datetime.datetime(2009, 1, 1, 0, 10)
    lines = [",".join(f'"{name}"' for name in ("Date Time", *JENA_COLUMNS))]
    for i in range(rows):
        when = start + datetime.timedelta(minutes=10 * i)
        values = ",".join(f"{column[i]:.2f}" for column in columns)
        lines.append(f"{when:%d.%m.%Y %H:%M:%S},{values}")
    pathlib.Path(path).write_text("\n".join(lines) + "\n")


def write_standin_data(directory):
    """The data files that the documentation's command lines name, as tiny
    stand-ins of the real formats, in `directory`: `aclImdb/` (the IMDB
    archive unpacked: 12 reviews per split and class) and `jena.csv` (3000
    rows of the Jena climate file's layout, about 21 days)."""
    directory = pathlib.Path(directory)
    write_acl_imdb(directory / "aclImdb", 12, np.random.default_rng(0), words=40)
    write_jena_csv(directory / "jena.csv")
    return directory


def tensorflow_only(test):
    """An export test: TensorFlow only, and not in the quick tier."""
    needs_tensorflow = pytest.mark.skipif(
        keras.backend.backend() != "tensorflow",
        reason="export writes TensorFlow graphs",
    )
    return pytest.mark.slow(needs_tensorflow(test))


def run_litert(content, inputs):
    """The outputs of a TFLite sequence model, by `keras_gates.export.litert`."""
    from keras_gates.export import litert

    return litert.run_sequence_model(content, inputs)


def padded_token_rows(batch, steps, seed=0):
    """Token ids 1..19 with right, left and inner padding (0) in turn."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, 20, (batch, steps)).astype("int32")
    for row in range(batch):
        kind = row % 3
        if kind == 0:
            tokens[row, steps - steps // 3 :] = 0
        elif kind == 1:
            tokens[row, : steps // 3] = 0
        else:
            tokens[row, steps // 3 : steps // 3 + 2] = 0
    return tokens


def encoder_decoder(units, make_layer):
    """Tokens (masked) into `make_layer()`, called with `initial_state` from
    two more inputs of the model: `[tokens, h0, c0]`."""
    tokens = keras.Input((None,), dtype="int32")
    h0, c0 = keras.Input((units,)), keras.Input((units,))
    embedded = keras.layers.Embedding(20, 3, mask_zero=True)(tokens)
    outputs = make_layer()(embedded, initial_state=[h0, c0])
    model = keras.Model([tokens, h0, c0], outputs)
    randomize(model)
    return model
