"""Full-integer quantization through TFLite's calibrator.

The one module that touches the calibrator, which TensorFlow ships in
`tensorflow.lite.python.optimize` without documenting it as public API, and
its differences between TensorFlow versions. Used through its wrapper's
`_calibrator` so that the interpreter can be prepared again before each
sample (see `calibrate_and_quantize`). TensorFlow only; imported lazily.
Not public.
"""

import numpy as np
from tensorflow.lite.python.optimize import calibrator


def calibrate_and_quantize(content, dataset):
    """The bytes of `content` (a float .tflite model) with int8 weights and
    activations, calibrated on `dataset()` (an iterator of input lists);
    inputs and outputs stay float32, ops without an integer kernel stay
    float, per-channel quantization is kept."""
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
    return bytes(quantized)
