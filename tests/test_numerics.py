"""Every layer against the independent NumPy references of tests/reference.py.

Backend-independent: this module also runs with KERAS_BACKEND=jax.
"""

import keras
import numpy as np
import pytest

import keras_gates as kg
from tests import reference as ref
from tests.helpers import CASES
from tests.helpers import MAIN_CASES
from tests.helpers import UNITS
from tests.helpers import built_layer
from tests.helpers import has_recurrent_dropout
from tests.helpers import num_states
from tests.helpers import random_states
from tests.helpers import randomize
from tests.helpers import reference_step
from tests.helpers import to_numpy
from tests.helpers import zero_states

pytestmark = pytest.mark.numerics

BATCH, STEPS = 5, 7
ATOL = 1e-5


def make_mask():
    mask = np.ones((BATCH, STEPS), bool)
    mask[1, -3:] = False  # right padding
    mask[2, :2] = False  # left padding
    mask[3, 3] = False  # a gap
    return mask


def make_inputs(input_dim, seed=1, cell=None):
    """Inputs, and initial states of `cell` (of an LSTM without one)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, STEPS, input_dim)).astype("float32")
    cell = cell or keras.layers.LSTMCell(UNITS)
    return x, random_states(rng, BATCH, cell)


def build(case, **overrides):
    defaults = {"return_sequences": True, "return_state": True}
    return built_layer(case, STEPS, **{**defaults, **overrides})


def weight_twin(layer, input_shape, **overrides):
    """A layer of the same class and config, but `overrides`, and the same weights."""
    twin = type(layer).from_config({**layer.get_config(), **overrides})
    twin.build(input_shape)
    twin.set_weights(layer.get_weights())
    return twin


# Masks, initial states and go_backwards in four runs that hold every pair of
# the three options' values (a pairwise design) and all three together, where
# their interplay is hardest; each option alone runs in the other tests too.
PAIRWISE = [
    pytest.param(True, True, True, id="mask-init_state-backward"),
    pytest.param(True, False, False, id="mask-zero_state-forward"),
    pytest.param(False, True, False, id="nomask-init_state-forward"),
    pytest.param(False, False, True, id="nomask-zero_state-backward"),
]


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("masked, initial, backwards", PAIRWISE)
def test_matches_reference(case, masked, initial, backwards):
    layer, input_dim = build(case, go_backwards=backwards)
    x, states = make_inputs(input_dim, cell=layer.cell)
    mask = make_mask() if masked else None
    out, *final = layer(x, initial_state=states if initial else None, mask=mask)
    init = states if initial else [np.zeros((BATCH, n)) for n in layer.cell.state_size]
    want_out, want_final = ref.run_rnn(
        reference_step(layer.cell), x, init, mask=mask, go_backwards=backwards
    )
    np.testing.assert_allclose(to_numpy(out), want_out, atol=ATOL, rtol=0)
    assert len(final) == num_states(layer)
    for got, want in zip(final, want_final, strict=True):
        np.testing.assert_allclose(to_numpy(got), want, atol=ATOL, rtol=0)


@pytest.mark.parametrize("case", MAIN_CASES)
def test_zero_output_for_mask(case):
    layer, input_dim = build(case, zero_output_for_mask=True)
    x, _ = make_inputs(input_dim)
    mask = make_mask()
    out, *final = layer(x, mask=mask)
    init = zero_states(layer, BATCH)
    want_out, want_final = ref.run_rnn(
        reference_step(layer.cell), x, init, mask=mask, zero_output_for_mask=True
    )
    np.testing.assert_allclose(to_numpy(out), want_out, atol=ATOL, rtol=0)
    assert np.all(to_numpy(out)[~mask] == 0.0)
    for got, want in zip(final, want_final, strict=True):
        np.testing.assert_allclose(to_numpy(got), want, atol=ATOL, rtol=0)


@pytest.mark.parametrize("case", MAIN_CASES)
def test_left_and_right_padding_keep_state(case):
    """Padded steps, whatever their values, leave the final state unchanged."""
    layer, input_dim = build(case)
    rng = np.random.default_rng(3)
    core = rng.normal(size=(1, 4, input_dim)).astype("float32")
    garbage = rng.normal(scale=5.0, size=(1, 3, input_dim)).astype("float32")
    _, *want = layer(core)
    for padded, mask in [
        (np.concatenate([garbage, core], 1), [[False] * 3 + [True] * 4]),
        (np.concatenate([core, garbage], 1), [[True] * 4 + [False] * 3]),
    ]:
        _, *got = layer(padded, mask=np.array(mask))
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(to_numpy(g), to_numpy(w), atol=1e-6)


@pytest.mark.parametrize("case", MAIN_CASES)
def test_unroll_matches_loop(case):
    layer, input_dim = build(case)
    x, _ = make_inputs(input_dim)
    unrolled = weight_twin(layer, x.shape, unroll=True)
    mask = make_mask()
    for a, b in zip(layer(x, mask=mask), unrolled(x, mask=mask), strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-6)


@pytest.mark.parametrize("peepholes", [None, ["input", "forget", "output"]])
def test_peephole_lstm_with_zero_peepholes_is_keras_lstm(peepholes):
    lstm = keras.layers.LSTM(UNITS, return_sequences=True, return_state=True)
    peep = kg.PeepholeLSTM(
        UNITS, peepholes=peepholes, return_sequences=True, return_state=True
    )
    x, _ = make_inputs(3)
    lstm.build(x.shape)
    peep.build(x.shape)
    randomize(lstm, seed=5)
    cell = peep.cell
    cell.kernel.assign(lstm.cell.kernel)
    cell.recurrent_kernel.assign(lstm.cell.recurrent_kernel)
    cell.bias.assign(lstm.cell.bias)
    for gate in cell.peepholes:
        assert not np.any(to_numpy(getattr(cell, f"{gate}_peephole")))
    mask = make_mask()
    for a, b in zip(lstm(x, mask=mask), peep(x, mask=mask), strict=True):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=1e-6, rtol=0)


@pytest.mark.parametrize("wrapped", [False, True], ids=["LSTM", "RNN(LSTMCell)"])
def test_peephole_lstm_from_keras_lstm(wrapped):
    """One call builds a PeepholeLSTM with the LSTM's arguments and weights:
    the same outputs, then peepholes free to train."""
    options = {"return_sequences": True, "go_backwards": True, "dropout": 0.1}
    if wrapped:
        lstm = keras.layers.RNN(
            keras.layers.LSTMCell(UNITS, dropout=0.1, use_bias=False),
            return_sequences=True,
            go_backwards=True,
        )
    else:
        lstm = keras.layers.LSTM(UNITS, recurrent_activation="hard_sigmoid", **options)
    x, _ = make_inputs(3)
    lstm.build(x.shape)
    randomize(lstm, seed=7)
    peep = kg.PeepholeLSTM.from_keras_lstm(lstm, peepholes=["forget"], name="warm")
    assert peep.name == "warm" and peep.peepholes == ("forget",)
    assert peep.return_sequences and peep.go_backwards and peep.dropout == 0.1
    assert peep.use_bias is not wrapped
    mask = make_mask()
    np.testing.assert_allclose(
        to_numpy(peep(x, mask=mask)), to_numpy(lstm(x, mask=mask)), atol=1e-6, rtol=0
    )
    with pytest.raises(ValueError, match="not built"):
        kg.PeepholeLSTM.from_keras_lstm(keras.layers.LSTM(UNITS))
    with pytest.raises(TypeError, match="keras.layers.LSTM"):
        kg.PeepholeLSTM.from_keras_lstm(keras.layers.GRU(UNITS))


@pytest.mark.parametrize("reset", [True, False])
def test_minimal_gru_gate_weights_the_new_candidate(reset):
    """f = 1 rewrites the state with the candidate; f = 0 keeps the old state.

    This pins the convention of docs/contract.md §3, the opposite of Keras' GRU.
    """
    layer = kg.MinimalGRU(UNITS, reset=reset, return_state=True)
    x, states = make_inputs(3)
    layer.build(x.shape)
    randomize(layer)
    cell = layer.cell
    bias = to_numpy(cell.bias)

    bias[:UNITS] = -60.0  # f = σ(-60) ≈ 0: keep
    cell.bias.assign(bias)
    _, h = layer(x, initial_state=[states[0]])
    np.testing.assert_allclose(to_numpy(h), states[0], atol=1e-6)

    bias[:UNITS] = 60.0  # f ≈ 1: h_t = candidate of the last step
    cell.bias.assign(bias)
    x1 = x[:, :1]
    _, h = layer(x1, initial_state=[states[0]])
    k_h = to_numpy(cell.kernel)[:, UNITS:]
    r_h = to_numpy(cell.recurrent_kernel)[:, UNITS:]
    # With f = 1 the reset (f ⊙ h) and the plain form see the same h.
    want = np.tanh(x1[:, 0] @ k_h + states[0] @ r_h + bias[UNITS:])
    np.testing.assert_allclose(to_numpy(h), want, atol=1e-5)


@pytest.mark.parametrize("case", MAIN_CASES)
def test_stateful_chunks_equal_one_pass(case):
    full, input_dim = build(case, return_state=False)
    x, _ = make_inputs(input_dim)
    stateful = weight_twin(full, x.shape, stateful=True)
    want = to_numpy(full(x))
    chunks = [to_numpy(stateful(x[:, t : t + 3])) for t in range(0, STEPS, 3)]
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), want, atol=ATOL)
    stateful.reset_state()
    for state in stateful.states:
        assert not np.any(to_numpy(state))
    np.testing.assert_allclose(to_numpy(stateful(x[:, :3])), want[:, :3], atol=ATOL)


@pytest.mark.parametrize("case", sorted(CASES))
def test_stateful_masked_chunks_equal_one_pass(case):
    """A chunk whose first steps are masked repeats the last output of the
    chunk before, as one pass over the whole sequence does."""
    full, input_dim = build(case, return_state=False)
    x, _ = make_inputs(input_dim)
    mask = make_mask()
    mask[:, 3:5] = False  # the second chunk starts with two masked steps
    mask[4, :] = False  # a row with no valid step at all
    stateful = weight_twin(full, x.shape, stateful=True)
    want = to_numpy(full(x, mask=mask))
    chunks = [
        to_numpy(stateful(x[:, t : t + 3], mask=mask[:, t : t + 3]))
        for t in range(0, STEPS, 3)
    ]
    np.testing.assert_allclose(np.concatenate(chunks, axis=1), want, atol=ATOL)
    # After reset_state, a masked first step outputs zeros again.
    stateful.reset_state()
    got = to_numpy(stateful(x[:, 3:6], mask=mask[:, 3:6]))
    np.testing.assert_array_equal(got[:, 0], 0.0)


@pytest.mark.parametrize("case", MAIN_CASES)
def test_stacked_layers_match_composed_references(case):
    cls, kwargs, input_dim = CASES[case]
    x, _ = make_inputs(input_dim)
    first = cls(UNITS, **kwargs, return_sequences=True)
    second = cls(UNITS, **kwargs)
    model = keras.Sequential([keras.Input((STEPS, input_dim)), first, second])
    randomize(model)
    zeros = zero_states(first, BATCH)
    hidden, _ = ref.run_rnn(reference_step(first.cell), x, zeros)
    want, _ = ref.run_rnn(reference_step(second.cell), hidden, zeros)
    np.testing.assert_allclose(to_numpy(model(x)), want[:, -1], atol=ATOL)


@pytest.mark.parametrize("case", MAIN_CASES)
@pytest.mark.parametrize("merge_mode", ["concat", "sum"])
def test_bidirectional_matches_reference(case, merge_mode):
    cls, kwargs, input_dim = CASES[case]
    x, _ = make_inputs(input_dim)
    mask = make_mask()
    bi = keras.layers.Bidirectional(
        cls(UNITS, **kwargs, return_sequences=True), merge_mode=merge_mode
    )
    bi.build(x.shape)
    randomize(bi)
    zeros = zero_states(bi.forward_layer, BATCH)
    # Keras' Bidirectional forces zero outputs at masked steps when it returns
    # sequences, whatever the wrapped layer's zero_output_for_mask.
    common = {"mask": mask, "zero_output_for_mask": True}
    fwd, _ = ref.run_rnn(reference_step(bi.forward_layer.cell), x, zeros, **common)
    bwd, _ = ref.run_rnn(
        reference_step(bi.backward_layer.cell), x, zeros, go_backwards=True, **common
    )
    bwd = bwd[:, ::-1]  # Bidirectional re-aligns the backward outputs in time
    want = np.concatenate([fwd, bwd], -1) if merge_mode == "concat" else fwd + bwd
    np.testing.assert_allclose(to_numpy(bi(x, mask=mask)), want, atol=ATOL)


@pytest.mark.parametrize("case", MAIN_CASES)
def test_jit_compile_gives_the_same_numbers(case):
    cls, kwargs, input_dim = CASES[case]
    x, _ = make_inputs(input_dim)
    x[1, -2:] = 0.0
    model = keras.Sequential(
        [
            keras.Input((STEPS, input_dim)),
            keras.layers.Masking(0.0),
            cls(UNITS, **kwargs, return_sequences=True),
        ]
    )
    randomize(model)
    eager = to_numpy(model(x))
    model.compile(jit_compile=True)
    compiled = model.predict(x, verbose=0)
    np.testing.assert_allclose(compiled, eager, atol=1e-5, rtol=0)


# The mLSTM keeps its memory in float32 under any policy (as the official
# kernels do): tests/test_mlstm.py checks its mixed precision.
@pytest.mark.parametrize(
    "case",
    [
        *(case for case in MAIN_CASES if case != "mlstm"),
        "mingru_steps",
        "lstm_fgr_nog",
        "lstm_nig_niaf_hoisted",
    ],
)
@pytest.mark.parametrize(
    "policy, atol", [("mixed_float16", 1e-2), ("mixed_bfloat16", 6e-2)]
)
def test_mixed_precision_close_to_float32(case, policy, atol, monkeypatch):
    """Every matrix product and every gate runs in the half type, the
    weights stay float32, and the outputs stay close to float32's."""
    half_dtype = policy.split("_")[1]
    full, input_dim = build(case, return_state=False)
    x, _ = make_inputs(input_dim)
    half = weight_twin(full, x.shape, dtype=policy)
    seen = []
    matmul = keras.ops.matmul
    # The Clockwork RNN has no gate: its nonlinearity is the candidate's.
    clockwork = isinstance(half.cell, kg.ClockworkRNNCell)
    nonlinearity = "activation" if clockwork else "recurrent_activation"
    gate = getattr(half.cell, nonlinearity)

    def spy_matmul(a, b):
        seen.extend(
            ("matmul", keras.backend.standardize_dtype(t.dtype)) for t in (a, b)
        )
        return matmul(a, b)

    def spy_gate(z):
        seen.append(("gate", keras.backend.standardize_dtype(z.dtype)))
        return gate(z)

    with monkeypatch.context() as patch:
        patch.setattr(keras.ops, "matmul", spy_matmul)
        patch.setattr(half.cell, nonlinearity, spy_gate)
        out = half(x)
    assert {kind for kind, _ in seen} == {"matmul", "gate"}
    assert {dtype for _, dtype in seen} == {half_dtype}, seen
    assert keras.backend.standardize_dtype(out.dtype) == half_dtype
    assert all(
        keras.backend.standardize_dtype(w.dtype) == "float32" for w in half.weights
    )
    got = to_numpy(keras.ops.cast(out, "float32"))
    np.testing.assert_allclose(got, to_numpy(full(x)), atol=atol, rtol=0)


