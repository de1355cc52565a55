from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.mutant_gru_cell import MutantGRUCell
from keras_gates.layers.cell_layer import CellLayer


@keras_gates_export
class MutantGRU(CellLayer, cell_class=MutantGRUCell):
    """Jozefowicz et al.'s MUT1, MUT2 and MUT3 (ICML 2015), the GRU mutants
    their architecture search found best.

    A `keras.layers.RNN` over a `MutantGRUCell`, used like
    `keras.layers.GRU`. Its `z` weights the NEW candidate, the opposite of
    the `z` of `keras.layers.GRU`. MUT1 and MUT2 need as many input features
    as units. See `MutantGRUCell` for the equations and the weights.

    The arguments it shares with every keras-gates layer (in the signature,
    positionally in the order of Keras' own layers), its call arguments and
    masking are documented once: the cell's in `keras_gates.GatedCell` and
    `keras_gates.RecurrentCell`, the recurrent layer's in
    `keras_gates.GatedRNN`.

    Args:
        units: Positive integer, dimensionality of the output space.
        mutant: 1, 2 or 3 (or `"MUT1"`, `"MUT2"`, `"MUT3"`): the
            architecture. Defaults to `1`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Examples:
        >>> import numpy as np, keras, keras_gates
        >>> model = keras.Sequential([
        ...     keras.Input((10,), dtype="int32"),
        ...     keras.layers.Embedding(100, 16),
        ...     keras_gates.MutantGRU(16, mutant=2),
        ...     keras.layers.Dense(1),
        ... ])
        >>> tuple(model(np.ones((4, 10), "int32")).shape)
        (4, 1)
        >>> model.layers[1].count_params()  # 2 input blocks, 3 recurrent, 3 biases
        1328
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
        mutant=1,
        zero_output_for_mask=False,
        fast_path="auto",
        **kwargs,
    ):
        super().__init__(**arguments(locals()))
