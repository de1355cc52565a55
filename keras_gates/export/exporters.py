"""SavedModel, TFLite and ONNX export. See `keras_gates.export`."""

import os
import shutil
import tempfile

import keras
import numpy as np
from keras import tree

from keras_gates.engine.paths import recurrent_forms
from keras_gates.export import fused_lstm
from keras_gates.export import parity
from keras_gates.export import samples as sample_data
from keras_gates.export.graph import Signature
from keras_gates.export.graph import check_float32
from keras_gates.export.graph import check_model as _check_model
from keras_gates.export.graph import walk
from keras_gates.export.graph import write_archive
from keras_gates.export.streaming import step_function
from keras_gates.export.tensorflow_support import require_tested
from keras_gates.export.tensorflow_support import tensorflow
from keras_gates.export.tensorflow_support import untested_reason

QUANTIZATIONS = (None, "float16", "dynamic_int8", "int8")


def input_names(model):
    """The serving signature's input keys (see `graph.Signature`)."""
    return Signature(model).inputs


def stateful_layers(model):
    """The names of the model's stateful layers, nested models included."""
    names = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            names += stateful_layers(layer)
        elif getattr(layer, "stateful", False):
            names.append(layer.name)
    return names


def _check_stateless(model, target):
    names = stateful_layers(model)
    if names:
        raise ValueError(
            f"Cannot export a stateful model as {target}: layers {names} "
            "carry their states from one call to the next, which the "
            "exported function would not. Export the streaming TFLite model "
            "(`to_tflite(model, streaming=True)`), which takes and returns "
            "every state, or rebuild the model with `stateful=False` and "
            "pass the states yourself."
        )


def _unrolled(model):
    """Whether a recurrent layer of `model` (nested, wrapped or a SlicedRNN
    level included) has `unroll=True`, which needs a fixed number of steps."""
    from keras_gates.layers.sliced_rnn import SlicedRNN

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            inner = [layer]
        elif isinstance(layer, keras.layers.Bidirectional):
            inner = [layer.forward_layer, layer.backward_layer]
        elif isinstance(layer, SlicedRNN):
            inner = list(layer.levels)
        else:
            inner = [layer]
        for sub in inner:
            if isinstance(sub, keras.Model) and _unrolled(sub):
                return True
            if isinstance(sub, keras.layers.Bidirectional):
                sub = sub.forward_layer
            if getattr(sub, "unroll", False):
                return True
    return False


def _sequence_specs(model, signature, batch_size):
    """Input specs with the given batch size and a dynamic time axis.

    The time axis is axis 1 of inputs of rank 3 and up and of integer inputs
    of rank 2 (token ids); a float input of rank 2 is a feature vector and
    keeps its shape unless its axis 1 is already dynamic. A model with an
    unrolled recurrent layer keeps the number of steps its inputs declare:
    an unrolled loop is as long as that.
    """
    tf = tensorflow()
    fixed_time = _unrolled(model)
    specs = []
    for tensor, name in zip(model.inputs, signature.inputs, strict=True):
        shape = [batch_size, *tensor.shape[1:]]
        is_tokens = len(shape) == 2 and "int" in str(tensor.dtype)
        if (len(shape) >= 3 or is_tokens) and not fixed_time:
            shape[1] = None
        specs.append(tf.TensorSpec(shape, tensor.dtype, name=name))
    return specs


def _check_time_distributed(model):
    """Raises a ValueError for a `TimeDistributed` layer that, traced over a
    time axis of unknown length (as every whole-sequence export traces),
    does not give one output step per input step: Keras 3.15's maps its
    layer over the batch size there instead of the steps, which would
    export a wrong number with no error. Decided by tracing the layer on a
    probe, so a Keras that computes it right passes."""
    tf = tensorflow()
    for layer in walk(model):
        if not isinstance(layer, keras.layers.TimeDistributed):
            continue
        rest = tuple(layer.input.shape[2:])
        traced = tf.function(
            lambda x, layer=layer: layer(x, training=False),
            input_signature=[tf.TensorSpec((None, None, *rest), layer.input.dtype)],
        )
        probe = tf.zeros((2, 5, *rest), layer.input.dtype)
        if traced(probe).shape[1] != 5:
            raise ValueError(
                f"Cannot export layer '{layer.name}' (TimeDistributed) over a "
                "time axis of any length: this Keras traces it into a graph "
                "that maps its layer over the batch size instead of the "
                "steps. Apply its layer directly (Dense and the other "
                "per-step layers act on the last axis of (batch, time, "
                "features)), or export one step at a time "
                "(to_tflite(streaming=True))."
            )


