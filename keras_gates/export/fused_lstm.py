"""TFLite's fused `UNIDIRECTIONAL_SEQUENCE_LSTM` kernel for the LSTM family.

1. `fusable_clone(model)`: a clone of the model in which every eligible
   `keras_gates.PeepholeLSTM`, `keras_gates.CoupledLSTM` and
   `keras.layers.LSTM` runs through a composite TensorFlow function marked
   with the attributes that the TFLite converter replaces by one
   `UNIDIRECTIONAL_SEQUENCE_LSTM` op (the mechanism through which it fused
   Keras 2's LSTM: `api_implements = "lstm_..."`, six arguments `inputs,
   init_h, init_c, kernel, recurrent_kernel, bias`, five results). The
   composite receives the weights in the op's gate order i, f, c, o; a CIFG
   layer's input gate is passed as the op's forget gate with its signs
   flipped (ours: `f = 1 - i`; the op's CIFG: `i = 1 - f`). A mask is
   handled around the op (`_run_fused`).
2. `complete(content, plans)`: the converter fills the op's plain-LSTM
   inputs only and writes `cell_clip = 10`; this rewrites the flatbuffer to
   set the clips, add the peephole vectors and the projection, drop the
   input gate of a CIFG and zero the op's states before each call.
3. `quantize_int8(content, dataset)`: full-integer quantization of a model
   completed for calibration.

The flatbuffer is read and written with TensorFlow's own TFLite schema
module and `flatbuffer_utils`, and quantized with its calibrator: modules of
`tensorflow.lite` that TensorFlow ships but does not document as public API
(the calibrator is used through its private wrapper, see `quantize_int8`).

A layer that the op cannot express keeps today's `WHILE` loop, and the
reason is logged (`ineligible` says it).
"""

import logging
import uuid

import keras
import numpy as np

from keras_gates.cells.coupled_lstm_cell import CoupledLSTMCell
from keras_gates.cells.peephole_lstm_cell import PeepholeLSTMCell

log = logging.getLogger("keras_gates.export")

# The op's inputs (tensorflow/lite/kernels/lstm_shared.h).
_INPUT_TO_INPUT, _INPUT_TO_FORGET = 1, 2
_RECURRENT_TO_INPUT = 5
_CELL_TO_INPUT, _CELL_TO_FORGET, _CELL_TO_OUTPUT = 9, 10, 11
_PROJECTION_WEIGHTS = 16
_INPUT_GATE_BIAS, _FORGET_GATE_BIAS = 12, 13
_OUTPUT_STATE, _CELL_STATE = 18, 19


def _is_lstm_family(layer):
    return isinstance(layer, keras.layers.RNN) and isinstance(
        layer.cell, (PeepholeLSTMCell, CoupledLSTMCell, keras.layers.LSTMCell)
    )


def ineligible(layer):
    """Why the fused op cannot run `layer` (a string), or None when it can."""
    cell = layer.cell
    name = keras.activations.serialize
    dtype = keras.backend.standardize_dtype(cell.compute_dtype)
    if dtype != "float32":
        return (
            f"computes in {dtype} (a mixed precision policy; the op's "
            "float path is float32)"
        )
    if name(cell.activation) != "tanh":
        return f"activation {name(cell.activation)!r} (the op computes tanh)"
    if name(cell.recurrent_activation) != "sigmoid":
        return (
            f"recurrent_activation {name(cell.recurrent_activation)!r} (the op's "
            "gates are sigmoids)"
        )
    absent = [
        g for g in ("input", "forget", "output") if not getattr(cell, f"{g}_gate", True)
    ]
    if absent:
        return (
            f"{absent[0]}_gate=False (the op always computes the {absent[0]} "
            "gate; its CIFG couples the input gate to the forget gate, it "
            "cannot hold a gate at 1)"
        )
    for option, role in (
        ("input_activation", "block input"),
        ("output_activation", "cell output"),
    ):
        own = getattr(cell, option, None)
        if own is not None and name(own) != "tanh":
            return f"{option} {name(own)!r} (the op applies tanh to the {role})"
    if getattr(cell, "full_gate_recurrence", False):
        return "full_gate_recurrence (the op's gates see no earlier gates)"
    if getattr(cell, "layer_norm", False):
        return (
            "layer_norm (the op normalizes each gate's pre-activation, not the "
            "fused products and the cell state)"
        )
    if layer.return_state:
        return "return_state (the fused op does not output its final states)"
    if layer.stateful:
        return "stateful"
    return None


