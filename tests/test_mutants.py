"""Jozefowicz et al.'s MUT1, MUT2, MUT3: what is particular to them. Their
numbers against tests/reference.py's step (masks, initial states,
go_backwards, stateful, Bidirectional, mixed precision, ...) run through
tests/helpers.py's CASES; their export is in tests/test_export.py."""

import keras
import numpy as np
import pytest

import keras_gates as kg
from tests.helpers import randomize
from tests.helpers import to_numpy

pytestmark = pytest.mark.numerics


def test_mut1_update_gate_ignores_the_state():
    """MUT1's z reads x_t alone: with the same inputs, two different
    initial states give the same update gate at the first step."""
    layer = kg.MutantGRU(4, mutant=1, return_sequences=True)
    layer.build((None, 3, 4))
    randomize(layer)
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
    gates = [
        kg.inspect.gate_activations(
            layer, x, initial_state=[np.full((2, 4), v, "float32")]
        )
        for v in (-1.0, 1.0)
    ]
    np.testing.assert_allclose(gates[0]["update"], gates[1]["update"], atol=1e-6)
    assert not np.allclose(gates[0]["reset"], gates[1]["reset"])


@pytest.mark.parametrize("name", ["MUT1", "mut2", 3])
def test_names_and_numbers_are_the_same_mutant(name):
    layer = kg.MutantGRU(4, mutant=name)
    assert layer.cell.mutant == int(str(name)[-1])
    assert kg.MutantGRU.from_config(layer.get_config()).cell.mutant == layer.cell.mutant


@pytest.mark.parametrize("mutant", [0, 4, "MUT4", True, None, 1.5])
def test_unknown_mutants_are_refused(mutant):
    with pytest.raises(ValueError, match="`mutant` must be 1, 2 or 3"):
        kg.MutantGRU(4, mutant=mutant)


def test_a_positional_mutant_is_pointed_to_its_keyword():
    with pytest.raises(ValueError, match="by keyword"):
        kg.MutantGRU(4, 3)


@pytest.mark.parametrize("mutant", [1, 2])
def test_mut1_and_mut2_need_units_input_features(mutant):
    layer = kg.MutantGRU(4, mutant=mutant)
    with pytest.raises(ValueError, match=rf"MUT{mutant} adds .* Dense\(4\)"):
        layer(np.zeros((1, 2, 3), "float32"))
    # MUT3 has its own input matrices: any width.
    assert tuple(kg.MutantGRU(4, mutant=3)(np.zeros((1, 2, 3), "float32")).shape) == (
        1,
        4,
    )


def test_the_cell_runs_in_keras_rnn():
    cell = kg.MutantGRUCell(4, mutant=2)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    layer = kg.MutantGRU(4, mutant=2, return_sequences=True)
    x = np.random.default_rng(1).normal(size=(2, 5, 4)).astype("float32")
    rnn.build(x.shape)
    layer.build(x.shape)
    randomize(layer)
    rnn.set_weights(layer.get_weights())
    np.testing.assert_allclose(to_numpy(rnn(x)), to_numpy(layer(x)), atol=1e-6)
