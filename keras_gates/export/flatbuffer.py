"""A small editor of .tflite files: add a tensor, add an op, insert ops
before others, prune what nothing reads.

The one module that imports TensorFlow's TFLite schema
(`tensorflow.lite.python.schema_py_generated`) and `flatbuffer_utils`:
modules that TensorFlow ships but does not document as public API. Ops,
tensor types and options are named by their schema names (`"SUB"`,
`"INT8"`, `"SubOptions"`). TensorFlow only; imported lazily. Not public.
"""

import numpy as np
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.tools import flatbuffer_utils

# Tensor types by schema name, and the NumPy type of their values.
NUMPY_TYPES = {"INT8": np.int8, "INT16": np.int16, "FLOAT32": np.float32}


def code(name):
    """The builtin operator code of the op named `name` (`"SUB"`)."""
    return getattr(schema.BuiltinOperator, name)


def tensor_type(name):
    """The tensor type named `name` (`"INT8"`)."""
    return getattr(schema.TensorType, name)


def type_name(tensor):
    """The schema name of `tensor`'s type."""
    return next(
        k
        for k, v in vars(schema.TensorType).items()
        if v == tensor.type and k.isupper()
    )


class Flatbuffer:
    """A .tflite model, unpacked for editing: `model` holds the schema's
    objects (subgraphs, tensors, operators, buffers); `to_bytes()` packs
    them again."""

    def __init__(self, content):
        self.model = flatbuffer_utils.read_model_from_bytearray(bytes(content))

    def to_bytes(self):
        return bytes(flatbuffer_utils.convert_object_to_bytearray(self.model))

    @property
    def subgraphs(self):
        return self.model.subgraphs

    # ------------------------------------------------------------- reading

    def op_code(self, op):
        """The builtin operator code of `op`."""
        op_code = self.model.operatorCodes[op.opcodeIndex]
        return max(op_code.builtinCode, op_code.deprecatedBuiltinCode)

    def op_names(self):
        """The names of the builtin ops of the model's operator codes,
        sorted."""
        names = {
            value: name
            for name, value in vars(schema.BuiltinOperator).items()
            if not name.startswith("_")
        }
        return sorted(
            {
                names.get(max(c.builtinCode, c.deprecatedBuiltinCode), "?")
                for c in self.model.operatorCodes
            }
        )

    def ops(self, name):
        """`(subgraph, op)` of every op named `name`, in order."""
        wanted = code(name)
        return [
            (subgraph, op)
            for subgraph in self.model.subgraphs
            for op in subgraph.operators
            if self.op_code(op) == wanted
        ]

    def data(self, tensor):
        """The bytes of a constant tensor's buffer, or None."""
        if not tensor.buffer:
            return None
        data = self.model.buffers[tensor.buffer].data
        return None if data is None or not len(data) else bytes(data)

    def weight(self, subgraph, index):
        """`(values as float32, storage)` of a constant weight tensor: stored
        float32, int8 with a scale (dynamic-int8), or float16 behind a
        DEQUANTIZE op (float16); `(None, None)` otherwise."""
        types = schema.TensorType
        tensor = subgraph.tensors[index]
        data = self.data(tensor)
        if data is None:
            for op in subgraph.operators:
                if index in list(op.outputs) and len(op.inputs) == 1:
                    source = subgraph.tensors[op.inputs[0]]
                    raw = self.data(source)
                    if source.type == types.FLOAT16 and raw is not None:
                        values = np.frombuffer(raw, "<f2").reshape(source.shape)
                        return values.astype(np.float32), "float16"
            return None, None
        if tensor.type == types.INT8:
            scale = tensor.quantization.scale
            values = np.frombuffer(data, np.int8).reshape(tensor.shape)
            return values.astype(np.float32) * np.float32(scale[0]), "int8"
        if tensor.type == types.FLOAT32:
            return np.frombuffer(data, "<f4").reshape(tensor.shape), "float32"
        return None, None

    # -------------------------------------------------------------- adding

    def buffer(self, array):
        """A new buffer holding `array` (little-endian, as it is typed), and
        its index."""
        buffer = schema.BufferT()
        array = np.ascontiguousarray(array, array.dtype.newbyteorder("<"))
        buffer.data = np.frombuffer(array.tobytes(), np.uint8).copy()
        self.model.buffers.append(buffer)
        return len(self.model.buffers) - 1

    def add_tensor(
        self, subgraph, name, shape, type_="FLOAT32", buffer=0, quantization=None
    ):
        """A new tensor (without data unless `buffer`), and its index."""
        tensor = schema.TensorT()
        tensor.shape = np.array(shape, np.int32)
        tensor.type = tensor_type(type_) if isinstance(type_, str) else type_
        tensor.buffer = buffer
        tensor.name = name if isinstance(name, bytes) else name.encode()
        tensor.quantization = quantization
        subgraph.tensors.append(tensor)
        return len(subgraph.tensors) - 1

    def add_constant(self, subgraph, array, name, storage="float32", inserted=None):
        """A new constant tensor of the float32 `array`, stored as `storage`
        says: float32; float16, read through a new DEQUANTIZE op (appended
        to `inserted`, to run before the op that reads it); or int8 with one
        symmetric scale. Returns the index of the tensor to read."""
        array = np.asarray(array, np.float32)
        if storage == "int8":
            scale = float(np.abs(array).max()) / 127 or 1.0
            quantization = schema.QuantizationParametersT()
            quantization.scale = np.array([scale], np.float32)
            quantization.zeroPoint = np.array([0], np.int64)
            values = self.buffer(np.round(array / scale).astype(np.int8))
            return self.add_tensor(
                subgraph, name, array.shape, "INT8", values, quantization
            )
        if storage != "float16":
            return self.add_tensor(
                subgraph, name, array.shape, "FLOAT32", self.buffer(array)
            )
        half = self.add_tensor(
            subgraph, name, array.shape, "FLOAT16", self.buffer(array.astype("f2"))
        )
        name = name if isinstance(name, bytes) else name.encode()
        dequantized = self.add_tensor(subgraph, name + b"_dequantized", array.shape)
        inserted.append(self.op("DEQUANTIZE", [half], [dequantized]))
        return dequantized

    def add_variable(self, subgraph, like):
        """A new variable tensor shaped and typed as tensor `like`, zeroed by
        the interpreter (the empty buffer), and its index."""
        old = subgraph.tensors[like]
        index = self.add_tensor(
            subgraph, f"fused_lstm_state_{len(subgraph.tensors)}", old.shape, old.type
        )
        subgraph.tensors[index].isVariable = True
        return index

    def op(self, name, inputs, outputs, options=None):
        """A new operator `name` (not yet in a subgraph: see
        `insert_before`); `options` names its options table, if any
        (`"SubOptions"`), which it gets with default values."""
        op = schema.OperatorT()
        op.opcodeIndex = self._opcode(code(name))
        op.inputs = np.array(inputs, np.int32)
        op.outputs = np.array(outputs, np.int32)
        if options is not None:
            op.builtinOptionsType = getattr(schema.BuiltinOptions, options)
            op.builtinOptions = getattr(schema, f"{options}T")()
        return op

    def _opcode(self, builtin):
        """The index of the operator code `builtin`, added when absent."""
        for i, op_code in enumerate(self.model.operatorCodes):
            if max(op_code.builtinCode, op_code.deprecatedBuiltinCode) == builtin:
                return i
        op_code = schema.OperatorCodeT()
        op_code.builtinCode = builtin
        op_code.deprecatedBuiltinCode = min(builtin, 127)
        op_code.version = 1
        self.model.operatorCodes.append(op_code)
        return len(self.model.operatorCodes) - 1

    def insert_before(self, before):
        """Puts each `(op, new_ops)` pair's new ops right before `op`, in the
        order given, in whichever subgraph holds it."""
        for subgraph in self.model.subgraphs:
            operators = []
            for op in subgraph.operators:
                for target, new_ops in before:
                    if target is op:
                        operators.extend(new_ops)
                operators.append(op)
            subgraph.operators = operators

    # ------------------------------------------------------------ removing

    def prune(self):
        """Drops the DEQUANTIZE ops whose outputs nothing reads any more and
        empties the buffers of constant tensors that no op and no subgraph
        output reads, so the file does not carry them."""
        dequantize = code("DEQUANTIZE")
        for subgraph in self.model.subgraphs:
            while True:
                read = {i for op in subgraph.operators for i in op.inputs}
                read |= set(subgraph.outputs)
                dead = [
                    op
                    for op in subgraph.operators
                    if self.op_code(op) == dequantize and not read & set(op.outputs)
                ]
                if not dead:
                    break
                subgraph.operators = [
                    op for op in subgraph.operators if not any(op is d for d in dead)
                ]
        used = set()
        for subgraph in self.model.subgraphs:
            read = {i for op in subgraph.operators for i in op.inputs}
            read |= set(subgraph.outputs) | set(subgraph.inputs)
            read |= {i for op in subgraph.operators for i in op.outputs}
            used |= {subgraph.tensors[i].buffer for i in read if i >= 0}
        for subgraph in self.model.subgraphs:
            for tensor in subgraph.tensors:
                if tensor.buffer > 0 and tensor.buffer not in used:
                    self.model.buffers[tensor.buffer].data = None

    def unshare_buffers(self):
        """Gives each constant tensor a buffer of its own. The converter lets
        constants with the same bytes share one (a `Masking` layer's float
        0.0 and an int32 0 of the mask's index ops); the quantizer then
        rewrites a shared buffer for the tensor it quantizes, in place,
        leaving the other with a buffer of the wrong size, which the
        interpreter refuses."""
        seen = set()
        buffers = self.model.buffers
        for subgraph in self.model.subgraphs:
            for tensor in subgraph.tensors:
                data = self.data(tensor)
                if data is None:
                    continue
                if tensor.buffer in seen:
                    copy = type(buffers[tensor.buffer])()
                    copy.data = np.frombuffer(data, np.uint8).copy()
                    buffers.append(copy)
                    tensor.buffer = len(buffers) - 1
                seen.add(tensor.buffer)
