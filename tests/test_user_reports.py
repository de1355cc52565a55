"""What a demanding new user hit (the third round of reports), each written
from the user's side: the call they made and what they should get, the
right numbers or one clear error. The export tests need TensorFlow; those
marked `numerics` run on JAX too."""

import os
import textwrap

import keras
import numpy as np
import pytest

import keras_gates as kg
from keras_gates import inspect
from keras_gates.initializers import Chrono
from keras_gates.initializers import timescales
from tests.helpers import randomize
from tests.helpers import to_numpy

_needs_tensorflow = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="export writes TensorFlow graphs",
)


def tensorflow_only(test):
    """An export test: TensorFlow only, and not in the quick tier."""
    return pytest.mark.slow(_needs_tensorflow(test))


def run_tflite(content, inputs):
    from keras_gates.export import litert

    return litert.run_sequence_model(content, inputs)


def padded_tokens(batch, steps, seed=0):
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


# 1. TFLite honours zero_output_for_mask -----------------------------------


def masked_text_model(make_recurrent):
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(20, 6, mask_zero=True)(tokens)
    x = make_recurrent()(x)
    scores = keras.layers.Dense(2, name="scores")(x)
    model = keras.Model(tokens, scores)
    randomize(model)
    return model


@tensorflow_only
@pytest.mark.parametrize(
    "make_recurrent",
    [
        # Bidirectional switches zero_output_for_mask on when it returns
        # sequences, merge_mode=None included.
        lambda: keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True)),
        lambda: keras.layers.Bidirectional(
            kg.PeepholeLSTM(4, return_sequences=True), merge_mode="sum"
        ),
        lambda: kg.CoupledLSTM(
            4, return_sequences=True, zero_output_for_mask=True, go_backwards=True
        ),
        # The last output too is zero when the last step is padding.
        lambda: kg.PeepholeLSTM(4, zero_output_for_mask=True),
    ],
    ids=["bidirectional_keras_lstm", "bidirectional_peephole_sum", "coupled", "last"],
)
def test_fused_tflite_outputs_zeros_at_padding_as_keras(make_recurrent):
    from keras_gates import export

    model = masked_text_model(make_recurrent)
    content = export.to_tflite(model, batch_size=3)  # fused="auto"
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in export.op_names(content)
    tokens = padded_tokens(3, 9)
    want = to_numpy(model(tokens))
    got = run_tflite(content, {"tokens": tokens})["scores"]
    np.testing.assert_allclose(got, want, atol=1e-5)


@tensorflow_only
def test_cli_parity_feeds_padding_and_catches_a_masking_mistake(
    tmp_path, monkeypatch, capsys
):
    """The CLI's parity inputs hold padding when the model masks, so an
    export that gets padded steps wrong fails its check (exit 1)."""
    from keras_gates import cli
    from keras_gates.export import fused_lstm

    model = masked_text_model(
        lambda: keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True))
    )
    model.save(tmp_path / "text.keras")
    command = ["export", str(tmp_path / "text.keras"), "--tflite"]
    assert cli.main([*command, str(tmp_path / "a.tflite")]) == 0
    out = capsys.readouterr().out
    for padding in ("right", "left", "inner"):  # batch 1: each in turn
        assert f"padded ({padding})" in out, out

    # The mistake of item 1, put back: padded steps repeat the last output.
    run_fused = fused_lstm._run_fused

    def ignoring_zero_output(layer, *args, **kwargs):
        kept, layer.zero_output_for_mask = layer.zero_output_for_mask, False
        try:
            return run_fused(layer, *args, **kwargs)
        finally:
            layer.zero_output_for_mask = kept

    monkeypatch.setattr(fused_lstm, "_run_fused", ignoring_zero_output)
    assert cli.main([*command, str(tmp_path / "b.tflite")]) == 1
    assert "FAILED" in capsys.readouterr().out


# 2. inspect reads the initial_state a model feeds --------------------------


