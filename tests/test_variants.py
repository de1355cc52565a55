"""Greff et al.'s eight LSTM variants: seven options of `PeepholeLSTM` and
`CoupledLSTM` (CIFG, tested with its own layer). Each variant against
`tests/reference.py`'s step written from the paper's equations, with masks,
initial states and go_backwards, on every backend. The full layer matrix runs
three combinations through tests/helpers.py's CASES; the export of every
variant is in tests/test_export.py."""

import keras
import numpy as np
import pytest

import keras_gates as kg
from tests import reference as ref
from tests.helpers import cell_weights
from tests.helpers import randomize
from tests.helpers import to_numpy
from tests.test_numerics import BATCH
from tests.test_numerics import PAIRWISE
from tests.test_numerics import STEPS
from tests.test_numerics import make_mask

pytestmark = pytest.mark.numerics

# Greff et al. (2017), section 3, as arguments of PeepholeLSTM (the paper's
# vanilla LSTM has all three peepholes, the layer's default).
VARIANTS = {
    "vanilla": {},
    "NIG": {"input_gate": False},
    "NFG": {"forget_gate": False},
    "NOG": {"output_gate": False},
    "NIAF": {"input_activation": "linear"},
    "NOAF": {"output_activation": "linear"},
    "NP": {"peepholes": None},
    "FGR": {"full_gate_recurrence": True},
}
UNITS, INPUT_DIM = 4, 3
ATOL = 1e-5


def reference_options(kwargs):
    """The reference's arguments for a variant, read from its definition
    (not from the layer)."""
    identity = lambda x: x  # noqa: E731
    return {
        "gates": tuple(
            g for g in ("input", "forget", "output") if kwargs.get(f"{g}_gate", True)
        ),
        "input_activation": identity if "input_activation" in kwargs else np.tanh,
        "output_activation": identity if "output_activation" in kwargs else np.tanh,
        "full_gate_recurrence": kwargs.get("full_gate_recurrence", False),
    }


def built(kwargs, **overrides):
    layer = kg.PeepholeLSTM(
        UNITS, return_sequences=True, return_state=True, **kwargs, **overrides
    )
    layer.build((None, STEPS, INPUT_DIM))
    randomize(layer)
    return layer


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("masked, initial, backwards", PAIRWISE)
def test_each_variant_is_the_papers(variant, masked, initial, backwards):
    kwargs = VARIANTS[variant]
    layer = built(kwargs, go_backwards=backwards)
    options = reference_options(kwargs)
    sizes = [UNITS, UNITS] + [len(options["gates"]) * UNITS] * (variant == "FGR")
    assert list(layer.cell.state_size) == sizes
    rng = np.random.default_rng(3)
    x = rng.normal(size=(BATCH, STEPS, INPUT_DIM)).astype("float32")
    init = [rng.uniform(0, 1, (BATCH, n)).astype("float32") for n in sizes]
    mask = make_mask() if masked else None
    out, *final = layer(x, initial_state=init if initial else None, mask=mask)
    w = cell_weights(layer.cell)

    def step(x_t, states):
        return ref.lstm_variant_step(x_t, states, w, **options)

    start = init if initial else [np.zeros((BATCH, n)) for n in sizes]
    want, want_final = ref.run_rnn(step, x, start, mask=mask, go_backwards=backwards)
    np.testing.assert_allclose(to_numpy(out), want, atol=ATOL, rtol=0)
    for got, expected in zip(final, want_final, strict=True):
        np.testing.assert_allclose(to_numpy(got), expected, atol=ATOL, rtol=0)


def test_parameter_counts_follow_the_paper():
    """An absent gate removes its block (input, recurrent, bias) and its
    peephole; FGR adds nine units x units matrices; the activations and
    NP change nothing but the peepholes."""
    n, m = INPUT_DIM, UNITS
    block = n * m + m * m + m
    vanilla = 4 * block + 3 * m
    want = {
        "vanilla": vanilla,
        "NIG": vanilla - block - m,
        "NFG": vanilla - block - m,
        "NOG": vanilla - block - m,
        "NIAF": vanilla,
        "NOAF": vanilla,
        "NP": vanilla - 3 * m,
        "FGR": vanilla + 9 * m * m,
    }
    got = {name: built(kwargs).count_params() for name, kwargs in VARIANTS.items()}
    assert got == want


def test_absent_gates_are_not_reported_and_fgr_carries_the_gates():
    layer = built({"input_gate": False, "full_gate_recurrence": True})
    assert layer.cell.GATES == ("forget", "output")
    assert tuple(layer.cell.gate_recurrent_kernel.shape) == (2 * UNITS, 2 * UNITS)
    x = np.random.default_rng(0).normal(size=(2, STEPS, INPUT_DIM)).astype("float32")
    gates = kg.inspect.gate_activations(layer, x)
    assert sorted(gates) == ["forget", "output"]
    *_, last_gates = layer(x)
    # The third state is the last step's [forget, output] gates.
    want = np.concatenate([gates["forget"][:, -1], gates["output"][:, -1]], axis=-1)
    np.testing.assert_allclose(to_numpy(last_gates), want, atol=ATOL)


