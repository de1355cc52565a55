from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.minimal_gru_cell import MinimalGRUCell
from keras_gates.layers.cell_layer import CellLayer


@keras_gates_export
class MinimalGRU(CellLayer, cell_class=MinimalGRUCell):
    """Minimal gated unit layer, a GRU with one gate (Zhou et al., 2016).

    A `keras.layers.RNN` over a `MinimalGRUCell`, used like
    `keras.layers.GRU`, with a third fewer parameters. Its gate `f` weights
    the NEW candidate (f = 1 rewrites the state), the opposite of the `z` of
    `keras.layers.GRU`. See `MinimalGRUCell` for the equations and the
    weights.

    Args:
        units: Positive integer, dimensionality of the output space.
        reset: If True (the MGU), the gate also scales the state the
            candidate sees; if False, the update-gate-only GRU. Defaults to
            `True`.
        activation: Activation of the candidate. Defaults to `"tanh"`.
        recurrent_activation: Activation of the gates. Defaults to
            `"sigmoid"`.
        use_bias: Whether the cell has a bias vector. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`. Defaults to `"glorot_uniform"`.
        recurrent_initializer: Initializer of `recurrent_kernel`. Defaults to `"orthogonal"`.
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        chrono_init: None, or an integer T of at least 3: chrono
            initialization of the memory gate's bias (Tallec & Ollivier,
            2018), each unit starting with a memory of 2 to T steps; set T
            to the longest dependency in the data. Defaults to `None`.
        kernel_regularizer: Regularizer of `kernel`. Defaults to `None`.
        recurrent_regularizer: Regularizer of `recurrent_kernel`. Defaults to `None`.
        bias_regularizer: Regularizer of `bias`. Defaults to `None`.
        activity_regularizer: Regularizer of the layer's output. Defaults to
            `None`.
        kernel_constraint: Constraint on `kernel`. Defaults to `None`.
        recurrent_constraint: Constraint on `recurrent_kernel`. Defaults to `None`.
        bias_constraint: Constraint on `bias`. Defaults to `None`.
        dropout: Float in [0, 1): fraction of the inputs dropped before the
            input projection, with one mask per sequence, in training only.
            Defaults to `0.0`.
        recurrent_dropout: Float in [0, 1): fraction of the recurrent state
            dropped before it enters the recurrent projection (see the cell).
            Defaults to `0.0`.
        seed: Integer seed of the dropout masks. Defaults to `None`.
        return_sequences: Whether to return the whole output sequence rather
            than the last output. Defaults to `False`.
        return_state: Whether to return the final states after the output, as
            `[output, *states]`. Defaults to `False`.
        go_backwards: Whether to process the sequence backwards and return
            the reversed output sequence. Defaults to `False`.
        stateful: Whether the final states of a batch are the initial states
            of the next one (needs a fixed batch size; `reset_state()` zeroes
            them). Defaults to `False`.
        unroll: Whether to unroll the loop over time (faster on short
            sequences of fixed length, more memory). Defaults to `False`.
        zero_output_for_mask: Whether masked steps output zeros instead of
            repeating the previous output. Defaults to `False`.
        fast_path: `True` computes `x @ kernel` for every step in one GEMM
            before the loop (a parallel scan for the linear recurrences of
            MinGRU and the SRU with `recurrent_gates=False`), `False` runs
            the cell step by step, `"auto"` takes the fast path on a GPU or
            TPU and the step loop on a CPU, where the loop was faster in most
            measurements. Both give the same numbers. Defaults to `"auto"`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A 3D tensor of shape `(batch, timesteps, features)`.
        mask: Optional boolean tensor of shape `(batch, timesteps)`; False
            marks a step to skip.
        training: Whether dropout is active.
        initial_state: Optional list of initial state tensors, in the cell's
            state order. Defaults to zeros.

    Masking:
        The layer supports masking (e.g. from `Embedding(mask_zero=True)` or
        `Masking`), with left or right padding: a masked step keeps the state
        and repeats the previous output (or outputs zeros with
        `zero_output_for_mask=True`).

    Examples:
        >>> import numpy as np, keras, keras_gates
        >>> model = keras.Sequential([
        ...     keras.Input((10, 8)),
        ...     keras_gates.MinimalGRU(16),
        ...     keras.layers.Dense(1),
        ... ])
        >>> tuple(model(np.zeros((4, 10, 8), "float32")).shape)
        (4, 1)
        >>> model.layers[0].count_params()  # 2 blocks: 2 * (8 * 16 + 16 * 16 + 16)
        800
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        *,
        reset=True,
        chrono_init=None,
        zero_output_for_mask=False,
        fast_path="auto",
        **kwargs,
    ):
        super().__init__(**arguments(locals()))