def _weights(layer):
    """`(kernel, recurrent_kernel, bias)` in the op's gate order i, f, c, o
    (4 blocks), and the rest of the plan."""
    cell = layer.cell

    def value(weight):
        return None if weight is None else keras.ops.convert_to_numpy(weight)

    kernel, recurrent, bias = (
        value(cell.kernel),
        value(cell.recurrent_kernel),
        value(cell.bias) if cell.use_bias else None,
    )
    units = cell.units
    if bias is None:
        bias = np.zeros(kernel.shape[1], kernel.dtype)
    peep = {}
    coupled = isinstance(cell, CoupledLSTMCell)
    if coupled:
        # Ours: blocks i, c, o and f = 1 - i. The op's CIFG: i = 1 - f, so
        # its forget gate is our input gate with the signs flipped, and its
        # (absent) input gate a placeholder of zeros.
        def four(w):
            i, c, o = np.split(w, 3, axis=-1)
            return np.concatenate([np.zeros_like(i), -i, c, o], axis=-1)

        kernel, recurrent, bias = four(kernel), four(recurrent), four(bias)
        if cell.input_peephole is not None:
            peep[_CELL_TO_FORGET] = -value(cell.input_peephole)
    elif isinstance(cell, PeepholeLSTMCell):
        for gate, index in (
            ("input", _CELL_TO_INPUT),
            ("forget", _CELL_TO_FORGET),
        ):
            weight = getattr(cell, f"{gate}_peephole")
            if weight is not None:
                peep[index] = value(weight)
    if getattr(cell, "output_peephole", None) is not None:
        peep[_CELL_TO_OUTPUT] = value(cell.output_peephole)
    if peep:
        # The op takes the peepholes all or none (it reads their presence
        # from the output gate's): the missing ones are zeros.
        needed = [_CELL_TO_FORGET, _CELL_TO_OUTPUT]
        if not coupled:
            needed.append(_CELL_TO_INPUT)
        for index in needed:
            peep.setdefault(index, np.zeros(units, kernel.dtype))
    projection = value(getattr(cell, "projection_kernel", None))
    plan = {
        "units": units,
        "coupled": coupled,
        "peepholes": peep,
        "projection": projection,
        "cell_clip": getattr(cell, "cell_clip", None) or 0.0,
        "projection_clip": getattr(cell, "projection_clip", None) or 0.0,
        "forget_gate_bias": bias[units : 2 * units].astype("float32"),
    }
    return (kernel, recurrent, bias), plan


