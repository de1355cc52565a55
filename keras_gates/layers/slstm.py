from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.slstm_cell import SLSTMCell
from keras_gates.layers.cell_layer import CellLayer


@keras_gates_export
class SLSTM(CellLayer):
    """sLSTM layer of xLSTM (Beck et al., 2024): exponential gating, heads.

    A `keras.layers.RNN` over an `SLSTMCell`, used like `keras.layers.LSTM`:
    an exponential input gate with a normaliser state and a stabiliser
    state, and block-diagonal recurrent matrices of `num_heads` heads. The
    cell alone, as the official `xlstm` package's sLSTM cell; the official
    layer around it (its convolution, per-head projections and group norm)
    is `keras_gates.blocks.SLSTMBlock`. See `SLSTMCell` for the equations
    and the weights.

    Args:
        units: Positive integer, the size of the output and of the state.
        num_heads: Positive integer that divides `units`: the number of blocks
            of the block-diagonal recurrent matrices. Defaults to `4` (the
            official package's default).
        activation: Activation of the cell input `z~`. Defaults to `"tanh"`.
        recurrent_activation: Activation of the output gate (the input gate is
            exponential, the forget gate `σ` or `exp`). Defaults to `"sigmoid"`.
        exponential_forget_gate: Whether the forget gate is `exp(f~)` (the
            paper's other choice) rather than `σ(f~)`. Defaults to `False` (the
            official package's).
        use_bias: Whether the layer adds a bias vector to each gate's input
            product. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`, the weights of the inputs.
            Defaults to `"glorot_uniform"`.
        recurrent_initializer: Initializer of `recurrent_kernel`, the weights of
            the recurrent state. Defaults to `"orthogonal"`.
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        unit_forget_bias: If True, the forget-gate bias starts at 1 (the other
            blocks at `bias_initializer`), as in `keras.layers.LSTM`. Defaults
            to `True`.
        kernel_regularizer: Regularizer applied to `kernel`. Defaults to `None`.
        recurrent_regularizer: Regularizer applied to `recurrent_kernel`.
            Defaults to `None`.
        bias_regularizer: Regularizer applied to `bias`. Defaults to `None`.
        activity_regularizer: Regularizer applied to the layer's output.
            Defaults to `None`.
        kernel_constraint: Constraint applied to `kernel`. Defaults to `None`.
        recurrent_constraint: Constraint applied to `recurrent_kernel`. Defaults
            to `None`.
        bias_constraint: Constraint applied to `bias`. Defaults to `None`.
        dropout: Float in [0, 1): the fraction of the inputs dropped in
            training, with one mask per sequence. Defaults to `0.0`.
        recurrent_dropout: Float in [0, 1): the fraction of the state dropped
            where it enters the recurrent product in training, one mask per
            sequence. Defaults to `0.0`.
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
        input_projection: Whether the cell multiplies its inputs by `kernel`;
            with False its inputs are the four blocks' pre-activations (`4 *
            units` features, blocks i, f, z, o), as the official `sLSTMCell`
            takes them. Defaults to `True`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Call arguments:
        - `sequences`: A 3D tensor `(batch, timesteps, features)`.
        - `initial_state`: A list of the initial states, `h`, `c`, `n`, `m`, each `(batch, size)`; defaults
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
        ...     keras_gates.SLSTM(16, num_heads=4),
        ...     keras.layers.Dense(1),
        ... ])
        >>> tuple(model(np.zeros((4, 10, 8), "float32")).shape)
        (4, 1)
        >>> model.layers[0].count_params()  # 4 * (8 * 16 + 4 * 4 * 4 + 16)
        832
    """

    cell_class = SLSTMCell

    def __init__(
        self,
        units,
        *,
        num_heads=4,
        activation="tanh",
        recurrent_activation="sigmoid",
        exponential_forget_gate=False,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
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
        zero_output_for_mask=False,
        fast_path="auto",
        input_projection=True,
        **kwargs,
    ):
        super().__init__(**arguments(locals()))