def encoder_decoder(units, make_layer):
    tokens = keras.Input((None,), dtype="int32")
    h0, c0 = keras.Input((units,)), keras.Input((units,))
    embedded = keras.layers.Embedding(20, 3, mask_zero=True)(tokens)
    outputs = make_layer()(embedded, initial_state=[h0, c0])
    model = keras.Model([tokens, h0, c0], outputs)
    randomize(model)
    return model


@pytest.mark.numerics
@pytest.mark.parametrize("steps", [4, 6], ids=["units_equal_steps", "other_steps"])
def test_gates_of_a_layer_fed_initial_state_by_the_model(steps):
    units = 4
    model = encoder_decoder(
        units, lambda: kg.PeepholeLSTM(units, return_sequences=True, name="decoder")
    )
    rng = np.random.default_rng(1)
    tokens = rng.integers(1, 20, (2, steps)).astype("int32")
    h0, c0 = (rng.normal(size=(2, units)).astype("float32") for _ in range(2))
    got = inspect.gate_activations("decoder", [tokens, h0, c0], model=model)

    layer = model.get_layer("decoder")
    embedded = model.layers[1](tokens)
    want = inspect.gate_activations(layer, embedded, initial_state=[h0, c0])
    zero_start = inspect.gate_activations(layer, embedded)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], atol=1e-6)
        assert np.abs(got[name] - zero_start[name]).max() > 1e-3


@pytest.mark.numerics
def test_keras_drops_the_propagated_mask_of_a_layer_called_with_initial_state():
    """Keras' own behaviour, shown with Keras alone: a layer called with a
    tensor besides its inputs (here `initial_state`) gets no propagated
    mask, so padding runs through it as real steps. `inspect` shows what
    the model computes, so its gates have no NaN there."""
    units, tokens = 4, np.array([[3, 5, 7, 0, 0]], "int32")
    model = encoder_decoder(
        units, lambda: keras.layers.LSTM(units, return_sequences=True, name="lstm")
    )
    zeros = np.zeros((1, units), "float32")
    embedded = model.layers[1](tokens)
    lstm = model.get_layer("lstm")
    in_model = to_numpy(model([tokens, zeros, zeros]))
    unmasked = to_numpy(lstm(embedded, initial_state=[zeros, zeros]))
    masked = to_numpy(lstm(embedded, initial_state=[zeros, zeros], mask=tokens != 0))
    np.testing.assert_allclose(in_model, unmasked, atol=1e-6)
    assert np.abs(in_model - masked).max() > 1e-3
    gates = inspect.gate_activations("lstm", [tokens, zeros, zeros], model=model)
    assert not np.isnan(gates["forget"]).any()


# 3. Chrono on a Keras LSTM --------------------------------------------------


@pytest.mark.numerics
def test_chrono_refuses_keras_lstm_unit_forget_bias_and_works_without_it():
    layer = keras.layers.LSTM(64, bias_initializer=Chrono(100, "lstm"))
    with pytest.raises(ValueError, match="unit_forget_bias=False"):
        layer.build((None, 10, 3))
    layer = keras.layers.LSTM(
        64, unit_forget_bias=False, bias_initializer=Chrono(100, "lstm", seed=0)
    )
    layer.build((None, 10, 3))
    memory = timescales(layer.cell.bias, "lstm")
    assert min(memory) >= 2.0 - 1e-4 and max(memory) > 50, (min(memory), max(memory))
    assert Chrono(np.int64(50), "gru").max_timescale == 50  # NumPy integers too


# 4, 5. Importers: options that change the math, malformed state dicts ---------


def test_importers_refuse_options_that_change_the_math():
    from keras_gates import importers as convert

    kernel, bias = np.zeros((3 + 4, 16), "float32"), np.zeros(16, "float32")
    for option in ({"layer_norm": True}, {"use_bias": False}, {"peepholes": None}):
        with pytest.raises(ValueError, match=f"`{next(iter(option))}`"):
            convert.from_tf1_lstm_cell(kernel, bias, **option)
    mingru = {"to_hidden_and_gate.weight": np.zeros((8, 3), "float32")}
    with pytest.raises(ValueError, match="`log_space`"):
        convert.from_mingru_pytorch(mingru, log_space=False)
    sru = {"weight": np.zeros((4, 12), "float32"), "weight_c": np.zeros(8)}
    sru["bias"] = np.zeros(8)
    with pytest.raises(ValueError, match="`activation`"):
        convert.from_sru(sru, activation="tanh")
    # What changes how the layer runs is taken.
    layer = convert.from_tf1_lstm_cell(kernel, bias, return_sequences=True, name="x")
    assert layer.return_sequences and layer.name == "x"
    assert convert.from_mingru_pytorch(mingru, return_sequences=False).units == 4