def _composite(go_backwards, projection):
    """The composite function the converter fuses. Its body computes a plain
    LSTM (with the projection), which is what TensorFlow runs before the
    conversion replaces it; only its signature and attributes matter."""
    import tensorflow as tf

    attributes = {
        "api_implements": f"lstm_{uuid.uuid4()}",
        "api_preferred_device": "CPU",
        "time_major": False,
        "go_backwards": go_backwards,
    }

    @tf.function(autograph=False, experimental_attributes=attributes)
    def lstm(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
        # Made inside: a captured tensor would be a seventh argument, which
        # the converter takes for a mask and does not fuse.
        project = None if projection is None else tf.constant(projection)
        sequence = tf.transpose(inputs, (1, 0, 2))
        if go_backwards:
            sequence = tf.reverse(sequence, [0])

        def step(carry, x):
            h, c = carry
            z = tf.matmul(x, kernel) + tf.matmul(h, recurrent_kernel) + bias
            i, f, g, o = tf.split(z, 4, axis=-1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            if project is not None:
                h = tf.matmul(h, project)
            return h, c

        hs, cs = tf.scan(step, sequence, initializer=(init_h, init_c))
        outputs = tf.transpose(hs, (1, 0, 2))
        runtime = tf.constant(0.0)
        return outputs[:, -1], outputs, hs[-1], cs[-1], runtime

    return lstm


class _Record:
    """What the traced clone reports: the plans of the fused layers and why
    the others were not fused. A plain object, so that Keras' attribute
    tracking does not copy the list and the dict into wrappers."""

    def __init__(self):
        self.plans = []
        self.fallbacks = {}


class _StandIn(keras.layers.Layer):
    """A layer of the converted clone that stands in for `original`: same
    name, dtype, output shape and mask; the plans of its LSTM layers are
    read now, eagerly, since its call is traced. Not public."""

    def __init__(self, original, record, lstm_layers, **kwargs):
        super().__init__(name=original.name, dtype=original.dtype_policy, **kwargs)
        self.original = original
        self.record = record
        self.supports_masking = True
        self.directions = [_weights(layer) for layer in lstm_layers]

    def compute_output_shape(self, input_shape):
        return self.original.compute_output_shape(input_shape)

    def compute_mask(self, inputs, mask=None):
        return self.original.compute_mask(inputs, mask)


class FusedLSTM(_StandIn):
    """Stands in for an LSTM-family layer: runs the composite function
    (with, for a mask, the compaction of `_run_fused`). Not public."""

    def __init__(self, original, record, **kwargs):
        super().__init__(original, record, [original], **kwargs)

    def call(self, inputs, initial_state=None, mask=None, training=False):
        layer = self.original
        if initial_state is not None:
            return _loop(layer, self.record, inputs, initial_state, mask)
        return _run_fused(layer, self.directions[0], self.record, inputs, mask)


def _loop(layer, record, inputs, initial_state, mask):
    """`layer`'s own loop, for a call with `initial_state`: the export gives
    the fused op state tensors of its own, zeroed before every call."""
    record.fallbacks[layer.name] = (
        "called with initial_state (the export zeroes the fused op's states)"
    )
    return layer(inputs, initial_state=initial_state, mask=mask)


def _run_fused(layer, weights_and_plan, record, inputs, mask=None):
    """`layer`'s output through the composite function.

    The op has no mask, so a masked sequence is compacted first: each row's
    real steps move to the front in their order (a top-k of a key that ranks
    real steps before padding, each by time), the op runs over that, and
    each output step takes the op's output after the real steps seen so far
    (a gather by the mask's running count; zeros before the first). That is
    Keras' masked loop for any mask, left, right or inner padding: the state
    skips padded steps and the output repeats at them (or is zero with
    `zero_output_for_mask`). `go_backwards`
    reverses the input and the mask first, as Keras' loop does."""
    import tensorflow as tf

    (kernel, recurrent, bias), plan = weights_and_plan
    if not any(p is plan for p in record.plans):
        record.plans.append(plan)
    # The op's identity in the converted model: its forget-gate bias, which
    # the export fills with the plan's number (1, 2, ...); `complete` reads
    # it, then writes the layer's own bias in its place, so the number never
    # reaches a computation of the converted model.
    number = next(k for k, p in enumerate(record.plans) if p is plan) + 1
    units = plan["units"]
    numbered_bias = np.concatenate(
        [bias[:units], np.full(units, number, bias.dtype), bias[2 * units :]]
    )
    go_backwards = layer.go_backwards
    if mask is not None:
        mask = tf.cast(mask, tf.bool)
        if go_backwards:
            inputs = tf.reverse(inputs, [1])
            mask = tf.reverse(mask, [1])
            go_backwards = False
        steps = tf.shape(inputs)[1]
        time = tf.range(steps)
        key = tf.where(mask, steps - time, -time)
        order = tf.math.top_k(key, k=steps, sorted=True).indices
        inputs = tf.gather(inputs, order, batch_dims=1)
    # Fixed when the export traces (the converter needs it); unknown while
    # the clone is assembled.
    batch = inputs.shape[0] or tf.shape(inputs)[0]
    zeros_h = tf.zeros((batch, recurrent.shape[0]), inputs.dtype)
    zeros_c = tf.zeros((batch, plan["units"]), inputs.dtype)
    lstm = _composite(go_backwards, plan["projection"])
    last, outputs, _, _, _ = lstm(
        inputs,
        zeros_h,
        zeros_c,
        tf.constant(kernel),
        tf.constant(recurrent),
        tf.constant(numbered_bias),
    )
    if mask is None:
        return outputs if layer.return_sequences else last
    seen = tf.cumsum(tf.cast(mask, tf.int32), axis=1)
    outputs = tf.pad(outputs, [[0, 0], [1, 0], [0, 0]])  # quantizable
    if not layer.return_sequences:
        seen, mask = seen[:, -1], mask[:, -1]
    outputs = tf.gather(outputs, seen, batch_dims=1)
    if layer.zero_output_for_mask:
        # Keras outputs zeros at masked steps then (Bidirectional sets it
        # whenever it returns sequences), the last output too when the last
        # step is masked.
        outputs = outputs * tf.cast(mask, outputs.dtype)[..., None]
    return outputs


class FusedBidirectional(_StandIn):
    """Stands in for a `keras.layers.Bidirectional` over two eligible
    LSTM-family layers: one fused op per direction, merged as the wrapper
    merges. Not public."""

    def __init__(self, original, record, **kwargs):
        inner = [original.forward_layer, original.backward_layer]
        super().__init__(original, record, inner, **kwargs)

    def call(self, inputs, initial_state=None, mask=None, training=False):
        wrapper = self.original
        if initial_state is not None:
            return _loop(wrapper, self.record, inputs, initial_state, mask)
        forward, backward = self.directions
        y = _run_fused(wrapper.forward_layer, forward, self.record, inputs, mask)
        y_rev = _run_fused(wrapper.backward_layer, backward, self.record, inputs, mask)
        if wrapper.return_sequences:  # back in time order, as Keras
            y_rev = keras.ops.flip(y_rev, axis=1)
        mode = wrapper.merge_mode
        if mode == "concat":
            return keras.ops.concatenate([y, y_rev], axis=-1)
        if mode == "sum":
            return y + y_rev
        if mode == "ave":
            return (y + y_rev) / 2
        if mode == "mul":
            return y * y_rev
        return [y, y_rev]


def looping_layers(model):
    """The names of the recurrent layers of `model` (nested models' by
    their path) that the fused op does not run: outside the LSTM family, or
    a `SlicedRNN` (its levels run in loops of their own)."""
    from keras_gates.layers.sliced_rnn import SlicedRNN

    names = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            names += [f"{layer.name}/{name}" for name in looping_layers(layer)]
        elif isinstance(layer, SlicedRNN):
            names.append(layer.name)
        elif isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)):
            inner = (
                [layer.forward_layer, layer.backward_layer]
                if isinstance(layer, keras.layers.Bidirectional)
                else [layer]
            )
            if not all(_is_lstm_family(sub) for sub in inner):
                names.append(layer.name)
    return names


