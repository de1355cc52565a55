"""TensorFlow Lite for Microcontrollers (TFLM): one-step models.

Why one step at a time: TFLM cannot resize a tensor, so it runs a
whole-sequence export (a `WHILE` loop, or TFLite's fused LSTM op, over a
resizable time axis) only at the length stored in the file, and its fused
LSTM kernel refuses peepholes, CIFG and the converter's int8 form of the op
(measured with the `tflite-micro` package: see the documentation's
Microcontrollers guide). The one-step model has no loop: each call takes
one time step and every recurrent state, and returns the output and the
new states, which is how microcontroller code loops over a sensor's
readings anyway.

TFLM's interpreter for the host ships in the `tflite-micro` package;
`to_tflite_micro` loads its result there (in a child process, since TFLM
ends the process on some refusals) and raises if TFLM refuses it.
"""

import logging
import os
import signal
import subprocess
import sys
import tempfile

import keras
import numpy as np

from keras_gates.export import parity
from keras_gates.export.graph import chain
from keras_gates.export.graph import check_model
from keras_gates.export.graph import write_archive
from keras_gates.export.samples import batches
from keras_gates.export.samples import record_steps
from keras_gates.export.streaming import step_function
from keras_gates.export.tensorflow_support import tensorflow

log = logging.getLogger("keras_gates.export")

# `to_tflite_micro` is public as `keras_gates.export.to_tflite_micro`.
__all__ = ["MicroRefusedError", "arena_size", "c_source", "load", "run_micro"]

QUANTIZATIONS = ("int16", "int8", None)

_PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_micro_probe.py")


def _interpreter_class():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as e:
        raise ImportError(
            "Running TFLite Micro models on the host needs the TFLM "
            'interpreter: pip install "keras-gates[micro]" (tflite-micro)'
        ) from e
    return runtime.Interpreter


def has_interpreter():
    """Whether the `tflite-micro` package (TFLM's interpreter) is installed."""
    try:
        _interpreter_class()
    except ImportError:
        return False
    return True


def _check_micro_layers(model):
    """A ValueError naming the first layer whose step TFLM cannot run."""
    from keras_gates.cells.clockwork_cell import ClockworkRNNCell
    from keras_gates.cells.min_gru_cell import MinGRUCell

    for layer in chain(model):
        if isinstance(layer, keras.layers.Embedding):
            raise ValueError(
                f"Layer '{layer.name}' is an Embedding, whose integer input "
                "neither calibrates nor runs on TFLite Micro's kernels (no "
                "SELECT op): export the model from the embedding's output "
                "(a model whose input is the embedded vectors) and look the "
                "vectors up in device code, a row of the embedding table per "
                "token."
            )
        cell = getattr(layer, "cell", None)
        cells = getattr(cell, "cells", [cell])
        if any(isinstance(c, MinGRUCell) and c.log_space for c in cells):
            raise ValueError(
                f"Layer '{layer.name}' is a MinGRU with `log_space=True`, "
                "whose step needs SELECT (no TFLM kernel) and GREATER_EQUAL "
                "(no 16-bit kernel): export it with `log_space=False` (the "
                "same function; copy the weights)."
            )
        if any(isinstance(c, ClockworkRNNCell) for c in cells):
            raise ValueError(
                f"Layer '{layer.name}' is a Clockwork RNN, which TFLite Micro "
                "cannot run: its clock (a step count and a modulo per module) "
                "needs TILE, which TFLM lacks, and ROUND, which has no 16-bit "
                "kernel, and a quantized step count would lose count."
            )


def _has_masks(model):
    return any(
        isinstance(layer, keras.layers.Masking)
        or (isinstance(layer, keras.layers.Embedding) and layer.mask_zero)
        for layer in chain(model)
    )


