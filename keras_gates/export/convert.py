"""The model exporters' former import path: `keras_gates.export.exporters`
now (or `keras_gates.export`)."""

from keras_gates.export.exporters import op_names
from keras_gates.export.exporters import to_onnx
from keras_gates.export.exporters import to_saved_model
from keras_gates.export.exporters import to_tflite

__all__ = ["op_names", "to_onnx", "to_saved_model", "to_tflite"]
