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

    Args:
        units: Positive integer, dimensionality of the output space.
        recurrent_activation: Activation of the gate `z`. Defaults to
            `"sigmoid"`.
        use_bias: Whether the layer has a bias vector. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`. Defaults to `"glorot_uniform"`.
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        chrono_init: None, or an integer T of at least 3: chrono
            initialization of the gate's bias (Tallec & Ollivier, 2018),
            each unit starting with a memory of 2 to T steps. Defaults to
            `None`.
        kernel_regularizer: Regularizer of `kernel`. Defaults to `None`.
        bias_regularizer: Regularizer of `bias`. Defaults to `None`.
        activity_regularizer: Regularizer of the layer's output. Defaults to
            `None`.
        kernel_constraint: Constraint on `kernel`. Defaults to `None`.
        bias_constraint: Constraint on `bias`. Defaults to `None`.
        dropout: Float in [0, 1): fraction of the inputs dropped before the
            input projection, with one mask per sequence, in training only.
            Defaults to `0.0`.
        seed: Integer seed of the dropout mask. Defaults to `None`.
        return_sequences: Whether to return the whole output sequence rather
            than the last output. Defaults to `False`.
        return_state: Whether to return the final state after the output, as
            `[output, h]`. Defaults to `False`.
        go_backwards: Whether to process the sequence backwards and return
            the reversed output sequence. Defaults to `False`.
        stateful: Whether the final state of a batch is the initial state of
            the next one. Defaults to `False`.
        unroll: Used only with `fast_path=False`: whether to unroll the
            step-by-step loop. Defaults to `False`.
        zero_output_for_mask: Whether masked steps output zeros instead of
            repeating the previous output. Defaults to `False`.
        fast_path: `True`: the parallel scan; `False`: the cell step by
            step (same numbers); `"auto"`: the scan on a GPU or TPU, the
            steps on a CPU. Defaults to `"auto"`.
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

    Call arguments:
        inputs: A 3D tensor of shape `(batch, timesteps, features)`.
        mask: Optional boolean tensor of shape `(batch, timesteps)`.
        training: Whether dropout is active.
        initial_state: Optional list `[h_0]`. Defaults to zeros.

    Masking:
        A masked step keeps the state and repeats the previous output (zeros
        before the first valid step), or outputs zeros with
        `zero_output_for_mask=True`.

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
