"""Backend-independent tensor operations used by the layers."""

from keras_gates.ops.scans import linear_scan
from keras_gates.ops.scans import log_linear_scan

__all__ = ["linear_scan", "log_linear_scan"]
