"""Deployment of Keras models with keras-gates layers: TF Serving, TFLite, ONNX.

TensorFlow only (this subpackage imports it; `import keras_gates` does not):

- `to_saved_model(model, export_dir)`: a SavedModel for TF Serving, core
  TensorFlow ops only, dynamic batch and time.
- `to_tflite(model, ...)`: the bytes of a .tflite model with builtin ops only
  (no Flex delegate), whole-sequence or one step at a time (`streaming`);
  the LSTM family on TFLite's fused LSTM op where it can (`fused`).
- `to_tflite_micro(model, representative_data)`: the bytes of a quantized
  one-step model that TensorFlow Lite for Microcontrollers runs (see
  `keras_gates.export.micro` for its arena size, C array and host runner).
- `to_onnx(model, path)`: an ONNX model through tf2onnx.
- `op_names(content)`: the builtin ops a .tflite model uses.

`to_saved_model`, `to_tflite` and `to_onnx` take `check=True` (or sample
sequences) to run what they wrote and compare it with the Keras model, as
`keras-gates export` does; `to_tflite_micro` checks by default. A
`ParityError` lists the comparisons when one is off.

Each works for any Keras model of the TensorFlow backend whose layers the
converters support; the keras-gates layers compile to plain TensorFlow ops
(a `While` loop, matrix products and element-wise math), so nothing of
keras-gates is needed where the exported model runs.
"""

from keras_gates.export.exporters import op_names
from keras_gates.export.exporters import to_onnx
from keras_gates.export.exporters import to_saved_model
from keras_gates.export.exporters import to_tflite
from keras_gates.export.micro import to_tflite_micro
from keras_gates.export.parity import ParityError
from keras_gates.export.streaming import step_function

__all__ = [
    "ParityError",
    "op_names",
    "step_function",
    "to_onnx",
    "to_saved_model",
    "to_tflite",
    "to_tflite_micro",
]