def test_saved_and_reloaded_with_every_option(tmp_path):
    kwargs = {
        "input_gate": False,
        "output_activation": "linear",
        "full_gate_recurrence": True,
    }
    model = keras.Sequential(
        [keras.Input((STEPS, INPUT_DIM)), kg.PeepholeLSTM(UNITS, **kwargs)]
    )
    randomize(model.layers[0])
    path = str(tmp_path / "variant.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(1).normal(size=(2, STEPS, INPUT_DIM)).astype("float32")
    np.testing.assert_allclose(to_numpy(loaded(x)), to_numpy(model(x)), atol=0)
    config = loaded.layers[0].get_config()
    assert config["input_gate"] is False and config["input_activation"] is None
    assert config["full_gate_recurrence"] is True


def test_chrono_on_the_variants():
    """Without an output gate chrono still sets b_f = log u and b_i = -log u;
    without the input or the forget gate there is no such pair."""
    layer = kg.PeepholeLSTM(UNITS, output_gate=False, chrono_init=20, seed=1)
    layer.build((None, STEPS, INPUT_DIM))
    b_i, b_f, b_c = np.split(to_numpy(layer.cell.bias), 3)
    np.testing.assert_allclose(b_i, -b_f, atol=1e-6)
    assert (b_f >= 0).all() and (b_f <= np.log(19) + 1e-5).all()
    np.testing.assert_array_equal(b_c, 0.0)
    for gate in ("input", "forget"):
        with pytest.raises(ValueError, match=f"{gate}_gate=False"):
            kg.PeepholeLSTM(UNITS, chrono_init=20, **{f"{gate}_gate": False})


def test_unit_forget_bias_finds_the_forget_block():
    layer = kg.PeepholeLSTM(UNITS, input_gate=False)
    layer.build((None, STEPS, INPUT_DIM))
    b_f, b_c, b_o = np.split(to_numpy(layer.cell.bias), 3)
    np.testing.assert_array_equal(b_f, 1.0)
    np.testing.assert_array_equal(b_c, 0.0)
    layer = kg.PeepholeLSTM(UNITS, forget_gate=False)
    layer.build((None, STEPS, INPUT_DIM))
    np.testing.assert_array_equal(to_numpy(layer.cell.bias), 0.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"input_gate": False, "peepholes": ["input", "forget"]},
            "`input_gate=False` removes that gate",
        ),
        (
            {
                "input_gate": False,
                "forget_gate": False,
                "output_gate": False,
                "full_gate_recurrence": True,
            },
            "has none",
        ),
        (
            # An explicit list naming an absent gate, even all three.
            {"input_gate": False, "peepholes": ["input", "forget", "output"]},
            "`input_gate=False` removes that gate",
        ),
        ({"forget_gate": "no"}, "forget_gate"),
        ({"full_gate_recurrence": 1}, "full_gate_recurrence"),
        ({"input_activation": "no_such_activation"}, "input_activation"),
    ],
)
def test_bad_variant_arguments_are_refused(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        kg.PeepholeLSTM(UNITS, **kwargs)


def test_from_keras_lstm_refuses_a_variant():
    lstm = keras.layers.LSTM(UNITS)
    lstm.build((None, STEPS, INPUT_DIM))
    with pytest.raises(ValueError, match="output_gate=False"):
        kg.PeepholeLSTM.from_keras_lstm(lstm, output_gate=False)
    with pytest.raises(ValueError, match="input_activation='linear'"):
        kg.PeepholeLSTM.from_keras_lstm(lstm, input_activation="linear")
    # The activation it has anyway is no variant.
    kg.PeepholeLSTM.from_keras_lstm(lstm, output_activation="tanh")
    warm = kg.PeepholeLSTM.from_keras_lstm(lstm, peepholes=None)  # NP: as Keras
    x = np.random.default_rng(2).normal(size=(2, STEPS, INPUT_DIM)).astype("float32")
    np.testing.assert_allclose(to_numpy(warm(x)), to_numpy(lstm(x)), atol=ATOL)


def test_a_variant_layer_reused_on_other_batches_and_lengths():
    """One built FGR + NOG layer called on batch 5 x 7 steps, then on 2 x 3
    and 1 x 9 behind a mask: each call against the reference."""
    kwargs = {"full_gate_recurrence": True, "output_gate": False}
    layer = built(kwargs)
    options = reference_options(kwargs)
    w = cell_weights(layer.cell)
    rng = np.random.default_rng(7)
    for batch, steps in ((BATCH, STEPS), (2, 3), (1, 9)):
        x = rng.normal(size=(batch, steps, INPUT_DIM)).astype("float32")
        mask = np.ones((batch, steps), bool)
        mask[0, :1] = False  # left padding
        out, *_ = layer(x, mask=mask)
        start = [np.zeros((batch, n)) for n in layer.cell.state_size]
        want, _ = ref.run_rnn(
            lambda x_t, states: ref.lstm_variant_step(x_t, states, w, **options),
            x,
            start,
            mask=mask,
        )
        np.testing.assert_allclose(to_numpy(out), want, atol=ATOL, rtol=0)