def _serving_function(model, signature):
    def serve(*inputs):
        # The mLSTM's recurrent form: one portable loop (engine.choose_form).
        with recurrent_forms():
            outputs = model(signature.pack_inputs(inputs), training=False)
        return dict(zip(signature.outputs, tree.flatten(outputs), strict=True))

    return serve


def check_export_dir(export_dir, overwrite=False):
    """Raises a `ValueError` unless `export_dir` can take a new SavedModel.

    A missing directory or an empty one is fine; missing parents are
    created, as TF Serving's `model/1` layout needs. A non-empty one is
    refused, since its old files would mix with the new ones, unless
    `overwrite` is True and it holds a SavedModel (a `saved_model.pb`),
    which `to_saved_model` then replaces. A directory that holds anything
    else is never removed.
    """
    path = os.path.abspath(os.fspath(export_dir))
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{path!r} is a file, not a directory for a SavedModel.")
    parent = os.path.dirname(path)
    while not os.path.exists(parent):  # the nearest existing ancestor
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise ValueError(f"Cannot write {path!r}: {parent!r} is not a directory.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"Cannot write {path!r}: {parent!r} is not writable.")
    if not os.path.isdir(path) or not os.listdir(path):
        return
    if not overwrite:
        raise ValueError(
            f"{path!r} is not empty: its files would mix with the new "
            "SavedModel's. Choose a new directory, or pass overwrite=True "
            "(`--overwrite`) to replace the SavedModel in it."
        )
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise ValueError(
            f"{path!r} is not empty and holds no SavedModel (no "
            "saved_model.pb): not removing it, even with overwrite=True."
        )


def _check_argument(check):
    if isinstance(check, (bool, np.bool_)) or check is None:
        return bool(check), None
    return True, check


def to_saved_model(model, export_dir, *, overwrite=False, check=False):
    """Writes `model` as a SavedModel for TF Serving.

    The `serving_default` signature takes the model's inputs under their
    `keras.Input` names (or the keys of a dict of inputs), with dynamic batch
    and time dimensions, and returns its outputs under the names of the
    output layers (or the keys of a dict of outputs; see
    `keras_gates.export.graph.Signature`). The graph holds core TensorFlow
    ops only: it loads with `tf.saved_model.load` in a process that never
    imports keras or keras_gates, and with `saved_model_cli`.

    Export on the machine type that serves: a `keras.layers.LSTM` or `GRU`
    traced on a GPU can carry cuDNN ops that a CPU server lacks.

    Args:
        model: A built Keras model (TensorFlow backend), without stateful
            layers (a `ValueError` says why).
        export_dir: The directory to write: missing or empty.
        overwrite: If True, an `export_dir` that holds a SavedModel is
            replaced. Defaults to False (a non-empty `export_dir` raises a
            `ValueError`).
        check: If True, the SavedModel is loaded and compared with the
            model on random inputs (padded at the right, left and inside
            where the model masks), as `keras-gates export` does; given the
            model's input sequences (see `representative_data` of
            `to_tflite`), on those. A `keras_gates.export.ParityError`
            lists the comparisons if one is off by more than 1e-5; the
            logger `"keras_gates.export"` logs them otherwise. Defaults to
            False.

    Returns:
        `export_dir`.
    """
    tensorflow()
    checking, data = _check_argument(check)
    _check_model(model)
    _check_stateless(model, "a SavedModel")
    _check_time_distributed(model)
    check_export_dir(export_dir, overwrite)
    signature = Signature(model)
    specs = _sequence_specs(model, signature, None)
    function = _serving_function(model, signature)
    if os.path.isdir(export_dir) and os.listdir(export_dir):
        shutil.rmtree(export_dir)  # a SavedModel that overwrite=True replaces
    write_archive(model, export_dir, "serving_default", function, specs)
    if checking:
        results = parity.check_saved_model(model, export_dir, data)
        parity.raise_on_failure(results, f"The SavedModel {export_dir}")
    return export_dir


def _check_batch_size(batch_size):
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or batch_size < 1
    ):
        raise ValueError(
            "Argument `batch_size` must be a positive integer: TFLite "
            "builtins need a fixed batch for recurrent loops. Received: "
            f"batch_size={batch_size!r}"
        )