def _dropout_masks(seed, rate, recurrent_rate, input_dim):
    """The masks Keras draws for one sequence: input mask first, then recurrent."""
    gen = keras.random.SeedGenerator(seed)
    x_mask = keras.random.dropout(keras.ops.ones((BATCH, input_dim)), rate, seed=gen)
    s_mask = keras.random.dropout(
        keras.ops.ones((BATCH, UNITS)), recurrent_rate, seed=gen
    )
    return to_numpy(x_mask).astype(np.float64), to_numpy(s_mask).astype(np.float64)


def _dropout_kwargs(case, seed):
    kwargs = {"dropout": 0.4, "seed": seed}
    if has_recurrent_dropout(case):
        kwargs["recurrent_dropout"] = 0.3
    return kwargs


@pytest.mark.parametrize(
    "case", MAIN_CASES + ["sru_identity_tanh", "mgu_update_only", "mingru_steps"]
)
def test_dropout_is_one_mask_per_sequence(case):
    """In training, each sequence uses one input mask and one recurrent mask for
    all its steps, drawn from `seed`, exactly where docs/contract.md applies them."""
    layer, input_dim = build(case, **_dropout_kwargs(case, 11))
    x, _ = make_inputs(input_dim)
    x_mask, s_mask = _dropout_masks(11, 0.4, 0.3, input_dim)
    if not has_recurrent_dropout(case):
        s_mask = None
    assert 0 < x_mask.mean() and np.any(x_mask == 0)
    out, *final = layer(x, training=True)
    zeros = zero_states(layer, BATCH)
    step = reference_step(layer.cell, x_mask=x_mask, state_mask=s_mask)
    want_out, want_final = ref.run_rnn(step, x, zeros)
    np.testing.assert_allclose(to_numpy(out), want_out, atol=ATOL, rtol=0)
    for got, want in zip(final, want_final, strict=True):
        np.testing.assert_allclose(to_numpy(got), want, atol=ATOL, rtol=0)


