"""The converted model's `UNIDIRECTIONAL_SEQUENCE_LSTM` ops, completed.

The converter fills the op's plain-LSTM inputs only and writes
`cell_clip = 10`. `complete` writes each layer's plan (made by
`keras_gates.export.fused_lstm`) into its op: the clips, the peephole
vectors, the projection, the CIFG's missing input gate, state tensors of
its own, zeroed before each call. `quantize_int8` quantizes a model
completed for calibration and zeroes its integer states. TensorFlow only;
imported lazily. Not public.
"""

import numpy as np

from keras_gates.export import calibration
from keras_gates.export.flatbuffer import NUMPY_TYPES
from keras_gates.export.flatbuffer import Flatbuffer
from keras_gates.export.flatbuffer import code
from keras_gates.export.flatbuffer import type_name

# The op's inputs (tensorflow/lite/kernels/lstm_shared.h).
_INPUT_TO_INPUT, _INPUT_TO_FORGET = 1, 2
_RECURRENT_TO_INPUT = 5
_CELL_TO = {"input": 9, "forget": 10, "output": 11}
_PROJECTION_WEIGHTS = 16
_INPUT_GATE_BIAS, _FORGET_GATE_BIAS = 12, 13
_OUTPUT_STATE, _CELL_STATE = 18, 19
LSTM = "UNIDIRECTIONAL_SEQUENCE_LSTM"
_COMPARISONS = (
    "EQUAL",
    "NOT_EQUAL",
    "LESS",
    "LESS_EQUAL",
    "GREATER",
    "GREATER_EQUAL",
)


def complete(content, plans, for_calibration=False, dynamic_int8=False):
    """Writes each plan's options and tensors into its fused op (matched by
    the number in its forget-gate bias, see `fused_lstm`). Returns
    `(content, fused ops count)`.

    With `for_calibration`, each op gets the five intermediate tensors that
    TFLite's calibrator records (for the op's 8x8->16 integer kernel) and
    no zeroing of its states (`quantize_int8` adds it, quantized). With
    `dynamic_int8`, an op left in float32 gets int8 gate weights (see
    `_quantize_gate_weights`)."""
    fb = Flatbuffer(content)
    zeroing = []  # (op, its state tensors)
    before = []  # (op, the DEQUANTIZE ops of its new float16 tensors)
    used = []
    for subgraph, op in fb.ops(LSTM):
        # The storage of the op's weights (float32, or float16 or int8 for a
        # quantized model) is that of the tensors added here.
        forget, weights = fb.weight(subgraph, op.inputs[_INPUT_TO_FORGET])
        if forget is None:
            raise RuntimeError("A fused LSTM op has no constant weights.")
        plan, bias_storage = _plan_of(fb, subgraph, op, plans)
        if any(p is plan for p in used):
            raise RuntimeError(
                "Two fused LSTM ops of the converted model carry the same layer number."
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
                _CELL_TO["input"],
                _INPUT_GATE_BIAS,
            ):
                inputs[index] = -1
        if dynamic_int8 and weights == "float32":
            weights = _quantize_gate_weights(fb, subgraph, inputs, options)
        inserted = []
        inputs[_FORGET_GATE_BIAS] = fb.add_constant(
            subgraph,
            plan["forget_gate_bias"],
            "forget_gate_bias",
            bias_storage,
            inserted,
        )
        for gate, vector in plan["peepholes"].items():
            index = _CELL_TO[gate]
            inputs[index] = fb.add_constant(
                subgraph, vector, f"peephole_{index}", weights, inserted
            )
        if plan["projection"] is not None:
            inputs[_PROJECTION_WEIGHTS] = fb.add_constant(
                subgraph,
                plan["projection"].T,
                "projection_weights",
                weights,
                inserted,
            )
        # Each op gets state tensors of its own: the converter passes it the
        # zeros constant that other ops (another layer's initial state) may
        # read too, and the op writes its final states into these variable
        # tensors.
        for index in (_OUTPUT_STATE, _CELL_STATE):
            inputs[index] = fb.add_variable(subgraph, inputs[index])
        op.inputs = np.array(inputs, np.int32)
        zeroing.append((op, [inputs[_OUTPUT_STATE], inputs[_CELL_STATE]]))
        before.append((op, inserted))
    fb.insert_before(before)
    if for_calibration:
        _add_intermediates(fb, [op for op, _ in zeroing])
        fb.unshare_buffers()
    else:
        _zero_states_before(fb, zeroing)
    fb.prune()
    return fb.to_bytes(), len(used)