def _calibration(model, representative_data, specs, streaming):
    """The calibration samples, each a list of arrays (one per argument of
    `specs`): batches of the model's inputs, or for a streaming model the
    steps' arguments recorded on the input sequences."""
    batch_size = specs[0].shape[0]
    if streaming:
        return sample_data.record_steps(model, representative_data, batch_size)
    samples = sample_data.batches(representative_data, model, batch_size)
    labels = [f"input {spec.name!r}" for spec in specs]
    sample_data.check_ranges(samples, labels)
    return samples


def _quantize(converter, quantization, samples, specs):
    tf = tensorflow()
    if quantization is None:
        return
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        names = [spec.name for spec in specs]
        converter.representative_dataset = lambda: (
            dict(zip(names, sample, strict=True)) for sample in samples
        )


FUSED = (True, False, "auto")


def to_tflite(
    model,
    *,
    batch_size=1,
    streaming=False,
    quantization=None,
    representative_data=None,
    fused="auto",
    check=False,
):
    """The bytes of a .tflite model of `model`, builtin ops only.

    No Flex delegate (select TensorFlow ops) is needed to run it: the model's
    LSTM-family layers become TFLite's fused `UNIDIRECTIONAL_SEQUENCE_LSTM`
    op where it can express them (see `fused`), the other recurrent loops
    one builtin `WHILE` op each, which TFLite supports with a fixed batch
    size. The time axis stays resizable at run
    time (`resize_tensor_input`, or a signature runner that resizes for you).

    Args:
        model: A built Keras model (TensorFlow backend). A stateful model
            exports with `streaming=True` only, whose states are explicit.
        batch_size: The fixed batch size of the TFLite model: feed batches
            of exactly this size (an interpreter resizes the input, but a
            recurrent loop keeps its tensors of this batch and answers with
            their rows; `litert.run_sequence_model` refuses another batch).
            Defaults to 1.
        streaming: If True, a one-step model under the signature `"step"`
            (see `keras_gates.export.step_function`): inputs `"inputs"` (one
            time step) and `"state_0"`, `"state_1"`, ...; outputs
            `"outputs"` and the new states under the same names. Models it
            cannot stream (Bidirectional, `go_backwards`, layers that mix
            time steps) raise a ValueError that says why. If False (the
            default), the whole sequence under `"serving_default"`, keyed as
            in `to_saved_model`.
        quantization: None (float32), `"float16"` (float16 weights),
            `"dynamic_int8"` (int8 weights, float activations) or `"int8"`
            (int8 weights and activations where TFLite supports them,
            calibrated on `representative_data`; float inputs and outputs).
            A whole-sequence int8 model needs every recurrent layer on the
            fused LSTM op (8-bit activations, 16-bit cell state), since
            TensorFlow 2.21's calibration crashes on a `WHILE` loop; a
            streaming model takes any layer.
        representative_data: For `"int8"`: the model's input sequences,
            as for every exporter: one array `(sequences, steps, ...)`, or
            an iterable of sequences `(steps, ...)` or of batches `(rows,
            steps, ...)` (sequences of different lengths); for a model of
            several inputs, an iterable of lists of arrays, one per input.
            A streaming model runs them step by step from zero states and
            is calibrated on the inputs and states each step meets (at
            most 2,000 steps, evenly spaced). Int8 clips what falls outside
            the ranges these samples reach: give a few hundred sequences
            (on a random 16-unit keras LSTM, 30 left one input in 60 off by
            0.43; 300 kept all 60 within 0.022). A tensor that keeps one
            value on every sample (constant or all-zero data) is refused.
        fused: For a whole-sequence model: `"auto"` runs every
            `PeepholeLSTM`, `CoupledLSTM` and `keras.layers.LSTM` (also in
            `Bidirectional`) that TFLite's fused
            `UNIDIRECTIONAL_SEQUENCE_LSTM` op can express through that op
            (peepholes, CIFG, `cell_clip`, projection and its clip; tanh
            and sigmoid, any mask; no `return_state`, no layer
            normalization; every `quantization`, the op's weights stored
            as the quantization stores weights), the others through a
            `WHILE` loop, and
            logs why (logger `"keras_gates.export"`); a layer called with
            `initial_state` keeps its loop too (the export zeroes the op's
            states before each call). `True` raises a ValueError that says
            why for a layer it cannot fuse, and names the layers of any
            other recurrent loop the file would keep; `False` fuses none.
            Defaults to `"auto"`.
        check: If True, the .tflite model is run with LiteRT and compared
            with the model on random inputs of batch `batch_size` (padded
            where the model masks), or, given input sequences (the forms of
            `representative_data`), on those; a streaming model is fed each
            sequence step by step from zero states. Tolerances: 1e-5 in
            float32, 1e-2 for float16, 0.1 for dynamic_int8, 5% of the
            largest output for int8. A `keras_gates.export.ParityError`
            lists the comparisons if one fails. Defaults to False.

    Returns:
        The .tflite model, as bytes.
    """
    _check_tflite_arguments(
        model, batch_size, streaming, quantization, representative_data, fused
    )
    checking, check_data = _check_argument(check)
    whole_int8 = quantization == "int8" and not streaming
    traced = _trace_for_tflite(
        model, batch_size, streaming, quantization, representative_data, fused
    )
    content = _convert(traced, quantization, fused, whole_int8)
    content = _complete_fused_ops(traced, content, quantization, fused, whole_int8)
    if whole_int8:
        from keras_gates.export import lstm_op

        content = lstm_op.quantize_int8(content, lambda: iter(traced.samples))
    if checking:
        results = parity.check_tflite(
            model,
            content,
            streaming=streaming,
            quantization=quantization,
            data=check_data,
        )
        parity.raise_on_failure(results, "The TFLite model")
    return content


