from keras import ops

from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells import lstm_family
from keras_gates.cells.recurrent_cell import RecurrentCell

ALL_GATES = ("input", "forget", "output")


@keras_gates_export
class PeepholeLSTMCell(RecurrentCell):
    """Cell of the LSTM with peephole connections (Gers & Schmidhuber, 2000).

    The gates also look at the cell state: the input and forget gates at the
    previous one, the output gate at the new one. With every peephole vector
    at zero this cell computes exactly what `keras.layers.LSTMCell` computes
    with the same `kernel`, `recurrent_kernel` and `bias`, so weights of a
    trained Keras LSTM can be loaded to warm-start it.

    ```
    z   = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias    # blocks i, f, c, o
    i_t = σ(z_i + p_i ⊙ c_{t-1})
    f_t = σ(z_f + p_f ⊙ c_{t-1})
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ tanh(z_c)        # then clipped to ±cell_clip
    o_t = σ(z_o + p_o ⊙ c_t)
    h_t = o_t ⊙ tanh(c_t)
    ```

    Two options of TF1's `LSTMCell` and tensorflow-addons:

    - `projection_units=P` (LSTMP, Sak et al., 2014; TF1's `num_proj`):
      `h_t = (o_t ⊙ tanh(c_t)) @ projection_kernel`, clipped to
      `±projection_clip`; `h` (the output and the state fed back) has size
      P, `recurrent_kernel` shape `(P, 4 * units)`.
    - `layer_norm=True` (Ba et al., 2016; exactly tensorflow-addons'
      `LayerNormLSTMCell`): `z = LN(x_t @ kernel) + LN(h_{t-1} @
      recurrent_kernel) + bias`, each LN over the fused 4·units product,
      and `c_t` is normalized after its update (and before the clip and the
      output gate), the normalized state being the one carried.

    `σ` is `recurrent_activation` and `tanh` is `activation`. The states are
    `[h_t, c_t]` and the output is `h_t`. Weights: `kernel` of shape
    `(input_dim, 4 * units)`, `recurrent_kernel` `(units, 4 * units)`, `bias`
    `(4 * units,)`, gate blocks in Keras' order i, f, c, o; and one vector of
    shape `(units,)` per enabled peephole, named `input_peephole`,
    `forget_peephole`, `output_peephole` (None for a gate without one);
    `projection_kernel` `(units, projection_units)` with a projection; and
    with `layer_norm`, `kernel_norm_gamma`/`_beta` and
    `recurrent_norm_gamma`/`_beta` of shape `(4 * units,)`,
    `state_norm_gamma`/`_beta` of shape `(units,)`.

    Args:
        units: Positive integer, dimensionality of the output space.
        peepholes: The gates that get a peephole, from `"input"`, `"forget"`
            and `"output"`; a name, a list, or None for none. Defaults to all
            three.
        cell_clip: If set, a positive float: the cell state is clipped to
            `[-cell_clip, cell_clip]` after each update. Defaults to `None`.
        projection_units: None, or a positive integer P: the output
            projection of LSTMP (see above). Defaults to `None`.
        projection_clip: If set, a positive float: the projected output is
            clipped to `[-projection_clip, projection_clip]`. Needs
            `projection_units`. Defaults to `None`.
        projection_initializer: Initializer of `projection_kernel`. Defaults to `"glorot_uniform"`.
        projection_regularizer: Regularizer of `projection_kernel`. Defaults to `None`.
        projection_constraint: Constraint on `projection_kernel`. Defaults to `None`.
        layer_norm: Whether to normalize the two fused products and the
            cell state (see above). Defaults to `False`.
        norm_gamma_initializer: Initializer of the normalizations' scale `norm_gamma`. Defaults to `"ones"`.
        norm_beta_initializer: Initializer of the normalizations' offset `norm_beta`. Defaults to `"zeros"`.
        norm_epsilon: The normalizations' epsilon. Defaults to `1e-3`, as
            tensorflow-addons.
        unit_forget_bias: If True, the forget-gate block of the bias starts at
            ones (Jozefowicz et al., 2015). Defaults to `True`.
        peephole_initializer: Initializer of the peephole vectors. Defaults to
            `"zeros"`, so that a fresh cell starts as a plain LSTM.
        peephole_regularizer: Regularizer of the peephole vectors. Defaults to
            `None`.
        peephole_constraint: Constraint on the peephole vectors. Defaults to
            `None`.
        **kwargs: The arguments of `keras_gates.RecurrentCell` and
            `keras_gates.GatedCell`, where they are documented: the
            activations, `use_bias`, the initializers, regularizers and
            constraints of `kernel`, `recurrent_kernel` and `bias`,
            `chrono_init`, `dropout`, `recurrent_dropout` and `seed`; and the
            base layer's, such as `name` and `dtype`.

    Call arguments:
        inputs: A 2D tensor of shape `(batch, input_dim)`, one time step.
        states: A list `[h_{t-1}, c_{t-1}]`, each of shape `(batch, units)`.
        training: Whether dropout is active.

    Examples:
        >>> import numpy as np, keras, keras_gates
        >>> rnn = keras.layers.RNN(keras_gates.PeepholeLSTMCell(4))
        >>> tuple(rnn(np.zeros((2, 3, 5), "float32")).shape)
        (2, 4)

    References:
        F. A. Gers and J. Schmidhuber, "Recurrent nets that time and count",
        IJCNN 2000. H. Sak, A. Senior and F. Beaufays, "Long Short-Term
        Memory Recurrent Neural Network Architectures for Large Scale
        Acoustic Modeling", Interspeech 2014. J. L. Ba, J. R. Kiros and G. E.
        Hinton, "Layer Normalization", 2016 (arXiv:1607.06450).
    """

    GATES = ("input", "forget", "output")
    state_names = ("h", "c")
    output_state = 0
    CHRONO_LAYOUT = "lstm"

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
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        *,
        peepholes=ALL_GATES,
        cell_clip=None,
        chrono_init=None,
        peephole_initializer="zeros",
        peephole_regularizer=None,
        peephole_constraint=None,
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
        lstm_family.setup(self, ALL_GATES)

    def build(self, input_shape):
        lstm_family.build(self, input_shape[-1], 4, forget_bias_init=(1, 1.0))

    def input_side(self, inputs, constants=()):
        return lstm_family.input_product(self, inputs)

    def recurrent_step(self, z_x, states, constants=(), recurrent_mask=None):
        h_tm1, c_tm1 = states
        z = z_x + lstm_family.recurrent_product(self, h_tm1, recurrent_mask)
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        peep = lstm_family.peep
        i = self.recurrent_activation(peep(z_i, self.input_peephole, c_tm1))
        f = self.recurrent_activation(peep(z_f, self.forget_peephole, c_tm1))
        c = lstm_family.carried_state(self, f * c_tm1 + i * self.activation(z_c))
        o, h = lstm_family.output(self, z_o, c)
        return h, [h, c], {"input": i, "forget": f, "output": o}
