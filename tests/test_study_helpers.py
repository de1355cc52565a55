"""The helpers every study trains with (examples/example_utils.py): the
plateau rule, the learning-rate tuning and the mean ± sd of the tables."""

import pathlib
import sys

import keras

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))

from example_utils import Plateau  # noqa: E402
from example_utils import mean_sd  # noqa: E402
from example_utils import tuned  # noqa: E402


def test_plateau_stops_restores_and_records():
    """The studies' stopping rule, fed a known sequence of validation
    losses: it stops after `patience` epochs without an improvement of
    `min_delta` (absolute, or relative for errors that fall over orders of
    magnitude), records the optimizer step of each epoch, and restores the
    weights of the lowest loss, which need not be the last improvement."""

    def feed(plateau, losses):
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        model.optimizer.build(model.trainable_variables)
        plateau.set_model(model)
        plateau.on_train_begin()
        model.stop_training = False
        for epoch, loss in enumerate(losses):
            model.optimizer.iterations.assign(10 * (epoch + 1))
            model.layers[0].kernel.assign([[float(epoch)]])
            plateau.on_epoch_end(epoch, {"val_loss": loss})
            if model.stop_training:
                break
        plateau.on_train_end()
        return model, epoch

    plateau = Plateau(patience=2, min_delta=0.5)
    # 3.8 is the lowest but not 0.5 below 4: patience runs out at epoch 3
    model, stopped = feed(plateau, [5.0, 4.0, 3.8, 3.9, 1.0])
    assert stopped == 3 and plateau.converged
    assert plateau.curve == [(10, 5.0), (20, 4.0), (30, 3.8), (40, 3.9)]
    assert (plateau.best, plateau.best_step) == (3.8, 30)
    assert float(model.layers[0].kernel.numpy()[0, 0]) == 2.0  # epoch of 3.8
    record = plateau.record()
    assert record["steps"] == 40 and record["converged"]
    scaled = plateau.record(scale=2.0)  # in a table's unit: both scaled
    assert scaled["best"] == 7.6 and scaled["curve"][2] == (30, 7.6)

    plateau = Plateau(patience=2, min_delta=0.1, relative=True)
    # each loss is below 90% of the last improvement until 1e-3
    model, stopped = feed(plateau, [1.0, 0.5, 0.1, 0.01, 1e-3, 9.5e-4, 9.9e-4, 1e-5])
    assert stopped == 6 and plateau.best == 9.5e-4
    plateau = Plateau(patience=3)
    model, stopped = feed(plateau, [3.0, 2.0, float("nan"), 1.0])
    assert not plateau.converged and plateau.best == 1.0  # NaN is no improvement


def test_tuning_takes_the_lowest_validation_score():
    seen = []

    def run(rate, seed):
        seen.append((rate, seed))
        return {"valid": (rate - 3e-3) ** 2}

    best, runs = tuned([1e-3, 3e-3, 1e-2], run)
    assert best == 3e-3 and seen == [(1e-3, 0), (3e-3, 0), (1e-2, 0)]
    assert set(runs) == {1e-3, 3e-3, 1e-2}
    assert tuned([1e-2], run) == (1e-2, {}) and len(seen) == 3  # nothing to choose
    assert mean_sd([1.0, 2.0, 3.0]) == "2.000 ± 1.000" and mean_sd([2.0]) == "2.000"
