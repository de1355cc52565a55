"""`keras_gates.sampling.sample`: its distribution at several temperatures
against softmax(logits / T), the argmax at T = 0, and its seeds."""

import keras
import numpy as np
import pytest

from keras_gates import sampling
from tests.helpers import to_numpy

pytestmark = pytest.mark.numerics  # also run on JAX by .ci/run

LOGITS = np.log(np.array([0.05, 0.1, 0.15, 0.3, 0.4]))


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.0])
def test_frequencies_follow_the_tempered_softmax(temperature):
    """40,000 draws: each class's frequency within 5 standard errors of
    softmax(logits / T) (a chance of about 6e-7 each to fail by luck), and
    a chi-square statistic below the 0.9999 quantile for 4 degrees of
    freedom (23.5)."""
    draws = 40_000
    rows = np.tile(LOGITS, (draws, 1)).astype("float32")
    got = np.asarray(sampling.sample(rows, temperature, seed=11))
    counts = np.bincount(got, minlength=len(LOGITS))
    want = softmax(LOGITS / temperature)
    standard_error = np.sqrt(want * (1 - want) / draws)
    np.testing.assert_array_less(np.abs(counts / draws - want), 5 * standard_error)
    chi2 = ((counts - draws * want) ** 2 / (draws * want)).sum()
    assert chi2 < 23.5, chi2


def test_temperature_moves_the_distribution():
    rows = np.tile(LOGITS, (20_000, 1)).astype("float32")
    cold = np.asarray(sampling.sample(rows, 0.2, seed=1))
    hot = np.asarray(sampling.sample(rows, 5.0, seed=1))
    assert (cold == 4).mean() > 0.75  # softmax(logits / 0.2)[4] = 0.78
    assert (hot == 4).mean() < 0.3  # close to uniform: 0.23


def test_zero_temperature_is_the_argmax():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 7, 11)).astype("float32")
    got = np.asarray(sampling.sample(logits, 0))
    np.testing.assert_array_equal(got, logits.argmax(-1))
    assert got.shape == (3, 7)


def test_seeds():
    rows = np.tile(LOGITS, (500, 1)).astype("float32")
    a = np.asarray(sampling.sample(rows, 1.0, seed=5))
    b = np.asarray(sampling.sample(rows, 1.0, seed=5))
    c = np.asarray(sampling.sample(rows, 1.0, seed=6))
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    generator = keras.random.SeedGenerator(3)
    first = np.asarray(sampling.sample(rows, 1.0, seed=generator))
    second = np.asarray(sampling.sample(rows, 1.0, seed=generator))
    assert (first != second).any()  # the generator moves on
    again = keras.random.SeedGenerator(3)
    np.testing.assert_array_equal(
        np.asarray(sampling.sample(rows, 1.0, seed=again)), first
    )


def test_one_row_and_bad_temperatures():
    assert (
        np.asarray(sampling.sample(LOGITS.astype("float32"), 1.0, seed=0)).shape == ()
    )
    for bad in (-0.5, "hot", None, True):
        with pytest.raises(ValueError, match="temperature"):
            sampling.sample(LOGITS, bad)


# Sampling -------------------------------------------------------------------


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