def has_lstm_family(model):
    """Whether any layer of `model` (or inside a Bidirectional) is an LSTM."""
    for layer in model.layers:
        inner = (
            [layer.forward_layer, layer.backward_layer]
            if isinstance(layer, keras.layers.Bidirectional)
            else [layer]
        )
        if any(_is_lstm_family(sub) for sub in inner):
            return True
    return False


def fusable_clone(model):
    """`(clone, plans, fallbacks)`: the model with its eligible LSTM-family
    layers standing in as `FusedLSTM`; `plans` fills as the clone is
    traced, `fallbacks` maps the name of each layer left as it is to why."""
    record = _Record()
    fallbacks = record.fallbacks

    def clone(layer):
        if isinstance(layer, keras.layers.Bidirectional):
            inner = (layer.forward_layer, layer.backward_layer)
            if not any(_is_lstm_family(sub) for sub in inner):
                return layer
            reasons = [
                ineligible(sub) if _is_lstm_family(sub) else "not an LSTM"
                for sub in inner
            ]
            reasons = [r for r in reasons if r is not None]
            if reasons:
                fallbacks[layer.name] = "; ".join(sorted(set(reasons)))
                return layer
            return FusedBidirectional(layer, record)
        if not _is_lstm_family(layer):
            return layer
        reason = ineligible(layer)
        if reason is not None:
            fallbacks[layer.name] = reason
            return layer
        return FusedLSTM(layer, record)

    copy = keras.models.clone_model(model, clone_function=clone)
    return copy, record.plans, record.fallbacks


def _buffer(model, array):
    """A new buffer holding `array` (little-endian, as it is typed), and its
    index."""
    from tensorflow.lite.python import schema_py_generated as schema

    buffer = schema.BufferT()
    array = np.ascontiguousarray(array, array.dtype.newbyteorder("<"))
    buffer.data = np.frombuffer(array.tobytes(), np.uint8).copy()
    model.buffers.append(buffer)
    return len(model.buffers) - 1


