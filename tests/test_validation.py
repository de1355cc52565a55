"""Bad input is refused up front with a clear message: constructor arguments
(naming the argument and the value received) and, at call time, inputs,
initial states and masks of the wrong shape (saying what was expected and
what was received), never an error from deep inside the backend."""

import inspect
import re

import keras
import numpy as np
import pytest

import keras_gates as kg
from keras_gates._arguments import Clip
from keras_gates._arguments import arguments
from keras_gates.layers.cell_layer import CellLayer

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
LAYERS = [kg.PeepholeLSTM, kg.CoupledLSTM, kg.MinimalGRU, kg.SRU, kg.MinGRU]
CELLS = [
    kg.PeepholeLSTMCell,
    kg.CoupledLSTMCell,
    kg.MinimalGRUCell,
    kg.SRUCell,
    kg.MinGRUCell,
]

# Constructor cases: (classes, kwargs, exception, words the message must
# contain). Every class is constructed with units=4 unless kwargs say otherwise.
CONSTRUCTOR_CASES = [
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
    (ALL, {"chrono_init": 2}, ValueError, ["chrono_init", "at least 3", "2"]),
    (ALL, {"chrono_init": 50.0}, TypeError, ["chrono_init", "50.0"]),
    (ALL, {"chrono_init": True}, TypeError, ["chrono_init", "True"]),
    (ALL, {"fast_path": "yes"}, ValueError, ["fast_path", "'yes'"]),
    (
        [kg.PeepholeLSTM, kg.CoupledLSTM, kg.MinimalGRU],
        {"recurrent_gates": False},  # an SRU argument elsewhere
        ValueError,
        ["recurrent_gates"],
    ),
    (
        [kg.PeepholeLSTM, kg.SRU, kg.MinGRU],
        {"return_sequence": True},  # a typo
        ValueError,
        ["return_sequence"],
    ),
    (LAYERS, {"return_sequences": "yes"}, TypeError, ["return_sequences='yes'"]),
    (LAYERS, {"return_state": 1}, TypeError, ["return_state=1"]),
    (LAYERS, {"go_backwards": None}, TypeError, ["go_backwards=None"]),
    (LAYERS, {"stateful": "no"}, TypeError, ["stateful='no'"]),
    (LAYERS, {"unroll": 0}, TypeError, ["unroll=0"]),
    (LAYERS, {"zero_output_for_mask": "no"}, TypeError, ["zero_output_for_mask"]),
    # The options of the reference implementations.
    (PEEPHOLED, {"projection_units": 0}, ValueError, ["projection_units=0"]),
    (PEEPHOLED, {"projection_units": 2.0}, TypeError, ["projection_units=2.0"]),
    (
        PEEPHOLED,
        {"projection_clip": 1.0},
        ValueError,
        ["projection_clip", "projection_units=None"],
    ),
    (
        PEEPHOLED,
        {"projection_units": 2, "projection_clip": -1.0},
        ValueError,
        ["projection_clip=-1.0"],
    ),
    (PEEPHOLED, {"cell_clip": 0}, ValueError, ["cell_clip=0"]),
    (PEEPHOLED, {"layer_norm": "yes"}, TypeError, ["layer_norm='yes'"]),
    (PEEPHOLED, {"norm_epsilon": 0.0}, ValueError, ["norm_epsilon=0.0"]),
    (PEEPHOLED, {"norm_gamma_initializer": "nope"}, ValueError, ["norm_gamma"]),
    ([kg.SRU, kg.SRUCell], {"highway": "half"}, ValueError, ["highway", "'half'"]),
    ([kg.SRU, kg.SRUCell], {"skip_term": 1}, TypeError, ["skip_term=1"]),
    ([kg.SRU, kg.SRUCell], {"rescale": "on"}, TypeError, ["rescale='on'"]),
    ([kg.SRU, kg.SRUCell], {"highway_bias": "1"}, ValueError, ["highway_bias='1'"]),
    (
        [kg.SRU, kg.SRUCell],
        {"normalize_after": True},
        ValueError,
        ["normalize_after", "layer_norm=True"],
    ),
    (
        [kg.SRU, kg.SRUCell],
        {"input_projection_units": -1},
        ValueError,
        ["input_projection_units=-1"],
    ),
    (
        [kg.MinGRU, kg.MinGRUCell, kg.MinLSTM, kg.MinLSTMCell],
        {"log_space": True, "recurrent_activation": "hard_sigmoid"},
        ValueError,
        ["log_space", "sigmoid", "hard_sigmoid"],
    ),
    (
        [kg.MinGRU, kg.MinGRUCell, kg.MinLSTM, kg.MinLSTMCell],
        {"projection_units": 0},
        ValueError,
        ["projection"],
    ),
    (
        [kg.MinLSTM, kg.MinLSTMCell],
        {"units": 0},
        ValueError,
        ["units", "units=0"],
    ),
]