def sru_state_dict(layers=3, size=4, units=4):
    rng = np.random.default_rng(0)
    state = {}
    for i in range(layers):
        rows = size if i == 0 else units
        state[f"rnn_lst.{i}.weight"] = rng.normal(size=(rows, 3 * units))
        state[f"rnn_lst.{i}.weight_c"] = rng.normal(size=2 * units)
        state[f"rnn_lst.{i}.bias"] = rng.normal(size=2 * units)
        state[f"rnn_lst.{i}.scale_x"] = np.ones(1)
    return state


def test_malformed_state_dicts_raise_naming_the_key():
    from keras_gates import importers as convert

    assert len(convert.from_sru(sru_state_dict()).layers) == 3
    gap = {k: v for k, v in sru_state_dict().items() if not k.startswith("rnn_lst.1")}
    with pytest.raises(ValueError, match=r"layers \[0, 2\] but not \[1\]"):
        convert.from_sru(gap)
    missing = {k: v for k, v in sru_state_dict().items() if k != "rnn_lst.1.bias"}
    with pytest.raises(ValueError, match="rnn_lst.1.bias"):
        convert.from_sru(missing)
    extra = {**sru_state_dict(), "rnn_lst.0.weight_extra": np.zeros(3)}
    with pytest.raises(ValueError, match="weight_extra"):
        convert.from_sru(extra)
    wrong = {**sru_state_dict(), "rnn_lst.2.weight_c": np.zeros(5)}
    with pytest.raises(ValueError, match="rnn_lst.2.weight_c"):
        convert.from_sru(wrong)
    mingru = {
        "to_hidden_and_gate.weight": np.zeros((8, 3)),
        "to_out.weight": np.zeros((3, 5)),
    }
    with pytest.raises(ValueError, match="to_out.weight"):
        convert.from_mingru_pytorch(mingru)
    with pytest.raises(ValueError, match="to_hidden_and_gate.weight"):
        convert.from_mingru_pytorch({"to_hidden_and_gate.weight": np.zeros((7, 3))})
    with pytest.raises(ValueError, match="to_hidden_and_gate.bias"):
        convert.from_mingru_pytorch(
            {
                "to_hidden_and_gate.weight": np.zeros((8, 3)),
                "to_hidden_and_gate.bias": np.ones(8),
            }
        )


# 6, 19. Sampling ------------------------------------------------------------


@pytest.mark.numerics
def test_sampling_refuses_what_has_no_distribution():
    from keras_gates.sampling import sample

    logits = np.array([[100.0, 99.9, 50.0]], "float32")
    for temperature in (float("nan"), float("inf"), -1.0, True, "1"):
        with pytest.raises(ValueError, match="temperature"):
            sample(logits, temperature)
    # A tiny temperature is the argmax, never an arbitrary class, also one
    # that float32 holds as a subnormal or not at all.
    for temperature in (1e-30, 1e-37, 1e-38, 1e-45, 1e-50):
        for seed in range(3):
            drawn = int(to_numpy(sample(logits, temperature, seed=seed))[0])
            assert drawn == 0, (temperature, seed, drawn)
    assert int(to_numpy(sample(logits, 1.0, seed=np.int64(3)))[0]) in (0, 1, 2)
    for empty in (np.zeros((2, 0), "float32"), np.zeros((0, 3), "float32")):
        with pytest.raises(ValueError, match="at least one row of at least one"):
            sample(empty, 1.0)
    assert int(to_numpy(sample(logits, np.float32(1e-3), seed=0))[0]) == 0
    assert int(to_numpy(sample(logits, np.float64(0.0)))[0]) == 0
    for bad, words in (
        ([[1.0, np.inf, 0.0]], r"\+inf"),
        ([[-np.inf, -np.inf], [0.0, 1.0]], "no finite score"),
        ([[np.nan, 1.0]], "NaN"),
    ):
        with pytest.raises(ValueError, match=words):
            sample(np.array(bad, "float32"), 1.0)
    # -inf marks a class never to draw.
    drawn = to_numpy(sample(np.array([[-np.inf, 0.0, -np.inf]] * 50), 1.0, seed=1))
    assert (drawn == 1).all()