def _tensor(model, subgraph, array, name, weights="float32", inserted=None):
    """A new constant tensor of the float32 `array`, stored as the op's
    other weights are (`weights`): float32; float16, read through a new
    DEQUANTIZE op (appended to `inserted`, to run before the fused op); or
    int8 with one symmetric scale (the op's hybrid kernel)."""
    from tensorflow.lite.python import schema_py_generated as schema

    array = np.asarray(array, np.float32)
    tensor = schema.TensorT()
    tensor.shape = np.array(array.shape, np.int32)
    tensor.name = name.encode()
    if weights == "int8":
        scale = float(np.abs(array).max()) / 127 or 1.0
        tensor.type = schema.TensorType.INT8
        tensor.buffer = _buffer(model, np.round(array / scale).astype(np.int8))
        tensor.quantization = schema.QuantizationParametersT()
        tensor.quantization.scale = np.array([scale], np.float32)
        tensor.quantization.zeroPoint = np.array([0], np.int64)
    elif weights == "float16":
        tensor.type = schema.TensorType.FLOAT16
        tensor.buffer = _buffer(model, array.astype(np.float16))
    else:
        tensor.type = schema.TensorType.FLOAT32
        tensor.buffer = _buffer(model, array)
    subgraph.tensors.append(tensor)
    index = len(subgraph.tensors) - 1
    if weights != "float16":
        return index
    output = schema.TensorT()
    output.shape = np.array(array.shape, np.int32)
    output.type = schema.TensorType.FLOAT32
    output.buffer = 0
    output.name = name.encode() + b"_dequantized"
    subgraph.tensors.append(output)
    dequantized = len(subgraph.tensors) - 1
    inserted.append(
        _operator(model, schema.BuiltinOperator.DEQUANTIZE, [index], [dequantized])
    )
    return dequantized


def _state_tensor(model, subgraph, index):
    """A new zero-initialized variable tensor shaped as tensor `index`."""
    from tensorflow.lite.python import schema_py_generated as schema

    old = subgraph.tensors[index]
    tensor = schema.TensorT()
    tensor.shape = np.array(old.shape, np.int32)
    tensor.type = old.type
    tensor.buffer = 0  # the empty buffer: the interpreter zeroes a variable
    tensor.name = f"fused_lstm_state_{len(subgraph.tensors)}".encode()
    tensor.isVariable = True
    subgraph.tensors.append(tensor)
    return len(subgraph.tensors) - 1


def _prune(model):
    """Drops the DEQUANTIZE ops whose outputs nothing reads any more (a
    CIFG's placeholder input gate, the converter's zero states, in a
    float16 model) and empties the buffers of constant tensors that no op
    and no subgraph output reads, so the file does not carry them."""
    from tensorflow.lite.python import schema_py_generated as schema

    dequantize = schema.BuiltinOperator.DEQUANTIZE
    for subgraph in model.subgraphs:
        while True:
            read = {i for op in subgraph.operators for i in op.inputs}
            read |= set(subgraph.outputs)
            dead = [
                op
                for op in subgraph.operators
                if _builtin(model, op) == dequantize and not read & set(op.outputs)
            ]
            if not dead:
                break
            subgraph.operators = [
                op for op in subgraph.operators if not any(op is d for d in dead)
            ]
    used = set()
    for subgraph in model.subgraphs:
        read = {i for op in subgraph.operators for i in op.inputs}
        read |= set(subgraph.outputs) | set(subgraph.inputs)
        read |= {i for op in subgraph.operators for i in op.outputs}
        used |= {subgraph.tensors[i].buffer for i in read if i >= 0}
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            if tensor.buffer > 0 and tensor.buffer not in used:
                model.buffers[tensor.buffer].data = None


def _unshare_buffers(model):
    """Gives each constant tensor a buffer of its own. The converter lets
    constants with the same bytes share one (a `Masking` layer's float 0.0
    and an int32 0 of the mask's index ops); the quantizer then rewrites a
    shared buffer for the tensor it quantizes, in place, leaving the other
    with a buffer of the wrong size, which the interpreter refuses."""
    seen = set()
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            data = model.buffers[tensor.buffer].data if tensor.buffer > 0 else None
            if data is None or not len(data):
                continue
            if tensor.buffer in seen:
                copy = type(model.buffers[tensor.buffer])()
                copy.data = np.array(data, np.uint8)
                model.buffers.append(copy)
                tensor.buffer = len(model.buffers) - 1
            seen.add(tensor.buffer)


def _add_intermediates(model, ops):
    from tensorflow.lite.python import schema_py_generated as schema

    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            if not any(op is lstm for lstm in ops):
                continue
            indices = []
            for _ in range(5):
                tensor = schema.TensorT()
                tensor.shape = np.array([], np.int32)
                tensor.type = schema.TensorType.FLOAT32
                tensor.buffer = 0
                tensor.name = (
                    f"fused_lstm_intermediate_{len(subgraph.tensors)}".encode()
                )
                subgraph.tensors.append(tensor)
                indices.append(len(subgraph.tensors) - 1)
            op.intermediates = np.array(indices, np.int32)


