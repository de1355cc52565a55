"""Which TensorFlow the exporters run on, checked in one place.

TensorFlow is an optional dependency (`pip install "keras-gates[export]"`):
`tensorflow()` imports it with a one-line error naming the extra when it is
missing. Two features rely on modules that TensorFlow ships but does not
document as public API, whose behaviour can change with any release: the
rewrite of the fused LSTM op in the .tflite flatbuffer (and `op_names`),
which reads `tensorflow.lite.python.schema_py_generated` and
`tensorflow.lite.tools.flatbuffer_utils`, and the whole-sequence int8
quantization, which drives TFLite's calibrator through its private wrapper.
They run on the TensorFlow releases on which their tests were measured to
pass (`TESTED`) and refuse the others with one line; everything else of the
export runs on any TensorFlow the package accepts.
"""

import importlib.util

import keras

# The oldest and newest TensorFlow minor releases on which the export tests
# (tests/test_export.py, test_fused_lstm.py, test_cli.py) were measured to
# pass: 2.18.1, 2.19.1, 2.20.0 and 2.21.0. The `tensorflow` extra of
# pyproject.toml asks for this range.
TESTED = ((2, 18), (2, 21))


def tensorflow():
    """`import tensorflow`, with one-line errors for TensorFlow missing and
    for another backend."""
    if importlib.util.find_spec("tensorflow") is None:
        raise ImportError(
            "keras_gates.export needs TensorFlow, which is not installed: "
            'pip install "keras-gates[export]"'
        )
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "keras_gates.export needs the TensorFlow backend (it writes "
            "TensorFlow graphs). Set KERAS_BACKEND=tensorflow. Current "
            f"backend: {keras.backend.backend()}"
        )
    import tensorflow as tf

    return tf


def version():
    """The installed TensorFlow's `(major, minor)`."""
    major, minor = tensorflow().__version__.split(".")[:2]
    return int(major), int(minor)


def _tested_range():
    (a, b), (c, d) = TESTED
    return f"{a}.{b} to {c}.{d}"


def untested_reason(feature):
    """Why `feature` (which relies on TensorFlow's private modules) does not
    run on the installed TensorFlow, or None when it does."""
    installed = version()
    if TESTED[0] <= installed <= TESTED[1]:
        return None
    return (
        f"{feature} relies on TensorFlow modules that are not public API and "
        f"was tested on TensorFlow {_tested_range()}; this is TensorFlow "
        f"{tensorflow().__version__}"
    )


def require_tested(feature):
    """Raises a one-line ValueError unless the installed TensorFlow is one
    on which `feature` was tested."""
    reason = untested_reason(feature)
    if reason is not None:
        raise ValueError(
            f"{reason}. Install a TensorFlow in that range "
            f'(pip install "tensorflow>={TESTED[0][0]}.{TESTED[0][1]},'
            f'<{TESTED[1][0]}.{TESTED[1][1] + 1}").'
        )
