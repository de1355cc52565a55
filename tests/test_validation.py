"""Constructor arguments are checked up front, with messages that name the
argument and the value received."""

import re

import pytest

import keras_gates as kg

RECURRENT = [
    kg.PeepholeLSTMCell,
    kg.PeepholeLSTM,
    kg.CoupledLSTMCell,
    kg.CoupledLSTM,
    kg.MinimalGRUCell,
    kg.MinimalGRU,
    kg.SRUCell,
    kg.SRU,
]
# MinGRU has no recurrent kernel: no activation, recurrent_* or
# recurrent_dropout arguments.
ALL = RECURRENT + [kg.MinGRUCell, kg.MinGRU]
PEEPHOLED = [kg.PeepholeLSTMCell, kg.PeepholeLSTM, kg.CoupledLSTMCell, kg.CoupledLSTM]

# (classes, kwargs, exception, words the message must contain)
CASES = [
    (ALL, {"units": 0}, ValueError, ["units", "units=0"]),
    (ALL, {"units": -3}, ValueError, ["units", "units=-3"]),
    (ALL, {"units": 2.5}, TypeError, ["units", "units=2.5"]),
    (ALL, {"units": "8"}, TypeError, ["units", "units='8'"]),
    (ALL, {"units": True}, TypeError, ["units", "units=True"]),
    (ALL, {"dropout": 1.0}, ValueError, ["dropout", "dropout=1.0"]),
    (ALL, {"dropout": -0.1}, ValueError, ["dropout", "dropout=-0.1"]),
    (ALL, {"dropout": "0.5"}, TypeError, ["dropout", "dropout='0.5'"]),
    (RECURRENT, {"recurrent_dropout": 1.5}, ValueError, ["recurrent_dropout", "1.5"]),
    (ALL, {"seed": 1.5}, TypeError, ["seed", "seed=1.5"]),
    (ALL, {"use_bias": "yes"}, TypeError, ["use_bias", "use_bias='yes'"]),
    (RECURRENT, {"activation": "nope"}, ValueError, ["activation", "'nope'"]),
    (ALL, {"recurrent_activation": "nope"}, ValueError, ["recurrent_activation"]),
    (ALL, {"kernel_initializer": "nope"}, ValueError, ["kernel_initializer", "'nope'"]),
    (
        RECURRENT,
        {"recurrent_initializer": "nope"},
        ValueError,
        ["recurrent_initializer"],
    ),
    (ALL, {"bias_initializer": 3}, ValueError, ["bias_initializer", "3"]),
    (ALL, {"kernel_regularizer": "nope"}, ValueError, ["kernel_regularizer"]),
    (ALL, {"bias_constraint": "nope"}, ValueError, ["bias_constraint"]),
    (PEEPHOLED, {"peepholes": ["input", "inptu"]}, ValueError, ["peepholes", "inptu"]),
    (PEEPHOLED, {"peepholes": 3}, TypeError, ["peepholes", "3"]),
    (PEEPHOLED, {"peepholes": ["input", "input"]}, ValueError, ["twice"]),
    (PEEPHOLED, {"peephole_initializer": "nope"}, ValueError, ["peephole_initializer"]),
    (
        [kg.CoupledLSTMCell, kg.CoupledLSTM],
        {"peepholes": ["forget"]},
        ValueError,
        ["forget", "1 - input gate"],
    ),
    (
        [kg.PeepholeLSTMCell, kg.PeepholeLSTM],
        {"cell_clip": -1.0},
        ValueError,
        ["cell_clip", "cell_clip=-1.0"],
    ),
    (
        [kg.PeepholeLSTMCell, kg.PeepholeLSTM],
        {"cell_clip": float("inf")},
        ValueError,
        ["cell_clip", "inf"],
    ),
    (
        [kg.PeepholeLSTMCell, kg.PeepholeLSTM, kg.CoupledLSTMCell, kg.CoupledLSTM],
        {"unit_forget_bias": 1},
        TypeError,
        ["unit_forget_bias"],
    ),
    ([kg.MinimalGRUCell, kg.MinimalGRU], {"reset": "no"}, TypeError, ["reset"]),
    ([kg.SRUCell, kg.SRU], {"recurrent_gates": None}, TypeError, ["recurrent_gates"]),
    (
        [kg.SRUCell, kg.SRU],
        {"recurrent_gates": False, "recurrent_dropout": 0.2},
        ValueError,
        ["recurrent_gates=False", "recurrent_dropout=0.2"],
    ),
]

PARAMS = [
    pytest.param(cls, kwargs, exc, words, id=f"{cls.__name__}-{kwargs}")
    for classes, kwargs, exc, words in CASES
    for cls in classes
]


@pytest.mark.parametrize("cls, kwargs, exc, words", PARAMS)
def test_bad_argument_raises_at_construction(cls, kwargs, exc, words):
    kwargs = {"units": 4, **kwargs}
    units = kwargs.pop("units")
    with pytest.raises(exc) as info:
        cls(units, **kwargs)
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


@pytest.mark.parametrize("cls", ALL)
def test_valid_arguments_are_accepted(cls):
    cls(1, dropout=0.999, seed=0)
    cls(4, kernel_initializer="he_normal", bias_regularizer="l2", use_bias=False)


@pytest.mark.parametrize("cls", RECURRENT)
def test_valid_recurrent_arguments_are_accepted(cls):
    cls(1, recurrent_dropout=0.999, activation=None, recurrent_initializer="zeros")


@pytest.mark.parametrize("cls", [kg.MinGRUCell, kg.MinGRU])
@pytest.mark.parametrize("name", ["recurrent_dropout", "recurrent_initializer"])
def test_min_gru_rejects_recurrent_arguments(cls, name):
    # The cell's signature raises TypeError; the layer passes unknown keywords
    # to keras.layers.Layer, which raises ValueError. Both name the argument.
    with pytest.raises((TypeError, ValueError), match=name):
        cls(4, **{name: 0.1 if name == "recurrent_dropout" else "zeros"})


@pytest.mark.parametrize("cls", [kg.PeepholeLSTM, kg.PeepholeLSTMCell])
def test_peepholes_are_normalized_to_canonical_order(cls):
    assert cls(2, peepholes=["output", "input"]).peepholes == ("input", "output")
    assert cls(2, peepholes="forget").peepholes == ("forget",)
    assert cls(2, peepholes=None).peepholes == ()
    assert cls(2).peepholes == ("input", "forget", "output")


def test_layers_take_cell_arguments_by_keyword_only():
    with pytest.raises(TypeError, match=re.escape("positional")):
        kg.PeepholeLSTM(4, ["input"])