def _opcode(model, code):
    """The index of the operator code `code`, added when absent."""
    from tensorflow.lite.python import schema_py_generated as schema

    for i, op_code in enumerate(model.operatorCodes):
        if max(op_code.builtinCode, op_code.deprecatedBuiltinCode) == code:
            return i
    op_code = schema.OperatorCodeT()
    op_code.builtinCode = code
    op_code.deprecatedBuiltinCode = min(code, 127)
    op_code.version = 1
    model.operatorCodes.append(op_code)
    return len(model.operatorCodes) - 1


def _builtin(model, op):
    """The builtin operator code of `op`."""
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def _insert_before(model, before):
    """Puts each `(op, new_ops)` pair's new ops right before `op`, in the
    order given, in whichever subgraph holds it."""
    for subgraph in model.subgraphs:
        operators = []
        for op in subgraph.operators:
            for target, new_ops in before:
                if target is op:
                    operators.extend(new_ops)
            operators.append(op)
        subgraph.operators = operators


def _operator(model, code, inputs, outputs, options_type=None, options=None):
    from tensorflow.lite.python import schema_py_generated as schema

    op = schema.OperatorT()
    op.opcodeIndex = _opcode(model, code)
    op.inputs = np.array(inputs, np.int32)
    op.outputs = np.array(outputs, np.int32)
    if options is not None:
        op.builtinOptionsType = options_type
        op.builtinOptions = options
    return op