# 7. The SRU's highway bias under chrono_init ---------------------------------


@pytest.mark.numerics
def test_sru_keeps_its_highway_bias_under_chrono_init():
    layer = kg.SRU(8, highway_bias=-2.0, chrono_init=50)
    layer.build((None, 5, 8))
    bias = to_numpy(layer.cell.bias)
    np.testing.assert_array_equal(bias[8:], -2.0)  # the reset gate's
    assert max(timescales(bias, "sru")) > 10  # the forget gate's, chrono


# 8. A TFLite batch other than the exported one ------------------------------


@tensorflow_only
def test_tflite_runner_refuses_a_batch_other_than_the_exported_one():
    from keras_gates import export

    model = keras.Sequential([keras.Input((None, 3), name="x"), kg.SRU(4)])
    content = export.to_tflite(model, batch_size=3)
    with pytest.raises(ValueError, match="exported for batches of 3"):
        run_tflite(content, {"x": np.zeros((1, 5, 3), "float32")})
    # NumPy's default dtypes are taken for the signature's narrower ones.
    tokens = keras.Sequential(
        [keras.Input((None,), dtype="int32", name="t"), keras.layers.Embedding(9, 3)]
    )
    ids = np.array([[1, 2, 8]])  # int64
    got = run_tflite(export.to_tflite(tokens), {"t": ids})["embedding"]
    np.testing.assert_allclose(got, to_numpy(tokens(ids)), atol=1e-6)
    assert run_tflite(content, {"x": np.zeros((3, 5, 3), "float32")})["sru"].shape == (
        3,
        4,
    )


# 9, 16. fused="auto" with initial_state; fused=True never loops -------------


@tensorflow_only
def test_tflite_of_an_lstm_called_with_initial_state(caplog):
    from keras_gates import export

    units = 4
    model = encoder_decoder(units, lambda: kg.PeepholeLSTM(units, name="decoder"))
    rng = np.random.default_rng(2)
    tokens = padded_tokens(1, 7)
    h0, c0 = (rng.normal(size=(1, units)).astype("float32") for _ in range(2))
    with caplog.at_level("INFO", logger="keras_gates.export"):
        content = export.to_tflite(model)
    assert "initial_state" in caplog.text
    names = export.exporters.input_names(model)
    got = run_tflite(content, dict(zip(names, [tokens, h0, c0], strict=True)))
    np.testing.assert_allclose(
        got["decoder"], to_numpy(model([tokens, h0, c0])), atol=1e-5
    )
    with pytest.raises(ValueError, match="initial_state"):
        export.to_tflite(model, fused=True)


@tensorflow_only
def test_fused_true_raises_for_a_model_that_keeps_a_loop():
    from keras_gates import export

    model = keras.Sequential(
        [
            keras.Input((None, 3)),
            kg.PeepholeLSTM(4, return_sequences=True),
            kg.MinGRU(4, name="min_gru", return_sequences=True),
            kg.MinimalGRU(4, name="minimal_gru"),
        ]
    )
    with pytest.raises(ValueError, match="'min_gru', 'minimal_gru'"):
        export.to_tflite(model, fused=True)
    assert "WHILE" in export.op_names(export.to_tflite(model))  # "auto" loops


# 10. Whole-sequence int8 with a Masking layer --------------------------------


