"""Loads a .tflite model in TFLM's host interpreter and runs one step of
zeros: `python _micro_probe.py MODEL ARENA_BYTES INPUTS`.

A child process of `keras_gates.export.micro`, since TFLM aborts the process
on some refusals. Prints "invoked" when the step ran.
"""

import sys

import numpy as np


def main(path, arena, inputs):
    from tflite_micro.python.tflite_micro import runtime

    with open(path, "rb") as f:
        content = f.read()
    interpreter = runtime.Interpreter.from_bytes(content, arena_size=arena)
    for index in range(inputs):
        details = interpreter.get_input_details(index)
        interpreter.set_input(np.zeros(details["shape"], details["dtype"]), index)
    interpreter.invoke()
    print("invoked", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
