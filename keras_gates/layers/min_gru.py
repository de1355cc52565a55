from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.min_gru_cell import MinGRUCell
from keras_gates.layers.cell_layer import CellLayer


@keras_gates_export
class MinGRU(CellLayer, cell_class=MinGRUCell):
    """Minimal GRU layer, parallel in time (Feng et al., 2024).

    The gate and candidate of a `MinGRUCell` see the input only, so the
    whole sequence is one GEMM followed by a parallel scan of the linear
    recurrence `h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h~_t`: ceil(log2(T))
    element-wise rounds instead of T sequential steps. It computes the same
    function as the cell run step by step, from any initial state and with
    masks. The scan compiles under XLA (`jit_compile=True`) and handles
    sequences of any length, 0 and 1 included. See `MinGRUCell` for the
    equations and the weights.

    The scan does more work than the loop (O(T log T) against O(T)), which
    pays off on parallel hardware only: with `fast_path="auto"` the layer
    scans on a GPU or TPU and runs the loop on a CPU, where the loop was
    measured 1.4-6.1x faster than the scan.

    The arguments it shares with every keras-gates layer (in the signature,
    positionally in the order of Keras' own layers), its call arguments and
    masking are documented once: the cell's in `keras_gates.GatedCell` and
    `keras_gates.RecurrentCell`, the recurrent layer's in
    `keras_gates.GatedRNN`.

    Args:
        units: Positive integer, dimensionality of the output space.
        log_space: Whether to use the paper's log-space form, exactly as
            `mingru-pytorch`: the candidate through `g` (positive states)
            and the scan in log space (see `MinGRUCell`). Defaults to
            `False`.
        projection_units: None, or a positive integer: the output is `h_t @
            projection_kernel` with this many features (`mingru-pytorch`'s
            `to_out`); the state stays `h_t`. Defaults to `None`.
        projection_initializer: Initializer of `projection_kernel`.
            Defaults to `"glorot_uniform"`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Examples:
        >>> import numpy as np, keras, keras_gates
        >>> model = keras.Sequential([
        ...     keras.Input((10, 8)),
        ...     keras_gates.MinGRU(16),
        ...     keras.layers.Dense(1),
        ... ])
        >>> tuple(model(np.zeros((4, 10, 8), "float32")).shape)
        (4, 1)
        >>> model.layers[0].count_params()  # 2 blocks: 2 * (8 * 16 + 16)
        288
    """

    def __init__(
        self,
        units,
        *,
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        chrono_init=None,
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        fast_path="auto",
        log_space=False,
        projection_units=None,
        projection_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**arguments(locals()))
