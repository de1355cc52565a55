"""The reusable harness (keras_gates.testing) over every layer configuration,
and checks that the harness itself catches broken layers."""

import keras
import pytest

import keras_gates as kg
from keras_gates.testing import check_config_round_trip
from keras_gates.testing import run_layer_test
from tests.helpers import CASES
from tests.helpers import MAIN_CASES
from tests.helpers import UNITS

BATCH, STEPS = 2, 5


# Weight count, parameter count for input_dim, units.
def expected_weights(case, input_dim):
    cls, kwargs, _ = CASES[case]
    use_bias = kwargs.get("use_bias", True)
    n_bias = UNITS if use_bias else 0
    if cls in (kg.PeepholeLSTM, kg.CoupledLSTM):
        gates = ("input", "output")
        if cls is kg.PeepholeLSTM:  # Greff's NIG, NFG, NOG drop a block
            gates = [
                g
                for g in ("input", "forget", "output")
                if kwargs.get(f"{g}_gate", True)
            ]
        blocks = 1 + len(gates)
        default = gates if cls is kg.PeepholeLSTM else None
        peep = kwargs.get("peepholes", default) or []
        peep = [peep] if isinstance(peep, str) else peep
        out = kwargs.get("projection_units") or UNITS
        n = 2 + use_bias + len(peep)
        params = blocks * (input_dim * UNITS + out * UNITS + n_bias)
        params += len(peep) * UNITS
        if "projection_units" in kwargs:  # projection_kernel (units, P)
            n += 1
            params += UNITS * out
        if kwargs.get("layer_norm"):  # gamma, beta of the two products and c
            n += 6
            params += 2 * (2 * blocks * UNITS + UNITS)
        if kwargs.get("full_gate_recurrence"):  # gate_recurrent_kernel
            n += 1
            params += (len(gates) * UNITS) ** 2
    elif cls is kg.DepthGatedLSTM:
        layers = kwargs.get("num_layers", 2)
        coupled = kwargs.get("coupled", False)
        blocks = 3 if coupled else 4
        peep = kwargs.get("peepholes", "auto")
        if peep == "auto":
            peep = ["input", "output"] if coupled else ["input", "forget", "output"]
        peep = [peep] if isinstance(peep, str) else (peep or [])
        # Per layer: kernel, recurrent kernel, bias, peepholes; above the
        # first, a depth block in kernel and bias and two depth vectors.
        n = layers * (2 + use_bias + len(peep)) + 2 * (layers - 1)
        params = blocks * (input_dim * UNITS + UNITS * UNITS + n_bias)
        params += (layers - 1) * (
            (blocks + 1) * (UNITS * UNITS + n_bias) + blocks * UNITS * UNITS + 2 * UNITS
        )
        params += layers * len(peep) * UNITS
    elif cls is kg.ClockworkRNN:  # kernel, bias, one recurrent block column per module
        g = len(kwargs.get("periods", (1, 2, 4, 8)))
        m = UNITS // g
        n = 1 + use_bias + g
        params = input_dim * UNITS + n_bias + sum((g - i) * m * m for i in range(g))
    elif cls is kg.MutantGRU:  # W_x* and W_h* blocks per mutant, three biases
        mutant = int(str(kwargs["mutant"])[-1])
        x_blocks, h_blocks = {1: (2, 2), 2: (2, 3), 3: (3, 3)}[mutant]
        n = 2 + use_bias
        params = x_blocks * input_dim * UNITS + h_blocks * UNITS * UNITS + 3 * n_bias
    elif cls is kg.MinimalGRU:
        n = 2 + use_bias
        params = 2 * (input_dim * UNITS + UNITS * UNITS + n_bias)
    elif cls is kg.SLSTM:  # kernel, block-diagonal recurrent kernel, bias
        heads = kwargs.get("num_heads", 4)
        n = 2 + use_bias
        params = 4 * (input_dim * UNITS + UNITS * UNITS // heads + n_bias)
    elif cls is kg.MLSTM:  # kernel and bias: q, k, v, o, then i, f per head
        heads = kwargs.get("num_heads", 4)
        keys = kwargs.get("key_units") or UNITS
        n = 1 + use_bias
        width = 2 * keys + 2 * UNITS + 2 * heads
        params = input_dim * width + width * use_bias
    elif cls in (kg.MinGRU, kg.MinLSTM):
        blocks = 2 if cls is kg.MinGRU else 3
        n = 2
        params = blocks * (input_dim * UNITS + UNITS)
        if "projection_units" in kwargs:
            n += 1
            params += UNITS * kwargs["projection_units"]
    else:
        gates = kwargs.get("recurrent_gates", True)
        highway = kwargs.get("highway", "auto")
        projects = kwargs.get("skip_term", True) and (
            highway == "projection" or (highway == "auto" and input_dim != UNITS)
        )
        blocks = 4 if projects else 3
        rows = kwargs.get("input_projection_units") or input_dim
        n = 2 + gates
        params = blocks * rows * UNITS + 2 * UNITS * gates + 2 * UNITS
        if "input_projection_units" in kwargs:
            n += 1
            params += input_dim * rows
        if kwargs.get("layer_norm"):
            n += 2
            params += 2 * (UNITS if kwargs.get("normalize_after") else input_dim)
    return n, params


# Every configuration once; the states' shapes once per layer and path.
HARNESS_RUNS = [(case, False) for case in sorted(CASES)] + [
    (case, True) for case in MAIN_CASES
]


@pytest.mark.slow
@pytest.mark.parametrize("case, return_state", HARNESS_RUNS)
def test_layer_harness(case, return_state, tmp_path):
    cls, kwargs, input_dim = CASES[case]
    lstm = cls in (kg.PeepholeLSTM, kg.CoupledLSTM)
    out = kwargs.get("projection_units") or UNITS
    shape = [(BATCH, STEPS, out)]
    if return_state:
        if lstm:
            shape += [(BATCH, out), (BATCH, UNITS)]
        elif cls is kg.ClockworkRNN:  # h and the clock
            shape += [(BATCH, UNITS), (BATCH, 1)]
        elif cls is kg.SLSTM:  # h, c, n, m
            shape += [(BATCH, UNITS)] * 4
        elif cls is kg.MLSTM:  # C, n, m
            heads = kwargs.get("num_heads", 4)
            keys = kwargs.get("key_units") or UNITS
            shape += [(BATCH, keys * UNITS // heads), (BATCH, keys), (BATCH, heads)]
        elif cls is kg.DepthGatedLSTM:  # h and c per layer
            shape += [(BATCH, UNITS)] * (2 * kwargs.get("num_layers", 2))
        else:  # one state of `units` (a projected MinGRU outputs P features)
            shape += [(BATCH, UNITS)]
    n_weights, n_params = expected_weights(case, input_dim)
    run_layer_test(
        cls,
        {
            "units": UNITS,
            "return_sequences": True,
            "return_state": return_state,
            **kwargs,
        },
        (BATCH, STEPS, input_dim),
        expected_output_shape=shape if return_state else shape[0],
        expected_num_trainable_weights=n_weights,
        expected_num_params=n_params,
        # The training and mixed-precision checks do not depend on
        # return_state: run them once per configuration.
        run_training_check=not return_state,
        run_mixed_precision_check=not return_state,
        tmp_dir=str(tmp_path),
    )


@pytest.mark.parametrize("cls", [kg.PeepholeLSTM, kg.SRU, kg.MinGRU])
def test_harness_on_stateful_and_last_output(cls, tmp_path):
    input_dim = UNITS if cls is kg.SRU else 3
    run_layer_test(
        cls,
        {"units": UNITS, "stateful": True, "dropout": 0.2, "seed": 3},
        (BATCH, STEPS, input_dim),
        expected_output_shape=(BATCH, UNITS),
        # Keras does not track the state variables of a stateful RNN as weights.
        expected_num_non_trainable_weights=0,
        run_mixed_precision_check=False,
        tmp_dir=str(tmp_path),
    )


def test_cells_serialize_alone():
    for cell in [
        kg.PeepholeLSTMCell(3, peepholes=["forget"], cell_clip=2.0),
        kg.CoupledLSTMCell(3, peepholes="output"),
        kg.MinimalGRUCell(3, reset=False),
        kg.SRUCell(3, activation="tanh", recurrent_gates=False),
        kg.MinGRUCell(3, use_bias=False),
    ]:
        check_config_round_trip(cell)
        rnn = keras.layers.RNN(cell)
        check_config_round_trip(rnn)


# --- The harness must fail on broken layers. ---------------------------------


@keras.saving.register_keras_serializable(package="keras_gates_tests")
class ForgetsAnArgument(kg.MinimalGRU):
    """Its config round-trips to an equal config, but reloads as reset=True."""

    def get_config(self):
        config = super().get_config()
        config.pop("reset")
        return config


class NotRegistered(kg.MinimalGRU):
    pass


@keras.saving.register_keras_serializable(package="keras_gates_tests")
class FrozenWeight(kg.MinimalGRU):
    def build(self, sequences_shape, initial_state_shape=None):
        super().build(sequences_shape, initial_state_shape)
        self.cell.bias.trainable = False


@keras.saving.register_keras_serializable(package="keras_gates_tests")
class WrongShape(kg.MinimalGRU):
    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        return (sequences_shape[0], self.units + 1)


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (ForgetsAnArgument, {"reset": False}, "outputs changed on reload"),
        (NotRegistered, {}, "not registered"),
        (FrozenWeight, {}, "trainable weights"),
        (WrongShape, {}, "output shapes"),
    ],
)
def test_harness_catches_broken_layers(cls, kwargs, message, tmp_path):
    with pytest.raises(AssertionError, match=message):
        run_layer_test(
            cls,
            {"units": UNITS, **kwargs},
            (BATCH, STEPS, 3),
            expected_output_shape=(BATCH, UNITS),
            expected_num_trainable_weights=3,
            tmp_dir=str(tmp_path),
        )


def test_unit_forget_bias_starts_both_lstms_like_keras():
    """With unit_forget_bias the initial forget gate is σ(1), as in Keras' LSTM:
    the f block of the peephole LSTM's bias is 1, and the CIFG's input-gate
    block is -1 (its forget gate is 1 - i)."""
    peep = kg.PeepholeLSTM(UNITS)
    peep.build((None, STEPS, 3))
    bias = keras.ops.convert_to_numpy(peep.cell.bias).reshape(4, UNITS)
    assert (bias[1] == 1).all() and (bias[[0, 2, 3]] == 0).all()

    cifg = kg.CoupledLSTM(UNITS)
    cifg.build((None, STEPS, 3))
    bias = keras.ops.convert_to_numpy(cifg.cell.bias).reshape(3, UNITS)
    assert (bias[0] == -1).all() and (bias[1:] == 0).all()

    for layer in (
        kg.PeepholeLSTM(UNITS, unit_forget_bias=False),
        kg.CoupledLSTM(UNITS, unit_forget_bias=False),
    ):
        layer.build((None, STEPS, 3))
        assert not keras.ops.convert_to_numpy(layer.cell.bias).any()