def _zeros(*shape):
    return np.zeros(shape, "float32")


def _states(cls, batch=2, units=4, extra=0):
    """The states of a layer or cell class (h, c for the LSTM variants), of
    shape `(batch, units)`, and `extra` more."""
    lstm = (kg.PeepholeLSTM, kg.CoupledLSTM, kg.PeepholeLSTMCell, kg.CoupledLSTMCell)
    count = 2 if cls in lstm else 1
    return [_zeros(batch, units) for _ in range(count + extra)]


def _built(cls, features=5, **kwargs):
    layer = cls(4, **kwargs)
    layer(_zeros(2, 3, features))
    return layer


def _symbolic_state(cls):
    sequences = keras.Input((None, 5))
    states = [keras.Input((7,)) for _ in _states(cls)]
    cls(4)(sequences, initial_state=states)


def _in_a_model(cls):
    model = keras.Sequential([keras.Input((3, 5)), cls(4)])
    model(_zeros(2, 3, 6))


def _built_cell(cls):
    cell = cls(4)
    cell(_zeros(2, 5), _states(cls))
    return cell


# Call-time cases: (classes, what, action(cls), exception, words).
CALL_CASES = [
    (
        LAYERS,
        "rank-2 input",
        lambda c: c(4)(_zeros(2, 5)),
        ValueError,
        ["expected ndim=3", "found ndim=2", "(2, 5)"],
    ),
    (
        LAYERS,
        "rank-4 input",
        lambda c: c(4)(_zeros(2, 3, 5, 1)),
        ValueError,
        ["expected ndim=3", "found ndim=4"],
    ),
    (
        LAYERS,
        "feature size",
        lambda c: _built(c)(_zeros(2, 3, 6)),
        ValueError,
        ["built for inputs with 5 features", "Received inputs of shape (2, 3, 6)"],
    ),
    (
        LAYERS,
        "feature size in a model",
        _in_a_model,
        ValueError,
        ["built for inputs with 5 features", "(2, 3, 6)"],
    ),
    (
        LAYERS,
        "no timesteps",
        lambda c: c(4)(_zeros(2, 0, 5)),
        ValueError,
        ["at least one timestep", "(2, 0, 5)"],
    ),
    (
        LAYERS,
        "one state too many",
        lambda c: c(4)(_zeros(2, 3, 5), initial_state=_states(c, extra=1)),
        ValueError,
        [
            "`initial_state` to be a list of",
            "Received",
            "tensors of shapes [(2, 4), (2, 4)",
        ],
    ),
    (
        LAYERS,
        "state size",
        lambda c: c(4)(_zeros(2, 3, 5), initial_state=_states(c, units=5)),
        ValueError,
        ["`initial_state`", "(2, 4)]", "of shape (2, 5)"],
    ),
    (
        LAYERS,
        "state batch",
        lambda c: c(4)(_zeros(2, 3, 5), initial_state=_states(c, batch=3)),
        ValueError,
        ["`initial_state`", "(2, 4)]", "of shape (3, 4)"],
    ),
    (
        LAYERS,
        "state rank",
        lambda c: c(4)(_zeros(2, 3, 5), initial_state=[s[0] for s in _states(c)]),
        ValueError,
        ["`initial_state`", "(2, 4)]", "of shape (4,)"],
    ),
    (
        LAYERS,
        "symbolic state size",
        _symbolic_state,
        ValueError,
        ["`initial_state`", "(None, 4)]", "of shape (None, 7)"],
    ),
    (
        LAYERS,
        "mask shape",
        lambda c: c(4)(_zeros(2, 3, 5), mask=np.ones((2, 4), bool)),
        ValueError,
        [
            "mask of shape (batch, timesteps) = (2, 3)",
            "Received a mask of shape (2, 4)",
        ],
    ),
    (
        LAYERS,
        "stateful batch",
        lambda c: _built(c, stateful=True)(_zeros(3, 3, 5)),
        ValueError,
        ["Expected batch size: 2", "Received batch size: 3"],
    ),
    (
        CELLS,
        "cell given a sequence",
        lambda c: c(4)(_zeros(2, 3, 5), _states(c)),
        ValueError,
        ["one step", "(batch, features)", "(2, 3, 5)", "keras.layers.RNN"],
    ),
    (
        CELLS,
        "cell feature size",
        lambda c: _built_cell(c)(_zeros(2, 6), _states(c)),
        ValueError,
        ["built for inputs with 5 features", "(2, 6)"],
    ),
    (
        CELLS,
        "cell state count",
        lambda c: c(4)(_zeros(2, 5), _states(c, extra=1)),
        ValueError,
        ["`states` to be a list of", "Received", "tensors of shapes [(2, 4), (2, 4)"],
    ),
    (
        CELLS,
        "cell state size",
        lambda c: c(4)(_zeros(2, 5), _states(c, units=3)),
        ValueError,
        ["`states`", "of shape (2, 3)"],
    ),
    (
        CELLS,
        "cell inside keras.layers.RNN",
        lambda c: keras.layers.RNN(c(4))(
            _zeros(2, 3, 5), initial_state=_states(c, units=3)
        ),
        ValueError,
        ["`states`", "of shape (2, 3)"],
    ),
]


