from keras import ops

from keras_gates._arguments import cell_arguments
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
        **kwargs: The other arguments of `keras_gates.PeepholeLSTM` but the
            recurrent layer's, by position in the order of `keras.layers.LSTMCell`, documented there; and the base layer's.

    Examples:
        >>> import numpy as np, keras, keras_gates
        >>> cell = keras_gates.PeepholeLSTMCell(4, peepholes="forget")
        >>> _ = keras.layers.RNN(cell)(np.zeros((2, 3, 5), "float32"))
        >>> tuple(cell.forget_peephole.shape), cell.input_peephole
        ((4,), None)

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

    def __init__(self, units, *args, **kwargs):
        super().__init__(**cell_arguments(type(self), units, args, kwargs))
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
