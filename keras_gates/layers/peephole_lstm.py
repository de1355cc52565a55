import inspect

import keras
from keras import ops

from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.peephole_lstm_cell import ALL_GATES
from keras_gates.cells.peephole_lstm_cell import PeepholeLSTMCell
from keras_gates.layers.cell_layer import CellLayer

# Greff et al.'s variant options and their values in a plain LSTM.
VARIANT_OPTIONS = {
    "input_gate": True,
    "forget_gate": True,
    "output_gate": True,
    "input_activation": None,
    "output_activation": None,
    "full_gate_recurrence": False,
}


@keras_gates_export
class PeepholeLSTM(CellLayer):
    """LSTM layer with peephole connections (Gers & Schmidhuber, 2000).

    A `keras.layers.RNN` over a `PeepholeLSTMCell`, used like
    `keras.layers.LSTM`. The gates also look at the cell state; with every
    peephole at zero it is exactly a Keras LSTM. See `PeepholeLSTMCell` for
    the equations and the weights.


    Args:
        units: Positive integer, the size of the output and of the state.
        activation: Activation function of the candidate state (in the LSTMs
            also of the cell output, unless set apart). Defaults to `"tanh"`.
        recurrent_activation: Activation function of the gates. Defaults to
            `"sigmoid"`.
        use_bias: Whether the layer adds a bias vector to each gate's input
            product. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`, the weights of the inputs.
            Defaults to `"glorot_uniform"`.
        recurrent_initializer: Initializer of `recurrent_kernel`, the weights of
            the recurrent state. Defaults to `"orthogonal"`.
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        unit_forget_bias: If True, the forget-gate bias starts at ones. Defaults
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
        peepholes: The gates that get a peephole, from `"input"`, `"forget"` and
            `"output"`; a name, a list, or None (Greff's NP variant). Defaults
            to all three (every gate the cell has).
        input_gate: If False, there is no input gate: `i_t = 1` (Greff's NIG
            variant). Defaults to `True`.
        forget_gate: If False, there is no forget gate: `f_t = 1` (NFG).
            Defaults to `True`.
        output_gate: If False, there is no output gate: `o_t = 1` (NOG).
            Defaults to `True`.
        input_activation: The activation of the block input, `g` in `c_t = f_t ⊙
            c_{t-1} + i_t ⊙ g(z_c)`; `"linear"` is Greff's NIAF variant.
            Defaults to `None`: `activation`.
        output_activation: The activation of the cell output, `h` in `h_t = o_t
            ⊙ h(c_t)`; `"linear"` is Greff's NOAF variant. Defaults to `None`:
            `activation`.
        full_gate_recurrence: If True, the previous step's gate activations feed
            every gate through `gate_recurrent_kernel` (Greff's FGR variant);
            they are carried as a third state. Defaults to `False`.
        chrono_init: None, or an integer T of at least 3: chrono initialization
            (Tallec & Ollivier, 2018) of the bias of the gate that keeps the
            memory, for dependencies of up to about T steps; the other blocks
            keep `bias_initializer`. Defaults to `None`.
        peephole_initializer: Initializer of the peephole vectors. Defaults to
            `"zeros"` (a fresh layer starts as a plain LSTM).
        peephole_regularizer: Regularizer of the peephole vectors. Defaults to
            `None`.
        peephole_constraint: Constraint on the peephole vectors. Defaults to
            `None`.
        zero_output_for_mask: If True, a masked step outputs zeros; else it
            repeats the previous output (as `keras.layers.Bidirectional` asks
            when it returns sequences). Defaults to `False`.
        fast_path: How the steps run: `False` the cell step by step, `True` the
            input products of every step in one matrix product before the loop
            (a parallel scan for a cell linear in its state), `"auto"` the fast
            path on a GPU or TPU and the step loop on a CPU (with the compiled
            loops for the LSTMs' training there). All give the same numbers.
            Defaults to `"auto"`.
        cell_clip: If set, a positive float: the cell state is clipped to
            `[-cell_clip, cell_clip]` after each update. Defaults to `None`.
        projection_units: None, or a positive integer P: the output projection
            of LSTMP (Sak et al., 2014; TF1's `num_proj`), `h_t = (o_t ⊙
            tanh(c_t)) @ projection_kernel`; the output and the state `h` then
            have P features. Defaults to `None`.
        projection_clip: If set, a positive float: the projected output is
            clipped to `[-projection_clip, projection_clip]` (TF1's
            `proj_clip`). Needs `projection_units`. Defaults to `None`.
        projection_initializer: Initializer of `projection_kernel`. Defaults to
            `"glorot_uniform"`.
        projection_regularizer: Regularizer of `projection_kernel`. Defaults to
            `None`.
        projection_constraint: Constraint on `projection_kernel`. Defaults to
            `None`.
        layer_norm: Whether to apply layer normalization as tensorflow-addons'
            `LayerNormLSTMCell`: to the fused input product, to the fused
            recurrent product and to the new cell state (which is carried
            normalized). Defaults to `False`.
        norm_gamma_initializer: Initializer of the normalizations' scale
            `norm_gamma`. Defaults to `"ones"`.
        norm_beta_initializer: Initializer of the normalizations' offset
            `norm_beta`. Defaults to `"zeros"`.
        norm_epsilon: The normalizations' epsilon. Defaults to `1e-3`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Call arguments:
        - `sequences`: A 3D tensor `(batch, timesteps, features)`.
        - `initial_state`: A list of the initial states, `h`, `c`, each `(batch, size)`; defaults
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
        ...     keras_gates.PeepholeLSTM(16),
        ...     keras.layers.Dense(1),
        ... ])
        >>> tuple(model(np.zeros((4, 10, 8), "float32")).shape)
        (4, 1)
        >>> layer = keras_gates.PeepholeLSTM(16, return_sequences=True, return_state=True)
        >>> outputs, h, c = layer(np.zeros((4, 10, 8), "float32"))
        >>> tuple(outputs.shape), tuple(h.shape), tuple(c.shape)
        ((4, 10, 16), (4, 16), (4, 16))
    """

    cell_class = PeepholeLSTMCell

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
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
        *,
        peepholes=ALL_GATES,
        input_gate=True,
        forget_gate=True,
        output_gate=True,
        input_activation=None,
        output_activation=None,
        full_gate_recurrence=False,
        chrono_init=None,
        peephole_initializer="zeros",
        peephole_regularizer=None,
        peephole_constraint=None,
        zero_output_for_mask=False,
        fast_path="auto",
        cell_clip=None,
        projection_units=None,
        projection_clip=None,
        projection_initializer="glorot_uniform",
        projection_regularizer=None,
        projection_constraint=None,
        layer_norm=False,
        norm_gamma_initializer="ones",
        norm_beta_initializer="zeros",
        norm_epsilon=1e-3,
        **kwargs,
    ):
        super().__init__(**arguments(locals()))

    @classmethod
    def from_keras_lstm(cls, lstm, **kwargs):
        """A `PeepholeLSTM` that computes what a built Keras LSTM computes.

        Its arguments are the LSTM's (units, activations, initializers,
        regularizers, constraints, dropout, `return_sequences`, `stateful`,
        ...), `kwargs` overriding them (e.g. `peepholes=...` or `name=...`),
        and its `kernel`, `recurrent_kernel` and `bias` are copies of the
        LSTM's, in the same gate order. The peephole vectors start at zero,
        so the new layer's outputs equal the LSTM's until training moves
        them: a warm start.

        ```python
        peephole = keras_gates.PeepholeLSTM.from_keras_lstm(model.get_layer("lstm"))
        ```

        Args:
            lstm: A built `keras.layers.LSTM`, or a `keras.layers.RNN` over a
                `keras.layers.LSTMCell`.
            **kwargs: Arguments of `PeepholeLSTM` that replace the LSTM's.

        Returns:
            A built `PeepholeLSTM`.
        """
        cell = getattr(lstm, "cell", None)
        if not isinstance(lstm, keras.layers.RNN) or not isinstance(
            cell, keras.layers.LSTMCell
        ):
            raise TypeError(
                "from_keras_lstm takes a keras.layers.LSTM (or a "
                "keras.layers.RNN over a keras.layers.LSTMCell). Received: "
                f"{type(lstm).__name__}"
            )
        if not lstm.built:
            raise ValueError(
                f"Layer '{lstm.name}' is not built yet: call it on data or "
                "build it first, so that its weights exist."
            )
        accepted = inspect.signature(cls.__init__).parameters
        config = {**lstm.get_config(), **cell.get_config()}
        config = {
            key: value
            for key, value in config.items()
            if key in accepted or key in ("dtype", "trainable")
        }
        layer = cls(**{**config, **kwargs})
        name = keras.activations.serialize
        for option, plain in VARIANT_OPTIONS.items():
            value = getattr(layer, option)
            if option.endswith("activation") and value is not None:
                if name(value) == name(layer.activation):
                    continue  # what `activation` computes anyway
                value = name(value)
            if value != plain:
                raise ValueError(
                    "from_keras_lstm copies a Keras LSTM into a layer that "
                    f"computes the same, and the variant option {option}="
                    f"{value!r} changes what it computes. Build the variant "
                    "and set its weights instead."
                )
        batch_size = ops.shape(lstm.states[0])[0] if lstm.stateful else None
        layer.build((batch_size, None, cell.kernel.shape[0]))
        mine = layer.cell
        mine.kernel.assign(cell.kernel)
        mine.recurrent_kernel.assign(cell.recurrent_kernel)
        if mine.use_bias:
            mine.bias.assign(cell.bias)
        for gate in mine.peepholes:
            peephole = getattr(mine, f"{gate}_peephole")
            peephole.assign(ops.zeros(peephole.shape, peephole.dtype))
        return layer
