from keras_gates import engine
from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.mlstm_cell import MLSTMCell
from keras_gates.layers.cell_layer import CellLayer


@keras_gates_export
class MLSTM(CellLayer):
    """mLSTM layer of xLSTM (Beck et al., 2024): a matrix memory per head.

    A `keras.layers.RNN` over an `MLSTMCell`, used like `keras.layers.LSTM`.
    Its gates and its queries, keys and values see the input only, so a
    whole sequence can run in three forms that compute the same numbers
    (within float32's rounding):

    - `"recurrent"`: step by step, as the cell; what streaming and export
      run.
    - `"parallel"`: every step at once through a `(steps, steps)` matrix of
      decays per head, as attention does: work and memory grow with the
      square of the length.
    - `"chunkwise"`: chunks of `chunk_size` steps in the parallel form,
      carried from chunk to chunk by the recurrence: linear in the length.

    `form="auto"` chooses by the length and the device
    (`keras_gates.engine.choose_form`); `layer.form_for(steps)` says which.
    Every form takes masks (left, right or inner padding), initial states,
    `go_backwards` and `stateful`. See `MLSTMCell` for the equations and the
    weights; the official layer around it (up-projection, convolution,
    skip, group norm) is `keras_gates.blocks.MLSTMBlock`.

    Args:
        units: Positive integer, the size of the output and of the state.
        num_heads: Positive integer that divides `units` and `key_units`: the
            number of heads, each with its own matrix memory. Defaults to `4`.
        key_units: None, or a positive integer: the size of the queries and
            keys, all heads together (the xLSTM-7B layer's are half `units`).
            Defaults to `None` (`units`).
        use_bias: Whether the layer adds a bias vector to each gate's input
            product. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`, the weights of the inputs.
            Defaults to `"glorot_uniform"`.
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        forget_bias_range: None, or a pair `(low, high)`: the forget gate's bias
            starts evenly spaced from `low` to `high` over the heads (the
            official package's `(3.0, 6.0)`, a long memory from the start); None
            leaves it to `bias_initializer`. Defaults to `(3.0, 6.0)`.
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
        input_projection: Whether the cell multiplies its inputs by `kernel`;
            with False its inputs are `q, k, v, i~, f~` side by side and it has
            no weights and no output gate. Defaults to `True`.
        form: How a sequence runs: `"recurrent"`, `"parallel"`, `"chunkwise"`,
            or `"auto"` (the recurrent form for one step or with `unroll`, the
            parallel form up to 64 steps, the chunkwise form beyond: on a CPU
            the chunkwise form was measured faster from 256 steps on). All give
            the same numbers; exports run the recurrent form. Defaults to
            `"auto"`.
        chunk_size: Positive integer, the steps of a chunk in the chunkwise
            form; a sequence of another length is padded to a multiple of it
            (padded steps change nothing). Defaults to `64`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Call arguments:
        - `sequences`: A 3D tensor `(batch, timesteps, features)`.
        - `initial_state`: A list of the initial states, `C`, `n`, `m`, each `(batch, size)`; defaults
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
        >>> import numpy as np, keras_gates
        >>> layer = keras_gates.MLSTM(8, num_heads=2, return_sequences=True)
        >>> tuple(layer(np.zeros((3, 100, 5), "float32")).shape)
        (3, 100, 8)
        >>> layer.form_for(50), layer.form_for(5000)
        ('parallel', 'chunkwise')
    """

    cell_class = MLSTMCell

    def __init__(
        self,
        units,
        *,
        num_heads=4,
        key_units=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        forget_bias_range=(3.0, 6.0),
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
        input_projection=True,
        form="auto",
        chunk_size=64,
        **kwargs,
    ):
        given = arguments(locals())
        form, chunk_size = given.pop("form"), given.pop("chunk_size")
        if form not in engine.FORMS:
            raise ValueError(
                f"Argument `form` must be one of {engine.FORMS}. "
                f"Received: form={form!r}"
            )
        if (
            isinstance(chunk_size, bool)
            or not isinstance(chunk_size, int)
            or chunk_size < 1
        ):
            raise ValueError(
                "Argument `chunk_size` must be a positive integer. "
                f"Received: chunk_size={chunk_size!r}"
            )
        super().__init__(**given)
        self.form = form
        self.chunk_size = chunk_size

    def form_for(self, steps, training=False):
        """The form that a call over `steps` steps takes: `"recurrent"`,
        `"parallel"` or `"chunkwise"` (`keras_gates.engine.choose_form`)."""
        del training  # every form trains
        return engine.choose_form(self.form, steps, unroll=self.unroll)

    def get_config(self):
        return {
            **super().get_config(),
            "form": self.form,
            "chunk_size": self.chunk_size,
        }
