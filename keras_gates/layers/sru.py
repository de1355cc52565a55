from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.sru_cell import SRUCell
from keras_gates.layers.cell_layer import CellLayer

LAYER_HIGHWAYS = ("auto", "projection", "split")


@keras_gates_export
class SRU(CellLayer, cell_class=SRUCell):
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
        units: Positive integer, dimensionality of the output space.
        activation: `g`, applied to the cell state in the output. Defaults
            to `"linear"`; `"tanh"` gives the 2017 paper's form.
        recurrent_gates: If True, the gates see `c_{t-1}` through `v_f` and
            `v_r`; if False (the 2017 form), the recurrence is linear in `c`.
            Defaults to `True`.
        skip_term: Whether the output has the highway term. Defaults to
            `True`.
        highway: `"auto"` (the identity when the input has `units`
            features, a projection otherwise), `"projection"` (always a
            projection), or `"split"`: in `keras.layers.Bidirectional` over
            inputs of `2 * units` features, each direction's identity
            highway reads its half of the input (the forward layer the
            first, the backward layer the second), as the official
            bidirectional SRU. Defaults to `"auto"`.
        rescale: Whether the identity highway is scaled by `sqrt(1 +
            2·exp(highway_bias))` (the official `rescale`). Defaults to
            `False`.
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
            factorized through a projection of the input to this many
            features (the official `n_proj`). Defaults to `None`.
        recurrent_activation: Activation of the gates. Defaults to
            `"sigmoid"`.
        use_bias: Whether the cell has a bias vector. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`. Defaults to `"glorot_uniform"`.
        recurrent_initializer: Initializer of `recurrent_kernel` (`v_f`, `v_r`).
            Defaults to `None`: `SRUCell`'s uniform initializer.
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
        ...     keras.Input((10, 16)),
        ...     keras_gates.SRU(16, return_sequences=True),
        ...     keras_gates.SRU(16),
        ...     keras.layers.Dense(1),
        ... ])
        >>> tuple(model(np.zeros((4, 10, 16), "float32")).shape)
        (4, 1)
    """

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
