from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.clockwork_cell import ClockworkRNNCell
from keras_gates.layers.cell_layer import CellLayer


@keras_gates_export
class ClockworkRNN(CellLayer, cell_class=ClockworkRNNCell):
    """Clockwork RNN layer (Koutník, Greff, Gomez and Schmidhuber, 2014).

    A `keras.layers.RNN` over a `ClockworkRNNCell`, used like
    `keras.layers.SimpleRNN`: a simple RNN whose units are split into
    modules that run at their own clock rates, slower modules feeding faster
    ones. See `ClockworkRNNCell` for the equations, the clock (the second
    state) and the weights.

    The arguments it shares with every keras-gates layer (in the signature,
    positionally in the order of Keras' own layers), its call arguments and
    masking are documented once: the cell's in `keras_gates.GatedCell` and
    `keras_gates.RecurrentCell`, the recurrent layer's in
    `keras_gates.GatedRNN`.

    Args:
        units: Positive integer, dimensionality of the output space, a
            multiple of the number of modules.
        periods: The clock period of each module, a strictly increasing list
            of positive integers, fastest first; or an integer g, the
            paper's exponential series 1, 2, 4, ..., 2**(g-1). Defaults to
            `(1, 2, 4, 8)`.
        skip_inactive: Whether a step computes only the modules up to the
            slowest one that runs (True) or every module (False). Same
            numbers; which is faster depends on the size and the backend
            (see `ClockworkRNNCell`). Defaults to `False`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Examples:
        >>> import numpy as np, keras, keras_gates
        >>> model = keras.Sequential([
        ...     keras.Input((10, 8)),
        ...     keras_gates.ClockworkRNN(16, periods=[1, 2, 4, 8]),
        ...     keras.layers.Dense(1),
        ... ])
        >>> tuple(model(np.zeros((4, 10, 8), "float32")).shape)
        (4, 1)
        >>> # 8 * 16 + 16 (kernel, bias) + 4 * (16 + 12 + 8 + 4) (R's blocks)
        >>> model.layers[0].count_params()
        304
    """

    def __init__(
        self,
        units,
        activation="tanh",
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
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        seed=None,
        *,
        periods=(1, 2, 4, 8),
        skip_inactive=False,
        zero_output_for_mask=False,
        fast_path="auto",
        **kwargs,
    ):
        super().__init__(**arguments(locals()))
        self.supports_jit = self.cell.supports_jit  # see ClockworkRNNCell