def _in_signature_order(content):
    """The model with its inputs ordered `inputs, state_0, state_1, ...` and
    its outputs `outputs, state_0, ...`, as TFLM addresses them by position."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    (signature,) = model.signatureDefs
    subgraph = model.subgraphs[signature.subgraphIndex]

    def ordered(maps, first):
        index = {
            m.name.decode() if isinstance(m.name, bytes) else m.name: m for m in maps
        }
        names = [first] + sorted(
            (n for n in index if n.startswith("state_")), key=lambda n: int(n[6:])
        )
        if sorted(names) != sorted(index):
            raise RuntimeError(
                f"Unexpected signature of the step model: {sorted(index)}"
            )
        return [index[n].tensorIndex for n in names]

    subgraph.inputs = ordered(signature.inputs, "inputs")
    subgraph.outputs = ordered(signature.outputs, "outputs")
    builder = flatbuffers.Builder(len(content) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def to_tflite_micro(
    model, representative_data=None, *, quantization="int16", check=True
):
    """The bytes of a one-step .tflite model that TFLM runs.

    The model takes one time step, batch 1: input 0 is the step's input
    `(1, ...)`, inputs 1, 2, ... the recurrent states `(1, size)`; output 0
    is the model's output for that step, outputs 1, 2, ... the new states,
    in the same order (`step_function` says which state is which). Feed
    zeros as the first states and loop. Inputs and outputs are float32
    (a quantized model quantizes them on entry and dequantizes them on
    exit), so device code feeds a sensor's floats and copies each new state
    back into its input unchanged.

    Args:
        model: A built Keras model (TensorFlow backend) that can run a step
            at a time (`keras_gates.export.step_function`): embeddings,
            recurrent layers running forwards (every keras-gates layer but
            the Clockwork RNN and a log-space MinGRU, and Keras' LSTM, GRU
            and SimpleRNN), `Masking`, layers acting on each step alone;
            float32 (not mixed precision), no `Embedding`. Others raise a
            ValueError naming the layer and why.
            Masks are left out (TFLM's integer kernels lack their ops):
            device code feeds the real steps and skips padded ones, which
            gives what the masked model gives.
        representative_data: For a quantized model: input sequences, as
            the model takes them: one array `(sequences, steps, ...)` or an
            iterable of sequences `(steps, ...)` (a few hundred steps or
            more in all: quantization clips what they do not reach). The
            float model runs them from zero states, and the ranges of the
            inputs and of every state are calibrated on the values met
            there; data that leaves a tensor at one value (constant or
            all-zero inputs, a state that never moves) is refused, naming
            the tensor.
        quantization: `"int16"` (the default: int8 weights, int16
            activations, TFLM's integer kernels, no float op inside);
            `"int8"` (int8 activations too: smaller and faster on int8
            hardware, but a recurrent state's error compounds over the
            steps: on the Jena weather task of the documentation, 90% to
            99% of the classes agreed with Keras, against 98.5% to 100%
            with int16); or None (float32, for a
            microcontroller with a floating-point unit: Keras' numbers to
            float rounding, 4 bytes a weight; the scales that a quantized
            file stores make it the larger one for layers of a few dozen
            units).
        check: If True (the default) and the `tflite-micro` package is
            installed, the result is loaded and run in TFLM's interpreter
            (in a child process; a `MicroRefusedError` carries TFLM's
            message if TFLM refuses it), then run on up to 32 of the
            representative sequences (random ones for float32), or on the
            sequences given as `check`, and compared with the model: a
            `keras_gates.export.ParityError` lists the comparisons if one
            is off by more than 1e-5 (float32) or, quantized, 20% of the
            largest output over those sequences (quantization noise passes,
            a model that computes something else does not). Without the package, a warning says the model
            was not checked. False skips both.

    Returns:
        The .tflite model, as bytes (`c_source` writes it as a C array,
        `arena_size` measures the memory TFLM needs to run it).
    """
    tf = tensorflow()
    check_model(model)
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"Argument `quantization` must be one of {QUANTIZATIONS}. "
            f"Received: quantization={quantization!r}"
        )
    if (quantization is None) != (representative_data is None):
        raise ValueError(
            "`representative_data` is needed for a quantized model and only "
            f"then. Received: quantization={quantization!r}, "
            f"representative_data={'given' if representative_data is not None else None}"
        )
    _check_micro_layers(model)
    step, specs = step_function(model, batch_size=1, masking=False)
    samples = None
    if quantization is not None:  # refused before converting, if it must be
        samples = record_steps(model, representative_data, 1, masking=False)
    if _has_masks(model):
        log.info(
            "TFLite Micro: the model's masks are left out (TFLM's integer "
            "kernels lack the mask's ops): feed the real steps only and "
            "skip the padded ones in device code, which then gives the "
            "masked model's numbers."
        )
    log.info(
        "TFLite Micro: a one-step model (%s) with %d recurrent state(s) of "
        "sizes %s: TFLM runs neither a recurrent loop nor the fused LSTM op "
        "of a Keras layer (see keras_gates.export.micro).",
        "float32"
        if quantization is None
        else f"int8 weights, {quantization} activations",
        len(specs) - 1,
        [int(s.shape[-1]) for s in specs[1:]],
    )
    with tempfile.TemporaryDirectory() as export_dir:
        write_archive(model, export_dir, "step", step, specs)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            export_dir, signature_keys=["step"]
        )
        if quantization is None:
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        else:
            names = [spec.name for spec in specs]
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
                if quantization == "int16"
                else tf.lite.OpsSet.TFLITE_BUILTINS_INT8
            ]
            converter.representative_dataset = lambda: (
                dict(zip(names, sample, strict=True)) for sample in samples
            )
        try:
            content = converter.convert()
        except Exception as e:  # the converter's own error types vary
            raise ValueError(
                "TFLite's converter could not write the model with "
                f"quantization={quantization!r} (an op without a kernel of "
                f"that type, most often): {e}"
            ) from e
    content = _in_signature_order(content)
    if check is not False:
        if has_interpreter():
            _check_runs(content)
            data = representative_data if check is True else check
            results = check_micro(model, content, data, quantization)
            parity.raise_on_failure(results, "The TFLite Micro model")
        else:
            log.warning(
                "Not checked in TFLM's interpreter: the tflite-micro package "
                'is not installed (pip install "keras-gates[micro]").'
            )
    return content


def input_count(content):
    """How many inputs the .tflite model `content` has (read with the
    `tflite-micro` package's flatbuffer reader)."""
    from tflite_micro.python.tflite_micro import runtime

    try:
        model = runtime.convert_bytearray_to_object(bytearray(content))
        return len(model.subgraphs[0].inputs)
    except Exception as e:  # the flatbuffer reader fails in many ways
        raise ValueError(f"Not a .tflite model ({type(e).__name__}: {e}).") from e


def _probe(content, arena):
    """Loads `content` in TFLM with an arena of `arena` bytes and runs one
    step of zeros, in a child process; returns (ok, TFLM's output)."""
    try:
        count = input_count(content)
    except ValueError as e:
        return False, str(e)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.tflite")
        with open(path, "wb") as f:
            f.write(content)
        done = subprocess.run(
            # By path: `-m` would import keras_gates, and with it Keras.
            [sys.executable, _PROBE, path, str(arena), str(count)],
            capture_output=True,
            text=True,
            check=False,
        )
    output = (done.stdout + done.stderr).strip()
    if done.returncode < 0:  # TFLM aborts the process on some refusals
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        output += (
            f"\n(TFLM ended the check process with {name}, saying no more. "
            "It does so on a tensor it cannot scale (calibration data that "
            "leaves a tensor at one value) and on an op of a type it has no "
            "kernel for: try calibration sequences that vary, "
            "quantization='int16', or quantization=None (float32).)"
        )
    return done.returncode == 0 and "invoked" in done.stdout, output


def _generous_arena(content):
    return max(64 * 1024, 8 * len(content))


class MicroRefusedError(RuntimeError):
    """TFLite Micro's interpreter refused a model; the message has its
    words."""


def _refused(output):
    lines = [line for line in output.splitlines() if line.strip()]
    text = "\n".join(lines)[-2000:] or "(TFLM said nothing)"
    return MicroRefusedError("TFLite Micro's interpreter refused the model: " + text)


def _check_runs(content):
    """Raises unless TFLM allocates `content` and runs a step of it."""
    ok, output = _probe(content, _generous_arena(content))
    if not ok:
        raise _refused(output)


def arena_size(content):
    """The smallest tensor arena, in bytes (a multiple of 16), with which
    TFLM's interpreter (the `tflite-micro` package, this host) allocates
    and runs `content`. Give the device's arena this size plus the
    platform's margin: the host's 64-bit pointers make TFLM's own
    structures larger than on a 32-bit microcontroller, so the figure errs
    on the large side for them.

    Raises:
        RuntimeError: if TFLM refuses the model, with TFLM's message.
    """
    _interpreter_class()
    input_count(content)  # a ValueError for bytes that are not a model
    low, high = 0, _generous_arena(content)
    ok, output = _probe(content, high)
    while not ok and high < 64 * 2**20 and "allocate" in output:
        high *= 4
        ok, output = _probe(content, high)
    if not ok:
        raise _refused(output)
    while high - low > 16:
        middle = (low + high) // 32 * 16
        ok, _ = _probe(content, middle)
        low, high = (low, middle) if ok else (middle, high)
    return high


def load(content, arena=None):
    """TFLM's host interpreter of `content` (`arena`: bytes, default 64 KiB
    or 8 times the model's size, whichever is larger; `arena_size` measures
    the least)."""
    cls = _interpreter_class()
    input_count(content)  # a ValueError for bytes that are not a model
    arena = arena or _generous_arena(content)
    return cls.from_bytes(bytes(content), arena_size=arena)


def run_micro(content, sequences, interpreter=None):
    """Runs a `to_tflite_micro` model on the TFLM interpreter over each
    sequence, step by step from zero states.

    Args:
        content: The model's bytes.
        sequences: An array `(sequences, steps, ...)`, or one sequence
            `(steps, ...)`.
        interpreter: An interpreter from `load(content)`, to reuse.

    Returns:
        The outputs of every step, `(sequences, steps, ...)`.
    """
    interpreter = interpreter or load(content)
    count = input_count(content)
    shapes = [interpreter.get_input_details(i)["shape"] for i in range(count)]
    sequences = np.asarray(sequences, "float32")
    if sequences.ndim == len(shapes[0]):  # one sequence (steps, ...)
        sequences = sequences[None]
    if sequences.ndim != len(shapes[0]) + 1 or 0 in sequences.shape[:2]:
        raise ValueError(
            "`sequences` must be (sequences, steps, ...) with steps of shape "
            f"{tuple(shapes[0][1:])}, or one sequence. Received shape "
            f"{sequences.shape}"
        )
    results = []
    for sequence in sequences:
        states = [np.zeros(s, "float32") for s in shapes[1:]]
        outputs = []
        for x in sequence:
            interpreter.set_input(x[None], 0)
            for i, state in enumerate(states, 1):
                interpreter.set_input(state, i)
            interpreter.invoke()
            outputs.append(interpreter.get_output(0)[0])
            states = [interpreter.get_output(i) for i in range(1, count)]
        results.append(np.stack(outputs))
    return np.stack(results)


def op_list(content):
    """The builtin ops of the .tflite bytes `content` (sorted), or None when
    the bytes are not a .tflite model or `tflite-micro` is not installed:
    the ops that device code registers."""
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        return None
    try:
        model = runtime.convert_bytearray_to_object(bytearray(content))
        codes = [
            max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes
        ]
    except Exception:  # the flatbuffer reader fails in many ways
        return None
    names = {
        value: name
        for name, value in vars(runtime.schema_fb.BuiltinOperator).items()
        if not name.startswith("_")
    }
    return sorted({names.get(code, str(code)) for code in codes})


_C_KEYWORDS = frozenset(
    "alignas alignof and asm auto bool break case catch char class const "
    "constexpr continue default delete do double else enum explicit extern "
    "false float for friend goto if inline int long mutable namespace new "
    "noexcept not nullptr operator or private protected public register "
    "return short signed sizeof static struct switch template this throw "
    "true try typedef typename union unsigned using virtual void volatile "
    "while".split()
)


def c_source(content, name="model"):
    """The model as a C array, as `xxd -i` writes it, in a header and a
    source file: `{f"{name}.h": ..., f"{name}.cc": ...}`. The array is
    16-byte aligned (TFLM reads the flatbuffer in place) and `const`, so
    it stays in flash."""
    if not (name.isidentifier() and name.isascii()) or name in _C_KEYWORDS:
        raise ValueError(
            f"`name` must be a C identifier (ASCII, not a keyword). Received: name={name!r}"
        )
    if not isinstance(content, (bytes, bytearray)):
        raise TypeError(f"`content` must be bytes. Received: {type(content).__name__}")
    rows = []
    for start in range(0, len(content), 12):
        chunk = content[start : start + 12]
        rows.append("  " + ", ".join(f"0x{byte:02x}" for byte in chunk) + ",")
    guard = f"KERAS_GATES_{name.upper()}_H_"
    ops = op_list(content)
    registered = ""
    if ops:
        registered = f"// Register these {len(ops)} ops in a MicroMutableOpResolver:\n"
        registered += "".join(f"//   {op}\n" for op in ops)
    header = (
        f"#ifndef {guard}\n#define {guard}\n\n"
        f"// A keras-gates one-step model for TFLite Micro ({len(content)} bytes).\n"
        "// Input 0: one time step; inputs 1..: the states. Output 0: the\n"
        "// step's output; outputs 1..: the new states, in the inputs' order.\n"
        f"{registered}"
        f"extern const unsigned char {name}[];\n"
        f"extern const unsigned int {name}_len;\n\n#endif  // {guard}\n"
    )
    source = (
        f'#include "{name}.h"\n\n'
        f"alignas(16) const unsigned char {name}[] = {{\n"
        + "\n".join(rows)
        + f"\n}};\nconst unsigned int {name}_len = {len(content)};\n"
    )
    return {f"{name}.h": header, f"{name}.cc": source}


def check_micro(model, content, data, quantization, count=32):
    """The TFLite Micro model `content` (of `to_tflite_micro`) in TFLM's
    interpreter against `model` on up to `count` sequences of `data`,
    their last steps (each step for a model that returns sequences)."""
    pairs = []
    limit, relative = parity.tolerance(quantization)
    if quantization is not None:
        limit = parity.MICRO_TOLERANCE
    if data is None:  # unpadded: a micro model leaves masks to device code
        data = parity.sample_inputs(model, count // 4, 13)[0]
    for i, (inputs,) in enumerate(batches(data, model, 1, name="check")[:count]):
        got = run_micro(content, inputs)
        want = parity.keras_outputs(model, [inputs])[0]
        if want.ndim != got.ndim:
            got = got[:, -1]
        pairs.append((f"sequence {i} ({inputs.shape[1]} steps)", [got], [want]))
    return parity.compare(pairs, limit, relative)