@tensorflow_only
def test_whole_sequence_int8_with_a_masking_layer_loads_and_matches():
    from keras_gates import export

    model = keras.Sequential(
        [
            keras.Input((None, 3), name="x"),
            keras.layers.Masking(0.0),
            kg.PeepholeLSTM(8),
            keras.layers.Dense(1, name="score"),
        ]
    )
    randomize(model)
    rng = np.random.default_rng(0)

    def sample(seed_row):
        x = rng.normal(size=(1, 10, 3)).astype("float32")
        x[:, 10 - seed_row % 4 :] = 0.0  # 0 to 3 padded steps
        return x

    content = export.to_tflite(
        model,
        quantization="int8",
        representative_data=[sample(i) for i in range(300)],
    )
    errors = []
    for i in range(40):
        x = sample(i)
        errors.append(abs(run_tflite(content, {"x": x})["score"] - to_numpy(model(x))))
    assert np.max(errors) < 0.1, np.max(errors)


# 11, 18, 19. SlicedRNN --------------------------------------------------------


@pytest.mark.numerics
@pytest.mark.parametrize("pad", [False, True])
def test_sliced_rnn_returning_sequences_behind_a_mask_of_unknown_length(pad):
    tokens = keras.Input((None,), dtype="int32")
    embedding = keras.layers.Embedding(20, 4, mask_zero=True)
    sliced = kg.SlicedRNN(kg.SRU(3), (2, 2), return_sequences=True, pad=pad)
    top = kg.SRU(3, name="top")
    model = keras.Model(tokens, top(sliced(embedding(tokens))))
    randomize(model)
    steps = 7 if pad else 8
    batch = padded_tokens(3, steps)
    batch[1, :6] = 0  # the first top-level group all padding
    got = to_numpy(model(batch))
    x = embedding(batch)
    summaries = sliced(x, mask=batch != 0)
    want = to_numpy(top(summaries, mask=sliced.compute_mask(x, batch != 0)))
    np.testing.assert_allclose(got, want, atol=1e-6)
    groups = to_numpy(sliced.compute_mask(x, batch != 0))
    length = -(-steps // 4) * 2  # padded steps per top-level group
    padded = np.pad(batch != 0, [(0, 0), (0, 2 * length - steps)])
    np.testing.assert_array_equal(groups, padded.reshape(3, 2, length).any(-1))


@tensorflow_only
@pytest.mark.parametrize(
    "make",
    [
        lambda h: keras.layers.GRU(4)(
            kg.SlicedRNN(kg.SRU(4), (2,), return_sequences=True)(h)
        ),
        lambda h: kg.SlicedRNN(keras.layers.GRU(4), (2, 2), pad=True)(h),
    ],
    ids=["sliced_sequences_then_keras_gru", "keras_gru_in_slices"],
)
def test_tflite_of_a_sliced_rnn_with_keras_loops(make):
    """Keras' own loop needs a static step shape in TFLite: the SlicedRNN's
    levels keep the exported batch (it was -1 there, a ConverterError)."""
    from keras_gates import export

    tokens = keras.Input((None,), dtype="int32", name="tokens")
    model = keras.Model(
        tokens, make(keras.layers.Embedding(20, 3, mask_zero=True)(tokens))
    )
    randomize(model)
    content = export.to_tflite(model, batch_size=3)
    batch = padded_tokens(3, 8)
    (got,) = run_tflite(content, {"tokens": batch}).values()
    np.testing.assert_allclose(got, to_numpy(model(batch)), atol=1e-5)


@pytest.mark.numerics
def test_sliced_rnn_argument_checks():
    assert kg.SlicedRNN(kg.SRU(3), np.int64(2)).slices == (2,)
    assert kg.SlicedRNN(kg.SRU(3), [np.int32(2), 2]).slices == (2, 2)
    with pytest.raises(ValueError, match="merge_mode=None"):
        kg.SlicedRNN(keras.layers.Bidirectional(kg.SRU(3), merge_mode=None), 2)


# 12, 15, 19. inspect: mixed precision, bad shapes, tables ---------------------


@pytest.mark.numerics
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_gates_of_mixed_precision_layers(policy):
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    for make in (lambda: kg.PeepholeLSTM(4), lambda: keras.layers.LSTM(4)):
        keras.config.set_dtype_policy("float32")
        reference = make()
        reference.build(x.shape)
        randomize(reference)
        keras.config.set_dtype_policy(policy)
        layer = make()
        layer.build(x.shape)
        layer.set_weights(reference.get_weights())
        got = inspect.gate_activations(layer, x)
        want = inspect.gate_activations(reference, x)
        for name in want:
            assert got[name].dtype == np.float32
            np.testing.assert_allclose(got[name], want[name], atol=3e-2)


@pytest.mark.numerics
def test_gate_activations_bad_shapes_say_what_was_expected():
    layer = kg.PeepholeLSTM(4, name="peep")
    layer.build((None, 5, 3))
    keras_lstm = keras.layers.LSTM(4, name="klstm")
    keras_lstm.build((None, 5, 3))
    x = np.zeros((2, 5, 3), "float32")
    for target in (layer, keras_lstm):
        with pytest.raises(ValueError, match="built for inputs with 3 features"):
            inspect.gate_activations(target, np.zeros((2, 5, 7), "float32"))
        with pytest.raises(ValueError, match="mask of shape"):
            inspect.gate_activations(target, x, mask=np.ones((2, 4), bool))
        with pytest.raises(ValueError, match="list of 2 tensors"):
            inspect.gate_activations(target, x, initial_state=[np.zeros((2, 4))])
    bidirectional = keras.layers.Bidirectional(kg.SRU(4))
    bidirectional.build((None, 5, 3))
    with pytest.raises(ValueError, match="list of 2 tensors"):
        inspect.gate_activations(bidirectional, x, initial_state=[np.zeros((2, 4))])


def test_gate_table_refuses_what_it_cannot_show():
    gates = {"forget": np.full((2, 3, 4), 0.5, np.float32)}
    assert "0.50" in inspect.gate_table(gates, ["a", "b", "c"])
    with pytest.raises(ValueError, match="one label per step: 3"):
        inspect.gate_table(gates, ["a", "b"])
    with pytest.raises(ValueError, match="non-empty dict"):
        inspect.gate_table({})
    with pytest.raises(ValueError, match="batch of 2"):
        inspect.gate_table(gates, sequence=2)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        inspect.gate_table(gates, steps=[0, 5])


# 13. unroll=True with a declared number of steps ------------------------------


@tensorflow_only
def test_export_of_an_unrolled_layer_keeps_the_declared_steps(tmp_path):
    from keras_gates import cli
    from keras_gates import export

    for make in (
        lambda: kg.SRU(4, unroll=True),
        lambda: keras.layers.LSTM(4, unroll=True),
    ):
        model = keras.Sequential([keras.Input((9, 3), name="x"), make()])
        randomize(model)
        x = np.random.default_rng(0).normal(size=(1, 9, 3)).astype("float32")
        content = export.to_tflite(model)
        got = run_tflite(content, {"x": x})[model.layers[-1].name]
        np.testing.assert_allclose(got, to_numpy(model(x)), atol=1e-5)
        export.to_saved_model(model, tmp_path / model.layers[-1].name)
    model.save(tmp_path / "unrolled.keras")
    assert (
        cli.main(
            [
                "export",
                str(tmp_path / "unrolled.keras"),
                "--tflite",
                str(tmp_path / "u.tflite"),
            ]
        )
        == 0
    )


# 14. Own cells: mistakes named before the loop --------------------------------


class _OneState(kg.RecurrentCell):
    GATES = ()

    def __init__(self, units, declared=None, bare=False, **kwargs):
        super().__init__(units, **kwargs)
        self.state_size = [declared or units]
        self.output_size = units
        self.bare = bare

    def build(self, input_shape):
        self.kernel = self.add_kernel(input_shape[-1], 1)
        self.recurrent_kernel = self.add_recurrent_kernel((self.units, self.units))

    def input_side(self, inputs, constants=(), dropout_mask=None):
        return keras.ops.matmul(inputs, self.kernel)

    def recurrent_step(self, projected, states, constants=(), recurrent_mask=None):
        h = keras.ops.tanh(
            projected + keras.ops.matmul(states[0], self.recurrent_kernel)
        )
        return h, (h if self.bare else [h]), {}


class _NoStep(_OneState):
    recurrent_step = kg.RecurrentCell.recurrent_step


@pytest.mark.numerics
def test_own_cell_mistakes_are_named():
    x = np.zeros((2, 3, 5), "float32")
    assert tuple(kg.GatedRNN(_OneState(4))(x).shape) == (2, 4)
    with pytest.raises(
        NotImplementedError, match="_NoStep does not implement `recurrent_step"
    ):
        kg.GatedRNN(_NoStep(4))(x)
    with pytest.raises(ValueError, match=r"declared state_size \[6\]"):
        kg.GatedRNN(_OneState(4, declared=6))(x)
    with pytest.raises(ValueError, match="new states as a list"):
        kg.GatedRNN(_OneState(4, bare=True))(x)


# 17. The CLI: --import and --unsafe -------------------------------------------


@tensorflow_only
def test_cli_parity_pads_for_a_masking_layer_of_value_zero(tmp_path, capsys):
    from keras_gates import cli

    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, kg.PeepholeLSTM(4)(keras.layers.Masking()(inputs)))
    model.save(tmp_path / "masking.keras")
    path = str(tmp_path / "masking.keras")
    assert cli.main(["export", path, "--tflite", str(tmp_path / "m.tflite")]) == 0
    assert capsys.readouterr().out.count("padded") == 3


