from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.sru_cell import SRUCell
from keras_gates.layers.cell_layer import CellLayer

LAYER_HIGHWAYS = ("auto", "projection", "split")


@keras_gates_export
class SRU(CellLayer):
    """Simple Recurrent Unit layer (Lei et al., 2018).

    A `keras.layers.RNN` over an `SRUCell`, used like `keras.layers.LSTM`:
    every matrix product depends on the input only and the recurrence is
    element-wise, with a highway connection from input to output. The state
    is the cell state `c`. See `SRUCell` for the equations and the weights.

    With `recurrent_gates=False` the recurrence is linear in `c` and the
    layer's fast path computes the whole sequence with one GEMM and a
    parallel scan: always with `fast_path=True`, on a GPU or TPU with
    `fast_path="auto"` (on a CPU the loop was measured faster). With
    `recurrent_gates=True` the fast path computes `x @ kernel` for every step
    in one GEMM and loops over the element-wise rest, under the same rule.


    Args:
        units: Positive integer, the size of the output and of the state.
        activation: `g`, applied to the cell state in the output. Defaults to
            `"linear"`; `"tanh"` gives the 2017 paper's form.
        recurrent_activation: Activation function of the gates. Defaults to
            `"sigmoid"`.
        use_bias: Whether the layer adds a bias vector to each gate's input
            product. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`, the weights of the inputs.
            Defaults to `"glorot_uniform"`.
        recurrent_initializer: Initializer of `recurrent_kernel`, the weights of
            the recurrent state. Defaults to `None`.
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
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
        recurrent_gates: If True, the gates see `c_{t-1}` through `v_f` and
            `v_r`; if False (the 2017 form), the recurrence is linear in `c`.
            Defaults to `True`.
        chrono_init: None, or an integer T of at least 3: chrono initialization
            (Tallec & Ollivier, 2018) of the bias of the gate that keeps the
            memory, for dependencies of up to about T steps; the other blocks
            keep `bias_initializer`. Defaults to `None`.
        zero_output_for_mask: If True, a masked step outputs zeros; else it
            repeats the previous output (as `keras.layers.Bidirectional` asks
            when it returns sequences). Defaults to `False`.
        fast_path: How the steps run: `False` the cell step by step, `True` the
            input products of every step in one matrix product before the loop
            (a parallel scan for a cell linear in its state), `"auto"` the fast
            path on a GPU or TPU and the step loop on a CPU (with the compiled
            loops for the LSTMs' training there). All give the same numbers.
            Defaults to `"auto"`.
        skip_term: Whether the output has the highway term. Defaults to `True`.
        highway: `"auto"` (the identity when the input has `units` features, a
            projection otherwise), `"projection"` (always a projection), or
            `"split"`: in `keras.layers.Bidirectional` over inputs of `2 *
            units` features, each direction's identity highway reads its half of
            the input (the forward layer the first, the backward layer the
            second), as the official bidirectional SRU. Defaults to `"auto"`.
        rescale: Whether the identity highway is scaled by `sqrt(1 +
            2·exp(highway_bias))` (the official `rescale`). Defaults to `False`.
        highway_bias: The reset gate's initial bias, when not 0, and the
            argument of `rescale`'s factor. Defaults to `0.0`.
        layer_norm: Whether to layer-normalize the input before the matrix
            product (the official placement), or the output with
            `normalize_after=True`. Defaults to `False`.
        normalize_after: See `layer_norm`. Defaults to `False`.
        norm_gamma_initializer: Initializer of the normalization's scale
            `norm_gamma`. Defaults to `"ones"`.
        norm_beta_initializer: Initializer of the normalization's offset
            `norm_beta`. Defaults to `"zeros"`.
        norm_epsilon: The normalization's epsilon. Defaults to `1e-5`.
        input_projection_units: None, or a positive integer: the kernel is
            factorized through a projection of the input to this many features
            (the official `n_proj`). Defaults to `None`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Call arguments:
        - `sequences`: A 3D tensor `(batch, timesteps, features)`.
        - `initial_state`: A list of the initial states, `c`, each `(batch, size)`; defaults
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
        ...     keras.Input((10, 16)),
        ...     keras_gates.SRU(16, return_sequences=True),
        ...     keras_gates.SRU(16),
        ...     keras.layers.Dense(1),
        ... ])
        >>> tuple(model(np.zeros((4, 10, 16), "float32")).shape)
        (4, 1)
    """

    cell_class = SRUCell

    def __init__(
        self,
        units,
        activation="linear",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer=None,
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
        recurrent_gates=True,
        chrono_init=None,
        zero_output_for_mask=False,
        fast_path="auto",
        skip_term=True,
        highway="auto",
        rescale=False,
        highway_bias=0.0,
        layer_norm=False,
        normalize_after=False,
        norm_gamma_initializer="ones",
        norm_beta_initializer="zeros",
        norm_epsilon=1e-5,
        input_projection_units=None,
        **kwargs,
    ):
        if highway not in LAYER_HIGHWAYS:
            raise ValueError(
                f"Argument `highway` must be one of {LAYER_HIGHWAYS}. "
                f"Received: highway={highway!r}"
            )
        given = arguments(locals())
        if highway == "split":  # the cell reads the half of its direction
            given["highway"] = "second_half" if go_backwards else "first_half"
        super().__init__(**given)
        self._highway = highway

    @property
    def highway(self):
        """The layer's `highway` argument (the cell's is a half under
        `"split"`)."""
        return self._highway

    def get_config(self):
        return {**super().get_config(), "highway": self._highway}
