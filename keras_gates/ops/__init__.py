"""Backend-independent tensor operations used by the layers."""

from keras_gates.ops.linear_scan import linear_scan
from keras_gates.ops.linear_scan import log_linear_scan

__all__ = ["linear_scan", "log_linear_scan"]
