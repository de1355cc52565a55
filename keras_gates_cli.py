"""The `keras-gates` command's entry point.

A module apart from the `keras_gates` package, whose import imports Keras:
with TensorFlow missing (a JAX-only install) and `KERAS_BACKEND` unset,
Keras' import fails on its default backend before any command could say
what is wrong. This module says it in one line first (exit status 2, bad
input), and runs the command on the TensorFlow backend, the one its exports
are written with, whatever `KERAS_BACKEND` says.
"""

import importlib.util
import os
import sys

BAD_INPUT = 2


def main(argv=None):
    if importlib.util.find_spec("tensorflow") is None:
        print(
            "keras-gates: error: the export command needs TensorFlow, which "
            'is not installed: pip install "keras-gates[export]" (TFLite '
            'Micro: "keras-gates[micro]"; ONNX: "keras-gates[onnx]")',
            file=sys.stderr,
        )
        return BAD_INPUT
    os.environ["KERAS_BACKEND"] = "tensorflow"
    from keras_gates.cli import main as run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