def quantize_int8(content, dataset):
    """Full-integer quantization of a model completed `for_calibration`:
    TFLite's calibrator runs it on `dataset` (a generator of input lists),
    then, before each fused op, a SUB of a constant holding the state's
    zero point from itself writes zero into each (now integer) state
    tensor, as the ZEROS_LIKE of the float model does."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.python.optimize import calibrator
    from tensorflow.lite.tools import flatbuffer_utils

    # The calibrator's own loop runs the samples back to back, each from the
    # op's states left by the one before (the calibration model has no
    # zeroing: ZEROS_LIKE has no integer kernel). Preparing the interpreter
    # again before each sample resets its variable tensors to zeros, so the
    # statistics are those of calls that start from zero states.
    calibration = calibrator.Calibrator(content)
    for sample in dataset():
        calibration._calibrator.Prepare([list(np.shape(s)) for s in sample])
        calibration._calibrator.FeedTensor(sample)
    number = lambda dtype: np.dtype(dtype).num  # noqa: E731
    arguments = (
        number(np.float32),  # inputs and outputs stay float
        number(np.float32),
        True,  # ops without an integer kernel (the mask's index ops) stay
        number(np.int8),
        number(np.int32),
        False,  # per-channel quantization kept
    )
    try:  # TensorFlow 2.20 and on: and kept for dense layers too
        quantized = calibration._calibrator.QuantizeModel(*arguments, False)
    except TypeError:  # TensorFlow 2.18 and 2.19 have no such switch
        quantized = calibration._calibrator.QuantizeModel(*arguments)
    model = flatbuffer_utils.read_model_from_bytearray(bytes(quantized))
    lstm = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM
    dtypes = {
        schema.TensorType.INT8: np.int8,
        schema.TensorType.INT16: np.int16,
        schema.TensorType.FLOAT32: np.float32,
    }
    before = []
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            if _builtin(model, op) != lstm:
                continue
            zeroing = []
            for state in (op.inputs[_OUTPUT_STATE], op.inputs[_CELL_STATE]):
                old = subgraph.tensors[state]
                q = old.quantization
                zero_point = 0
                if q is not None and q.zeroPoint is not None and len(q.zeroPoint):
                    zero_point = int(q.zeroPoint[0])
                constant = schema.TensorT()
                constant.shape = np.array(old.shape, np.int32)
                constant.type = old.type
                constant.buffer = _buffer(
                    model, np.full(tuple(old.shape), zero_point, dtypes[old.type])
                )
                constant.quantization = q
                constant.name = f"fused_lstm_zero_{state}".encode()
                subgraph.tensors.append(constant)
                index = len(subgraph.tensors) - 1
                zeroing.append(
                    _operator(
                        model,
                        schema.BuiltinOperator.SUB,
                        [index, index],
                        [state],
                        schema.BuiltinOptions.SubOptions,
                        schema.SubOptionsT(),
                    )
                )
            before.append((op, zeroing))
    _insert_before(model, before)
    _compare_in_float(model)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _compare_in_float(model):
    """Runs the comparisons that the quantizer left on int8 inputs (a
    `Masking` layer's `x != mask_value`) on float inputs instead: TFLite's
    int8 comparison kernels abort the process unless both inputs share one
    scale (a constant gets a scale of its own), and in float the mask is
    Keras' exactly. An input quantized from a float tensor is read from
    that tensor; an int8 constant becomes a float constant of its value;
    any other is dequantized first."""
    from tensorflow.lite.python import schema_py_generated as schema

    codes = schema.BuiltinOperator
    comparisons = {
        codes.EQUAL,
        codes.NOT_EQUAL,
        codes.LESS,
        codes.LESS_EQUAL,
        codes.GREATER,
        codes.GREATER_EQUAL,
    }
    before = []
    for subgraph in model.subgraphs:
        sources = {
            op.outputs[0]: op.inputs[0]
            for op in subgraph.operators
            if _builtin(model, op) == codes.QUANTIZE
            and subgraph.tensors[op.inputs[0]].type == schema.TensorType.FLOAT32
        }
        for op in subgraph.operators:
            if _builtin(model, op) not in comparisons:
                continue
            inputs, inserted = list(op.inputs), []
            for k, index in enumerate(inputs):
                tensor = subgraph.tensors[index]
                if tensor.type != schema.TensorType.INT8:
                    continue
                if index in sources:
                    inputs[k] = sources[index]
                    continue
                data = model.buffers[tensor.buffer].data if tensor.buffer else None
                if data is not None and len(data):
                    q = tensor.quantization
                    shape = () if tensor.shape is None else tuple(tensor.shape)
                    raw = np.frombuffer(bytes(data), np.int8).reshape(shape)
                    values = (raw.astype(np.float32) - q.zeroPoint[0]) * q.scale[0]
                    inputs[k] = _tensor(model, subgraph, values, "compared_value")
                    continue
                output = schema.TensorT()
                output.shape = tensor.shape
                output.type = schema.TensorType.FLOAT32
                output.buffer = 0
                output.name = tensor.name + b"_float"
                subgraph.tensors.append(output)
                inputs[k] = len(subgraph.tensors) - 1
                inserted.append(
                    _operator(model, codes.DEQUANTIZE, [index], [inputs[k]])
                )
            op.inputs = np.array(inputs, np.int32)
            before.append((op, inserted))
    _insert_before(model, before)


def _zero_states_before(model, zeroing):
    """Before each fused op, a ZEROS_LIKE op per state tensor that writes
    zeros into it: the op writes its final states into those (variable)
    tensors, so without this every invocation of the interpreter would start
    from the last one's final states instead of zeros."""
    from tensorflow.lite.python import schema_py_generated as schema

    _insert_before(
        model,
        [
            (
                op,
                [
                    _operator(
                        model,
                        schema.BuiltinOperator.ZEROS_LIKE,
                        [state],
                        [state],
                        schema.BuiltinOptions.ZerosLikeOptions,
                        schema.ZerosLikeOptionsT(),
                    )
                    for state in states
                ],
            )
            for op, states in zeroing
        ],
    )


def _weight(model, subgraph, index):
    """`(values as float32, storage)` of a constant weight tensor: stored
    float32, int8 with a scale (dynamic-int8), or float16 behind a
    DEQUANTIZE op (float16); `(None, None)` otherwise."""
    from tensorflow.lite.python import schema_py_generated as schema

    types = schema.TensorType
    tensor = subgraph.tensors[index]
    data = model.buffers[tensor.buffer].data
    if data is None or not len(data):
        for op in subgraph.operators:
            if index in list(op.outputs) and len(op.inputs) == 1:
                source = subgraph.tensors[op.inputs[0]]
                raw = model.buffers[source.buffer].data
                if source.type == types.FLOAT16 and raw is not None and len(raw):
                    values = np.frombuffer(bytes(raw), "<f2").reshape(source.shape)
                    return values.astype(np.float32), "float16"
        return None, None
    if tensor.type == types.INT8:
        scale = tensor.quantization.scale
        values = np.frombuffer(bytes(data), np.int8).reshape(tensor.shape)
        return values.astype(np.float32) * np.float32(scale[0]), "int8"
    if tensor.type == types.FLOAT32:
        return np.frombuffer(bytes(data), "<f4").reshape(tensor.shape), "float32"
    return None, None


def _plan_of(model, subgraph, op, plans):
    """The plan whose number `_run_fused` wrote into `op`'s forget-gate bias,
    and that bias's storage."""
    values, storage = _weight(model, subgraph, op.inputs[_FORGET_GATE_BIAS])
    numbers = None if values is None else np.unique(values)
    if (
        numbers is None
        or len(numbers) != 1
        or numbers[0] not in range(1, len(plans) + 1)
    ):
        raise RuntimeError(
            "A fused LSTM op of the converted model does not carry a layer "
            f"number in its forget-gate bias (found {numbers}): it cannot be "
            "matched to its layer."
        )
    return plans[int(numbers[0]) - 1], storage


def _quantize_gate_weights(model, subgraph, inputs, options):
    """For a dynamic-int8 model whose op the converter left in float32 (it
    quantizes an LSTM op's weights all or none, none when its input weights
    are small): the op's eight gate matrices in int8 with one scale each,
    its hybrid kernel, when one of them has the 1024 elements from which
    the converter quantizes a weight. Returns the weights' storage."""
    matrices = [i for i in range(_INPUT_TO_INPUT, _CELL_TO_INPUT) if inputs[i] >= 0]
    sizes = [int(np.prod(subgraph.tensors[inputs[i]].shape)) for i in matrices]
    if max(sizes) < 1024:
        return "float32"
    for index in matrices:
        values, _ = _weight(model, subgraph, inputs[index])
        inputs[index] = _tensor(
            model, subgraph, values, f"gate_weights_{index}", "int8"
        )
    options.asymmetricQuantizeInputs = True
    return "int8"


def complete(content, plans, for_calibration=False, dynamic_int8=False):
    """Writes each plan's options and tensors into its fused op (matched by
    the number in its forget-gate bias, see `_run_fused`). Returns `(content,
    fused ops count)`.

    With `for_calibration`, each op gets the five intermediate tensors that
    TFLite's calibrator records (for the op's 8x8->16 integer kernel) and
    no zeroing of its states (`quantize_int8` adds it, quantized). With
    `dynamic_int8`, an op left in float32 gets int8 gate weights (see
    `_quantize_gate_weights`)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(content)
    lstm = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM
    done = 0
    zeroing = []  # (op, its state tensors)
    before = []  # (op, the DEQUANTIZE ops of its new float16 tensors)
    used = []
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            if _builtin(model, op) != lstm:
                continue
            # The storage of the op's weights (float32, or float16 or int8
            # for a quantized model) is that of the tensors added here.
            forget, weights = _weight(model, subgraph, op.inputs[_INPUT_TO_FORGET])
            if forget is None:
                raise RuntimeError("A fused LSTM op has no constant weights.")
            plan, bias_storage = _plan_of(model, subgraph, op, plans)
            if any(p is plan for p in used):
                raise RuntimeError(
                    "Two fused LSTM ops of the converted model carry the same "
                    "layer number."
                )
            used.append(plan)
            inputs = list(op.inputs)
            options = op.builtinOptions
            options.cellClip = float(plan["cell_clip"])
            options.projClip = float(plan["projection_clip"])
            if plan["coupled"]:
                for index in (
                    _INPUT_TO_INPUT,
                    _RECURRENT_TO_INPUT,
                    _CELL_TO_INPUT,
                    _INPUT_GATE_BIAS,
                ):
                    inputs[index] = -1
            if dynamic_int8 and weights == "float32":
                weights = _quantize_gate_weights(model, subgraph, inputs, options)
            inserted = []
            inputs[_FORGET_GATE_BIAS] = _tensor(
                model,
                subgraph,
                plan["forget_gate_bias"],
                "forget_gate_bias",
                bias_storage,
                inserted,
            )
            for index, vector in plan["peepholes"].items():
                inputs[index] = _tensor(
                    model, subgraph, vector, f"peephole_{index}", weights, inserted
                )
            if plan["projection"] is not None:
                inputs[_PROJECTION_WEIGHTS] = _tensor(
                    model,
                    subgraph,
                    plan["projection"].T,
                    "projection_weights",
                    weights,
                    inserted,
                )
            # Each op gets state tensors of its own: the converter passes it
            # the zeros constant that other ops (another layer's initial
            # state) may read too, and the op writes its final states into
            # these variable tensors.
            for index in (_OUTPUT_STATE, _CELL_STATE):
                inputs[index] = _state_tensor(model, subgraph, inputs[index])
            op.inputs = np.array(inputs, np.int32)
            zeroing.append((op, [inputs[_OUTPUT_STATE], inputs[_CELL_STATE]]))
            before.append((op, inserted))
            done += 1
    _insert_before(model, before)
    if for_calibration:
        _add_intermediates(model, [op for op, _ in zeroing])
        _unshare_buffers(model)
    else:
        _zero_states_before(model, zeroing)
    _prune(model)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), done
