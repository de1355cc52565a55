from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.depth_gated_lstm_cell import DepthGatedLSTMCell
from keras_gates.layers.cell_layer import CellLayer


@keras_gates_export
class DepthGatedLSTM(CellLayer, cell_class=DepthGatedLSTMCell):
    """Depth-Gated LSTM layer (Yao, Cohn, Vylomova, Duh and Dyer, 2015).

    A stack of `num_layers` LSTM layers as one layer, used like
    `keras.layers.LSTM`: at each step, the memory cell of each layer above
    the first receives a copy of the memory cell below it, weighted by a
    depth gate. See `DepthGatedLSTMCell` for the equations, the states (an
    `h` and a `c` per layer) and the weights.

    The arguments it shares with every keras-gates layer (in the signature,
    positionally in the order of Keras' own layers), its call arguments and
    masking are documented once: the cell's in `keras_gates.GatedCell` and
    `keras_gates.RecurrentCell`, the recurrent layer's in
    `keras_gates.GatedRNN`. One recurrent dropout mask serves every layer's
    `h`; input dropout drops the inputs of the first layer.

    Args:
        units: Positive integer, dimensionality of each layer's output and
            memory cell.
        num_layers: Positive integer, the number of stacked LSTM layers.
            Defaults to `2`.
        peepholes: The gates that get a peephole, from `"input"`,
            `"forget"` and `"output"`; a name, a list, None, or `"auto"`,
            every gate the variant has. Defaults to `"auto"`.
        coupled: If True, each layer's forget gate is `1 - input gate` (the
            CIFG, as the authors' code has it). Defaults to `False`.
        unit_forget_bias: If True, the forget gates start at σ(1) (the
            forget-gate bias at ones, or with `coupled` the input-gate bias
            at minus ones). Defaults to `True`.
        peephole_initializer: Initializer of the peephole vectors and of
            the depth gate's weights on the memory cells. Defaults to
            `"zeros"`.
        peephole_regularizer: Regularizer of those vectors. Defaults to
            `None`.
        peephole_constraint: Constraint on those vectors. Defaults to
            `None`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Examples:
        >>> import numpy as np, keras, keras_gates
        >>> layer = keras_gates.DepthGatedLSTM(16, num_layers=3, return_state=True)
        >>> output, *states = layer(np.zeros((4, 10, 8), "float32"))
        >>> tuple(output.shape), len(states)  # an h and a c per layer
        ((4, 16), 6)
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
        num_layers=2,
        peepholes="auto",
        coupled=False,
        peephole_initializer="zeros",
        peephole_regularizer=None,
        peephole_constraint=None,
        zero_output_for_mask=False,
        fast_path="auto",
        **kwargs,
    ):
        super().__init__(**arguments(locals()))
