from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.min_lstm_cell import MinLSTMCell
from keras_gates.layers.cell_layer import CellLayer


@keras_gates_export
class MinLSTM(CellLayer):
    """Minimal LSTM layer, parallel in time (Feng et al., 2024).

    The normalised forget and input gates and the candidate of a
    `MinLSTMCell` see the input only, so the whole sequence is one GEMM
    followed by a parallel scan of the linear recurrence `h_t = f'_t ⊙
    h_{t-1} + i'_t ⊙ h~_t`: ceil(log2(T)) element-wise rounds instead of T
    sequential steps. It computes the same function as the cell run step by
    step, from any initial state and with masks. See `MinLSTMCell` for the
    equations and the weights, and `MinGRU` for its one-gate sibling.

    The scan does more work than the loop (O(T log T) against O(T)), which
    pays off on parallel hardware only: with `fast_path="auto"` the layer
    scans on a GPU or TPU and runs the loop on a CPU.

    Args:
        units: Positive integer, the size of the output and of the state.
        recurrent_activation: Activation function of the gates. Defaults to
            `"sigmoid"`.
        use_bias: Whether the layer adds a bias vector to each gate's input
            product. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`, the weights of the inputs.
            Defaults to `"glorot_uniform"`.
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        kernel_regularizer: Regularizer applied to `kernel`. Defaults to `None`.
        bias_regularizer: Regularizer applied to `bias`. Defaults to `None`.
        activity_regularizer: Regularizer applied to the layer's output.
            Defaults to `None`.
        kernel_constraint: Constraint applied to `kernel`. Defaults to `None`.
        bias_constraint: Constraint applied to `bias`. Defaults to `None`.
        dropout: Float in [0, 1): the fraction of the inputs dropped in
            training, with one mask per sequence. Defaults to `0.0`.
        seed: Integer, the seed of the dropout masks. Defaults to `None`.
        return_sequences: If True, the output of every step, `(batch, timesteps,
            units)`; else the last step's, `(batch, units)`. Defaults to
            `False`.
        return_state: If True, the final states follow the output: `[output,
            *states]`. Defaults to `False`.
        go_backwards: If True, the sequence is read from its last step and the
            output sequence comes reversed. Defaults to `False`.
        stateful: If True, the final states of each batch are the initial states
            of the next (row i continues row i); the batch size must then be
            fixed, and `layer.reset_state()` starts over. Defaults to `False`.
        unroll: If True, the loop over time is unrolled into the graph: faster
            for a few steps, more memory, and the number of steps must be fixed.
            Defaults to `False`.
        zero_output_for_mask: If True, a masked step outputs zeros; else it
            repeats the previous output (as `keras.layers.Bidirectional` asks
            when it returns sequences). Defaults to `False`.
        fast_path: How the steps run: `False` the cell step by step, `True` the
            input products of every step in one matrix product before the loop
            (a parallel scan for a cell linear in its state), `"auto"` the fast
            path on a GPU or TPU and the step loop on a CPU (with the compiled
            loops for the LSTMs' training there). All give the same numbers.
            Defaults to `"auto"`.
        log_space: Whether to use the paper's log-space form, exactly as
            `mingru-pytorch`'s `minLSTM`: the candidate through `g` (positive
            states) and the scan in log space (see `MinLSTMCell`). Defaults to
            `False`.
        projection_units: None, or a positive integer: the output is `h_t @
            projection_kernel` with this many features (`mingru-pytorch`'s
            `to_out`); the state stays `h_t`. Defaults to `None`.
        projection_initializer: Initializer of `projection_kernel`. Defaults to
            `"glorot_uniform"`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Call arguments:
        - `sequences`: A 3D tensor `(batch, timesteps, features)`.
        - `initial_state`: A list of the initial states, `h`, each `(batch, size)`; defaults
          to zeros.
        - `mask`: A boolean tensor `(batch, timesteps)`, False at the steps to
          skip (padding, left, right or inside); a `keras.layers.Embedding(...,
          mask_zero=True)` or `keras.layers.Masking` before the layer passes it
          on. A masked step keeps the states and repeats the previous output
          (zeros with `zero_output_for_mask=True`).
        - `training`: Whether dropout is active; `fit` sets it.

    Input shape:
        3D tensor `(batch, timesteps, features)`.

    Output shape:
        `(batch, timesteps, units)` with `return_sequences=True`, else
        `(batch, units)`. With `return_state=True`, a list `[output,
        *states]`, the states as `initial_state` takes them.

    Examples:
        >>> import numpy as np, keras, keras_gates
        >>> model = keras.Sequential([
        ...     keras.Input((10, 8)),
        ...     keras_gates.MinLSTM(16),
        ...     keras.layers.Dense(1),
        ... ])
        >>> tuple(model(np.zeros((4, 10, 8), "float32")).shape)
        (4, 1)
        >>> model.layers[0].count_params()  # 3 blocks: 3 * (8 * 16 + 16)
        432
    """

    cell_class = MinLSTMCell

    def __init__(
        self,
        units,
        *,
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
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