@tensorflow_only
def test_cli_imports_modules_and_loads_unsafe_files_on_request(
    tmp_path, capsys, monkeypatch
):
    import importlib.util
    import subprocess

    from keras_gates import cli
    from tests.test_cli import ERROR
    from tests.test_cli import run_all

    (tmp_path / "mylayers.py").write_text(
        textwrap.dedent(
            """
            import keras

            @keras.saving.register_keras_serializable(package="my_layers")
            class Halving(keras.layers.Layer):
                def call(self, x):
                    return 0.5 * x
            """
        )
    )
    spec = importlib.util.spec_from_file_location("mylayers", tmp_path / "mylayers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    own = keras.Sequential([keras.Input((None, 3)), module.Halving(), kg.SRU(4)])
    own.save(tmp_path / "own.keras")
    keras.saving.get_custom_objects().pop("my_layers>Halving")
    lam = keras.Sequential(
        [keras.Input((None, 3)), keras.layers.Lambda(lambda x: 2.0 * x), kg.SRU(4)]
    )
    lam.save(tmp_path / "lambda.keras")

    # The refusals in this process (they import nothing; each process
    # spends seconds importing TensorFlow), the imports and the unsafe
    # load in processes of their own, whose imports cannot leak.
    monkeypatch.chdir(tmp_path)
    refusals = []
    for args in (
        ["own.keras", "--tflite", "m.tflite"],
        ["lambda.keras", "--tflite", "m.tflite"],
    ):
        status = cli.main(["export", *args])
        refusals.append(
            subprocess.CompletedProcess(args, status, "", capsys.readouterr().err)
        )
    refused, unsafe_refused = refusals
    imported, by_path, unsafe = run_all(
        [
            ["own.keras", "--import", "mylayers", "--tflite", "a.tflite"],
            [
                "own.keras",
                "--import",
                os.fspath(tmp_path / "mylayers.py"),
                "--tflite",
                "b.tflite",
            ],
            ["lambda.keras", "--unsafe", "--tflite", "c.tflite"],
        ],
        tmp_path,
    )
    for done, words in ((refused, "--import mylayers"), (unsafe_refused, "--unsafe")):
        errors = [line for line in done.stderr.splitlines() if line.startswith(ERROR)]
        assert done.returncode == 2 and len(errors) == 1, done.stderr[-2000:]
        assert words in errors[0], errors[0]
    for done in (imported, by_path, unsafe):
        assert done.returncode == 0, done.stderr[-2000:]
        assert "FAILED" not in done.stdout