def _check_tflite_arguments(
    model, batch_size, streaming, quantization, representative_data, fused
):
    _check_model(model)
    if not streaming:
        _check_stateless(model, "a whole-sequence TFLite model")
    _check_batch_size(batch_size)
    if quantization not in QUANTIZATIONS:
        raise ValueError(
            f"Argument `quantization` must be one of {QUANTIZATIONS}. "
            f"Received: quantization={quantization!r}"
        )
    if (quantization == "int8") != (representative_data is not None):
        raise ValueError(
            "`representative_data` is needed for quantization='int8' and "
            f"only then. Received: quantization={quantization!r}, "
            f"representative_data={'given' if representative_data is not None else None}"
        )
    if fused not in FUSED:
        raise ValueError(
            f"Argument `fused` must be one of {FUSED}. Received: fused={fused!r}"
        )
    if fused is True and streaming:
        raise ValueError(
            "fused=True applies to whole-sequence models: a streaming model "
            "runs one step at a time. Received: streaming=True."
        )


class _Traced:
    """What `to_tflite` converts: the model (a clone prepared for the fused
    op, if any), its function, endpoint and argument specs, the fused
    layers' plans and the layers left to loops (with why), and the
    calibration samples."""

    def __init__(self, model, function, endpoint, specs):
        self.model, self.function, self.endpoint, self.specs = (
            model,
            function,
            endpoint,
            specs,
        )
        self.plans = self.fallbacks = self.samples = None


def _trace_for_tflite(
    model, batch_size, streaming, quantization, representative_data, fused
):
    if streaming:
        function, specs = step_function(model, batch_size)
        traced = _Traced(model, function, "step", specs)
        if quantization == "int8":
            traced.samples = _calibration(model, representative_data, specs, True)
        return traced
    check_float32(model, "convert to TFLite")
    _check_time_distributed(model)
    signature = Signature(model)
    specs = _sequence_specs(model, signature, batch_size)
    whole_int8 = quantization == "int8"
    if whole_int8 and (fused is False or not fused_lstm.has_lstm_family(model)):
        raise ValueError(_WHOLE_INT8)
    samples = None
    if whole_int8:
        require_tested("Whole-sequence int8 quantization")
        samples = _calibration(model, representative_data, specs, False)
    fusing = fused and fused_lstm.has_lstm_family(model)
    untested = fusing and untested_reason("TFLite's fused LSTM op")
    if untested and fused is True:
        require_tested("TFLite's fused LSTM op")
    plans = fallbacks = None
    if untested:
        fused_lstm.log.info("Not fused (WHILE loops instead): %s.", untested)
    elif fusing:
        model, plans, fallbacks = fused_lstm.fusable_clone(model)
    traced = _Traced(
        model, _serving_function(model, signature), "serving_default", specs
    )
    traced.plans, traced.fallbacks, traced.samples = plans, fallbacks, samples
    return traced


def _check_fallbacks(traced, fused, whole_int8):
    """Logs the layers left to loops, which tracing recorded (a call with
    `initial_state` is known only then), or refuses them where the fused op
    is required."""
    if not traced.fallbacks:
        return
    reasons = "; ".join(f"{k}: {v}" for k, v in sorted(traced.fallbacks.items()))
    if fused is True:
        raise ValueError(
            f"fused=True, but these layers cannot run on TFLite's fused "
            f"LSTM op: {reasons}. Use fused='auto' to loop them instead."
        )
    fused_lstm.log.info("Not fused (WHILE loop instead): %s", reasons)
    if whole_int8:
        raise ValueError(f"{_WHOLE_INT8} Not fused: {reasons}.")