def _construct(kwargs):
    kwargs = {"units": 4, **kwargs}
    units = kwargs.pop("units")
    return lambda cls: cls(units, **kwargs)


# Every case, in one table: (class, action, exception, words).
TABLE = [
    pytest.param(cls, _construct(kwargs), exc, words, id=f"{cls.__name__}-{kwargs}")
    for classes, kwargs, exc, words in CONSTRUCTOR_CASES
    for cls in classes
] + [
    pytest.param(cls, action, exc, words, id=f"{cls.__name__}-call-{what}")
    for classes, what, action, exc, words in CALL_CASES
    for cls in classes
]


@pytest.mark.parametrize("cls, action, exc, words", TABLE)
def test_bad_input_raises_a_clear_error(cls, action, exc, words):
    with pytest.raises(exc) as info:
        action(cls)
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


@pytest.mark.parametrize("cls", ALL)
def test_valid_arguments_are_accepted(cls):
    edge = cls(1, dropout=0.999, seed=0)
    assert edge.dropout == 0.999 and edge.seed == 0
    layer = cls(
        4, kernel_initializer="he_normal", bias_regularizer="l2", use_bias=False
    )
    assert isinstance(layer.kernel_initializer, keras.initializers.HeNormal)
    assert isinstance(layer.bias_regularizer, keras.regularizers.L2)
    cell = layer.cell if hasattr(layer, "cell") else layer
    cell.build((2, 3))
    assert cell.bias is None and cell.kernel.shape[0] == 3


@pytest.mark.parametrize("cls", RECURRENT)
def test_valid_recurrent_arguments_are_accepted(cls):
    layer = cls(
        1, recurrent_dropout=0.999, activation=None, recurrent_initializer="zeros"
    )
    assert layer.recurrent_dropout == 0.999
    assert keras.activations.serialize(layer.activation) == "linear"
    cell = layer.cell if hasattr(layer, "cell") else layer
    cell.build((2, 3))
    assert not np.any(keras.ops.convert_to_numpy(cell.recurrent_kernel))


@pytest.mark.parametrize("cls", ALL)
def test_numpy_booleans_are_accepted_where_keras_takes_them(cls):
    flag = np.bool_(False)
    assert cls(2, use_bias=flag).use_bias is False
    if cls in LAYERS:
        layer = cls(2, return_sequences=np.bool_(True), go_backwards=flag)
        assert layer.return_sequences is True and layer.go_backwards is False
    keras_layer = keras.layers.LSTM(2, use_bias=flag, return_sequences=np.bool_(True))
    assert keras_layer.return_sequences  # Keras takes them too


def test_arguments_are_positional_where_keras_has_them():
    """`PeepholeLSTM(64, "tanh")` reads as `keras.layers.LSTM(64, "tanh")`."""
    lstm_like = [
        kg.PeepholeLSTM,
        kg.CoupledLSTM,
        kg.PeepholeLSTMCell,
        kg.CoupledLSTMCell,
    ]
    gru_like = [kg.MinimalGRU, kg.SRU, kg.MinimalGRUCell, kg.SRUCell]
    for cls, keras_cls in [(c, keras.layers.LSTM) for c in lstm_like] + [
        (c, keras.layers.GRU) for c in gru_like
    ]:
        ours = cls(3, "relu", "hard_sigmoid", False)
        theirs = keras_cls(3, "relu", "hard_sigmoid", False)
        for name in ("activation", "recurrent_activation", "use_bias"):
            got, want = getattr(ours, name), getattr(theirs, name)
            if callable(want):
                got, want = (
                    keras.activations.serialize(got),
                    keras.activations.serialize(want),
                )
            assert got == want, (cls.__name__, name)
    layer = kg.PeepholeLSTM(3, "tanh", "sigmoid", True, "zeros", "zeros", "ones", False)
    assert not layer.unit_forget_bias
    assert isinstance(layer.bias_initializer, keras.initializers.Ones)
    with pytest.raises(TypeError):
        kg.PeepholeLSTM(3, "tanh", "sigmoid", True, *[None] * 20)  # too many