@pytest.mark.parametrize("case", MAIN_CASES)
def test_dropout_only_in_training_and_reproducible(case):
    layer, input_dim = build(case, **_dropout_kwargs(case, 7))
    x, _ = make_inputs(input_dim)
    no_dropout = {k: 0.0 for k in _dropout_kwargs(case, 7) if k != "seed"}
    plain = weight_twin(layer, x.shape, **no_dropout)
    inference = to_numpy(layer(x, training=False)[0])
    np.testing.assert_allclose(inference, to_numpy(plain(x)[0]), atol=1e-6)

    first = to_numpy(layer(x, training=True)[0])
    second = to_numpy(layer(x, training=True)[0])
    assert not np.allclose(first, inference), "dropout had no effect in training"
    assert not np.allclose(first, second), "the same mask was reused across calls"

    twin = weight_twin(layer, x.shape)  # same seed
    twin(x, training=False)  # draws (and discards) masks, like `layer` did
    np.testing.assert_array_equal(to_numpy(twin(x, training=True)[0]), first)


@pytest.mark.parametrize("case", ["peephole", "sru_identity_tanh", "mingru_steps"])
@pytest.mark.parametrize("unroll", [False, True])
def test_dropout_with_mask_backwards_and_unroll(case, unroll):
    """The step loop reads the dropped and the raw sequence together (the
    SRU's identity highway takes the raw one): with padding, go_backwards and
    unroll it gives the reference's numbers under the same dropout masks."""
    layer, input_dim = build(case, go_backwards=True, **_dropout_kwargs(case, 5))
    layer = weight_twin(layer, (BATCH, STEPS, input_dim), unroll=unroll)
    x, _ = make_inputs(input_dim)
    mask = make_mask()
    x_mask, s_mask = _dropout_masks(5, 0.4, 0.3, input_dim)
    if not has_recurrent_dropout(case):
        s_mask = None
    out, *final = layer(x, mask=mask, training=True)
    zeros = zero_states(layer, BATCH)
    step = reference_step(layer.cell, x_mask=x_mask, state_mask=s_mask)
    want_out, want_final = ref.run_rnn(step, x, zeros, mask=mask, go_backwards=True)
    np.testing.assert_allclose(to_numpy(out), want_out, atol=ATOL, rtol=0)
    for got, want in zip(final, want_final, strict=True):
        np.testing.assert_allclose(to_numpy(got), want, atol=ATOL, rtol=0)


@pytest.mark.parametrize("log_space", [False, True], ids=["linear", "log_space"])
def test_min_gru_scan_on_a_long_sequence(log_space):
    """3,000 steps whose decays multiply far below float32's smallest
    number: the scan (linear or log space) stays at the float64 step
    reference, masked steps included."""
    layer = kg.MinGRU(UNITS, return_sequences=True, log_space=log_space, fast_path=True)
    layer.build((None, 3000, 3))
    randomize(layer, scale=1.0)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3000, 3)).astype("float32")
    mask = rng.random((2, 3000)) > 0.1
    want, _ = ref.run_rnn(
        reference_step(layer.cell), x, [np.zeros((2, UNITS))], mask=mask
    )
    got = to_numpy(layer(x, mask=mask))
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
