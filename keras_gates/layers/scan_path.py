"""What the parallel-scan fast paths (MinGRU, SRU with v = 0) share: input
preparation and Keras' masking semantics for the outputs. Not public."""

from keras import ops
from keras import tree

from keras_gates._device import accelerator_available
from keras_gates.ops import linear_scan


def scan_pays_off():
    """Whether `fast_path="auto"` should take the parallel scan.

    The scan does O(T log T) element-wise work in log2(T) rounds, each a
    memory-bound pass over the whole sequence: that pays off where many cores
    run each round in parallel, not on a CPU. Measured on a 2-core CPU
    (`python -m benchmarks.run --preset quick`), the MinGRU train step took
    0.13-0.20x the time of keras.layers.GRU step by step but 0.79-1.29x with
    the scan. So "auto" scans on a GPU or TPU only.
    """
    return accelerator_available()


def last_step(sequence, before_first):
    """`sequence[:, -1]`, or `before_first` when the sequence is empty."""
    steps = sequence.shape[1]
    if steps is None:  # unknown until run time: may be 0
        padded = ops.concatenate([ops.expand_dims(before_first, 1), sequence], 1)
        return padded[:, -1]
    return sequence[:, -1] if steps else before_first


def prepare_inputs(layer, sequences, mask, training):
    """The inputs in processing order.

    Returns `(dropped, sequences, valid)`: the inputs with the layer's input
    dropout mask applied (one mask per sequence), the inputs as given, and
    the mask as a boolean tensor of shape `(batch, steps, 1)` or None.
    """
    if tree.is_nested(mask):
        mask = mask[0]
    if layer.go_backwards:
        sequences = ops.flip(sequences, axis=1)
        mask = None if mask is None else ops.flip(mask, axis=1)
    dropped = layer._drop_sequence(sequences, training)
    valid = None if mask is None else ops.expand_dims(ops.cast(mask, "bool"), -1)
    return dropped, sequences, valid


def masked_identity(decay, update, valid):
    """Makes masked steps `h_t = 1 * h_{t-1} + 0`: the state is kept exactly."""
    if valid is None:
        return decay, update
    return ops.where(valid, decay, 1.0), ops.where(valid, update, 0.0)


def finish(layer, states, outputs, valid, initial_state):
    """`(last_output, outputs, [final_state])` with Keras' masking semantics.

    A masked step outputs zeros with `zero_output_for_mask`, else repeats the
    previous output (zeros before the first valid step). The repeat is itself
    a linear recurrence, `y_t = (1 - m_t) y_{t-1} + m_t o_t`, so it is one
    more scan, and exact: its factors are 0 and 1.
    """
    if valid is not None:
        if layer.zero_output_for_mask:
            outputs = ops.where(valid, outputs, 0.0)
        else:
            # `where`, not a product with the mask: a masked step's output
            # (the SRU's highway reads the padded input) may be inf or NaN.
            keep = ops.cast(valid, outputs.dtype)
            previous = layer.previous_output(ops.shape(initial_state)[0])
            outputs = linear_scan(1.0 - keep, ops.where(valid, outputs, 0.0), previous)
    final_state = last_step(states, initial_state)
    last_output = last_step(outputs, layer.previous_output(ops.shape(initial_state)[0]))
    return last_output, outputs, [final_state]