def quantize_int8(content, dataset):
    """Full-integer quantization of a model completed `for_calibration`:
    TFLite's calibrator runs it on `dataset` (a generator of input lists),
    then, before each fused op, a SUB of a constant holding the state's
    zero point from itself writes zero into each (now integer) state
    tensor, as the ZEROS_LIKE of the float model does."""
    fb = Flatbuffer(calibration.calibrate_and_quantize(content, dataset))
    before = []
    for subgraph, op in fb.ops(LSTM):
        zeroing = []
        for state in (op.inputs[_OUTPUT_STATE], op.inputs[_CELL_STATE]):
            old = subgraph.tensors[state]
            q = old.quantization
            zero_point = 0
            if q is not None and q.zeroPoint is not None and len(q.zeroPoint):
                zero_point = int(q.zeroPoint[0])
            values = np.full(tuple(old.shape), zero_point, NUMPY_TYPES[type_name(old)])
            constant = fb.add_tensor(
                subgraph,
                f"fused_lstm_zero_{state}",
                old.shape,
                old.type,
                fb.buffer(values),
                q,
            )
            zeroing.append(fb.op("SUB", [constant, constant], [state], "SubOptions"))
        before.append((op, zeroing))
    fb.insert_before(before)
    _compare_in_float(fb)
    return fb.to_bytes()


def _compare_in_float(fb):
    """Runs the comparisons that the quantizer left on int8 inputs (a
    `Masking` layer's `x != mask_value`) on float inputs instead: TFLite's
    int8 comparison kernels abort the process unless both inputs share one
    scale (a constant gets a scale of its own), and in float the mask is
    Keras' exactly. An input quantized from a float tensor is read from
    that tensor; an int8 constant becomes a float constant of its value;
    any other is dequantized first."""
    comparisons = {code(name) for name in _COMPARISONS}
    before = []
    for subgraph in fb.subgraphs:
        quantize = code("QUANTIZE")
        sources = {
            op.outputs[0]: op.inputs[0]
            for op in subgraph.operators
            if fb.op_code(op) == quantize
            and type_name(subgraph.tensors[op.inputs[0]]) == "FLOAT32"
        }
        for op in subgraph.operators:
            if fb.op_code(op) not in comparisons:
                continue
            inputs, inserted = list(op.inputs), []
            for k, index in enumerate(inputs):
                tensor = subgraph.tensors[index]
                if type_name(tensor) != "INT8":
                    continue
                if index in sources:
                    inputs[k] = sources[index]
                    continue
                data = fb.data(tensor)
                if data is not None:
                    q = tensor.quantization
                    shape = () if tensor.shape is None else tuple(tensor.shape)
                    raw = np.frombuffer(data, np.int8).reshape(shape)
                    values = (raw.astype(np.float32) - q.zeroPoint[0]) * q.scale[0]
                    inputs[k] = fb.add_constant(subgraph, values, "compared_value")
                    continue
                inputs[k] = fb.add_tensor(
                    subgraph, tensor.name + b"_float", tensor.shape
                )
                inserted.append(fb.op("DEQUANTIZE", [index], [inputs[k]]))
            op.inputs = np.array(inputs, np.int32)
            before.append((op, inserted))
    fb.insert_before(before)


def _zero_states_before(fb, zeroing):
    """Before each fused op, a ZEROS_LIKE op per state tensor that writes
    zeros into it: the op writes its final states into those (variable)
    tensors, so without this every invocation of the interpreter would start
    from the last one's final states instead of zeros."""
    fb.insert_before(
        [
            (
                op,
                [
                    fb.op("ZEROS_LIKE", [state], [state], "ZerosLikeOptions")
                    for state in states
                ],
            )
            for op, states in zeroing
        ]
    )


def _add_intermediates(fb, ops):
    """The five intermediate tensors of each op of `ops` that the
    calibrator records."""
    for subgraph in fb.subgraphs:
        for op in subgraph.operators:
            if not any(op is lstm for lstm in ops):
                continue
            indices = [
                fb.add_tensor(
                    subgraph, f"fused_lstm_intermediate_{len(subgraph.tensors)}", []
                )
                for _ in range(5)
            ]
            op.intermediates = np.array(indices, np.int32)


def _plan_of(fb, subgraph, op, plans):
    """The plan whose number `fused_lstm` wrote into `op`'s forget-gate bias,
    and that bias's storage."""
    values, storage = fb.weight(subgraph, op.inputs[_FORGET_GATE_BIAS])
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


def _quantize_gate_weights(fb, subgraph, inputs, options):
    """For a dynamic-int8 model whose op the converter left in float32 (it
    quantizes an LSTM op's weights all or none, none when its input weights
    are small): the op's eight gate matrices in int8 with one scale each,
    its hybrid kernel, when one of them has the 1024 elements from which
    the converter quantizes a weight. Returns the weights' storage."""
    matrices = [i for i in range(_INPUT_TO_INPUT, _CELL_TO["input"]) if inputs[i] >= 0]
    sizes = [int(np.prod(subgraph.tensors[inputs[i]].shape)) for i in matrices]
    if max(sizes) < 1024:
        return "float32"
    for index in matrices:
        values, _ = fb.weight(subgraph, inputs[index])
        inputs[index] = fb.add_constant(
            subgraph, values, f"gate_weights_{index}", "int8"
        )
    options.asymmetricQuantizeInputs = True
    return "int8"
