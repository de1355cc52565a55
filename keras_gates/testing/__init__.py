"""Reusable checks for recurrent layers; see `run_layer_test`."""

from keras_gates.testing.layer_test import check_config_round_trip
from keras_gates.testing.layer_test import check_mixed_precision
from keras_gates.testing.layer_test import check_saving_round_trip
from keras_gates.testing.layer_test import check_training_step
from keras_gates.testing.layer_test import run_layer_test

__all__ = [
    "check_config_round_trip",
    "check_mixed_precision",
    "check_saving_round_trip",
    "check_training_step",
    "run_layer_test",
]