@pytest.mark.parametrize("cls", [kg.MinGRUCell, kg.MinGRU, kg.MinLSTMCell, kg.MinLSTM])
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


def test_a_misplaced_positional_argument_names_its_parameter():
    # The peepholes given where Keras' LSTM has `activation`.
    with pytest.raises(ValueError, match=re.escape("Argument `activation`")):
        kg.PeepholeLSTM(4, ["input"])


def test_split_highway_needs_twice_the_units():
    with pytest.raises(ValueError, match=r"input_dim = 2 \* units = 8.*input_dim=5"):
        kg.SRU(4, highway="split")(_zeros(2, 3, 5))


def test_chrono_init_needs_a_cell_with_a_chrono_layout():
    class NoLayoutCell(kg.GatedCell):
        pass

    with pytest.raises(ValueError, match="NoLayoutCell does not take `chrono_init`"):
        NoLayoutCell(4, chrono_init=10)


def test_a_cell_must_return_the_gates_it_declares():
    class Undeclared(kg.MinGRUCell):
        GATES = ("update", "forget")

    cell = Undeclared(2)
    cell.build((None, 3))
    with pytest.raises(ValueError, match=r"returned the gates \['update'\]"):
        cell.step_with_gates(np.zeros((1, 3), "float32"), [np.zeros((1, 2))])


# Every public layer of one cell class, found rather than listed: a new
# one is checked without being named here.
CELL_LAYERS = sorted(
    (
        c
        for c in vars(kg).values()
        if isinstance(c, type) and issubclass(c, CellLayer) and c is not CellLayer
    ),
    key=lambda c: c.__name__,
)


@pytest.mark.parametrize("layer_class", CELL_LAYERS, ids=lambda c: c.__name__)
def test_a_layer_writes_out_its_cells_signature(layer_class):
    """Each layer's signature is its cell's (the cell declares its
    arguments), in the same order and with the same defaults and kinds of
    parameter, plus the recurrent layer's own arguments."""
    layer_only = set(inspect.signature(kg.GatedRNN.__init__).parameters)
    layer_only |= {"activity_regularizer"}
    if layer_class is kg.MLSTM:  # how the layer runs a sequence
        layer_only |= {"form", "chunk_size"}
    cell_class = layer_class.cell_class
    layer = [
        (p.name, p.kind, p.default)
        for p in inspect.signature(layer_class.__init__).parameters.values()
        if p.name not in layer_only
    ]
    cell = [
        (p.name, p.kind, p.default)
        for p in inspect.signature(cell_class.__init__).parameters.values()
        if p.name not in ("self", "kwargs")
    ]
    assert layer == cell
    # and each argument the cell declares is read back from the layer
    made = layer_class(8)
    for name, _, default in cell:
        if name != "units" and isinstance(default, (bool, int)):
            assert getattr(made, name) == getattr(made.cell, name), name
    assert {name for name, *_ in cell} <= set(dir(made))


def test_arguments_are_checked_by_their_kind_not_their_name():
    """An own cell's argument named like a clip is not checked as one; an
    annotated one is checked by its kind, whatever its name."""

    class OwnCell(kg.GatedCell):
        def __init__(self, units, time_clip="any", limit: Clip = None, **kwargs):
            super().__init__(**arguments(locals()))
            self.state_size = [units]
            self.output_size = units

    assert OwnCell(2, time_clip="not a number").time_clip == "not a number"
    assert OwnCell(2, limit=3).limit == 3.0
    with pytest.raises(ValueError, match="limit"):
        OwnCell(2, limit=-1.0)
    assert OwnCell(2, limit=2).get_config()["limit"] == 2.0


@pytest.mark.parametrize("cls", [kg.MinGRU, kg.MinLSTM])
def test_log_space_takes_the_sigmoid_by_any_of_its_names(cls):
    x = np.zeros((1, 3, 2), "float32")
    for sigmoid in ("sigmoid", keras.activations.sigmoid, keras.ops.sigmoid):
        layer = cls(3, log_space=True, recurrent_activation=sigmoid)
        assert layer(x).shape == (1, 3)