def _convert(traced, quantization, fused, whole_int8):
    """The converter's bytes, builtin ops only, quantized as asked (a
    whole-sequence int8 model later, by `lstm_op.quantize_int8`)."""
    tf = tensorflow()
    with tempfile.TemporaryDirectory() as export_dir:
        # From a SavedModel, not a concrete function: the latter can leave
        # weights as resource variables that fail at invoke.
        write_archive(
            traced.model, export_dir, traced.endpoint, traced.function, traced.specs
        )
        _check_fallbacks(traced, fused, whole_int8)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            export_dir, signature_keys=[traced.endpoint]
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if not whole_int8:
            _quantize(converter, quantization, traced.samples, traced.specs)
        return converter.convert()


def _complete_fused_ops(traced, content, quantization, fused, whole_int8):
    """The fused ops completed with their layers' plans; refuses a file that
    keeps loops where `fused=True` or whole-sequence int8 needs none."""
    if traced.plans:
        from keras_gates.export import lstm_op

        content, count = lstm_op.complete(
            content,
            traced.plans,
            for_calibration=whole_int8,
            dynamic_int8=quantization == "dynamic_int8",
        )
        if count != len(traced.plans):
            raise RuntimeError(
                f"{len(traced.plans)} LSTM layers were prepared for the fused op, "
                f"but the converter fused {count}."
            )
    loops = (fused is True or whole_int8) and "WHILE" in op_names(content)
    if fused is True and loops:
        looping = fused_lstm.looping_layers(traced.model) or ["(not identified)"]
        raise ValueError(
            "fused=True, but the model keeps recurrent loops (WHILE) that "
            f"TFLite's fused LSTM op cannot replace: layers {looping}. Only "
            "PeepholeLSTM, CoupledLSTM and keras LSTM fuse. Use fused='auto' "
            "to keep the loops."
        )
    if whole_int8 and loops:
        raise ValueError(
            f"{_WHOLE_INT8} This model also has a recurrent loop (WHILE) of "
            "another layer."
        )
    return content


_WHOLE_INT8 = (
    "quantization='int8' for a whole-sequence model needs every recurrent "
    "layer on TFLite's fused LSTM op (TensorFlow 2.21's int8 calibration "
    "crashes the process on a WHILE loop): PeepholeLSTM, CoupledLSTM or "
    "keras LSTM, fused='auto' or True. Otherwise use "
    "streaming=True, or 'dynamic_int8' (int8 weights)."
)


def op_names(content):
    """The names of the builtin ops a .tflite model uses (its operator
    codes), sorted: e.g. whether an export has `UNIDIRECTIONAL_SEQUENCE_LSTM`
    and no `WHILE`."""
    require_tested("keras_gates.export.op_names")
    from keras_gates.export.flatbuffer import Flatbuffer

    return Flatbuffer(content).op_names()


def to_onnx(model, path, *, opset=17, check=False):
    """Writes `model` as an ONNX model through tf2onnx.

    Inputs and outputs are named as in `to_saved_model`, with dynamic batch
    and time dimensions. Needs `tf2onnx` (the `onnx` extra).

    Args:
        model: A built Keras model (TensorFlow backend), without stateful
            layers.
        path: The .onnx file to write.
        opset: The ONNX opset. Defaults to 17.
        check: If True (or given input sequences, as for `to_tflite`),
            the file is run with onnxruntime and compared with the model as
            `to_saved_model(check=...)` does. Defaults to False.

    Returns:
        `path`.
    """
    tf = tensorflow()
    checking, data = _check_argument(check)
    _check_model(model)
    _check_stateless(model, "an ONNX model")
    _check_time_distributed(model)
    try:
        import tf2onnx
    except ImportError as e:
        raise ImportError(
            'to_onnx needs tf2onnx: pip install "keras-gates[onnx]"'
        ) from e
    signature = Signature(model)
    specs = _sequence_specs(model, signature, None)
    function = tf.function(_serving_function(model, signature), input_signature=specs)
    tf2onnx.convert.from_function(
        function, input_signature=specs, opset=opset, output_path=str(path)
    )
    if checking:
        results = parity.check_onnx(model, path, data)
        parity.raise_on_failure(results, f"The ONNX model {path}")
    return path
