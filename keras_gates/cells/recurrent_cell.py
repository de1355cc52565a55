"""`RecurrentCell`: a `GatedCell` whose state feeds back through weights."""

from keras_gates._arguments import Activation
from keras_gates._arguments import Constraint
from keras_gates._arguments import Initializer
from keras_gates._arguments import Rate
from keras_gates._arguments import Regularizer
from keras_gates._arguments import Units
from keras_gates._arguments import arguments
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.gated_cell import GatedCell


@keras_gates_export
class RecurrentCell(GatedCell):
    """A `GatedCell` whose state feeds back through weights.

    Adds the candidate `activation` (default `"tanh"`), the recurrent kernel
    with its initializer (default `"orthogonal"`), regularizer and
    constraint (`self.add_recurrent_kernel(shape)` in `build`), and
    `recurrent_dropout`, whose mask `recurrent_step` receives. The protocol
    is `GatedCell`'s.

    Args:
        units: Positive integer, the size of the output and of the state.
        activation: Activation of the candidate (`self.activation`).
            Defaults to `"tanh"`.
        recurrent_initializer: Initializer of `recurrent_kernel`
            (`self.add_recurrent_kernel`). Defaults to `"orthogonal"`.
        recurrent_regularizer: Regularizer of `recurrent_kernel`. Defaults
            to `None`.
        recurrent_constraint: Constraint on `recurrent_kernel`. Defaults to
            `None`.
        recurrent_dropout: Float in [0, 1): fraction of the state dropped
            where it enters the recurrent product; `recurrent_step` receives
            the mask as `recurrent_mask`. Defaults to `0.0`.
        **kwargs: `GatedCell`'s arguments and the base layer's.
    """

    def __init__(
        self,
        units: Units,
        *,
        activation: Activation = "tanh",
        recurrent_initializer: Initializer = "orthogonal",
        recurrent_regularizer: Regularizer = None,
        recurrent_constraint: Constraint = None,
        recurrent_dropout: Rate = 0.0,
        **kwargs,
    ):
        super().__init__(**arguments(locals()))

    def add_recurrent_kernel(self, shape):
        """The recurrent kernel of `shape`, from the `recurrent_` arguments."""
        return self.add_weight_from("recurrent_kernel", shape, "recurrent")
