"""Private base classes shared by the keras-gates cells.

`GatedCell` holds what every cell has: units, the gate activation, the input
kernel and bias with their initializers, regularizers and constraints, input
dropout with Keras 3 semantics (one mask per sequence, training only,
reproducible with `seed`), the zero initial state and the config.
`RecurrentCell` adds the recurrent side (candidate activation, recurrent
kernel, recurrent dropout), and `LSTMVariantCell` the `[h, c]` state, the
shared step and the optional peephole vectors of the two LSTM variants.
"""

import keras
from keras import activations
from keras import constraints
from keras import initializers
from keras import ops
from keras import regularizers
from keras import tree

from keras_gates import _validation as v
from keras_gates._compat import DropoutRNNCell
from keras_gates.initializers import Chrono

# The key under which a cell saves its dropout generator's state.
_SEED_STATE = "seed_generator_state"


class GatedCell(keras.layers.Layer, DropoutRNNCell):
    """What every keras-gates cell has: the input side. Not part of the API.

    Units, the gate activation, the input `kernel` and the `bias` with their
    initializers, regularizers and constraints, input dropout with Keras 3
    semantics (one mask per sequence, training only, reproducible with
    `seed`), the zero initial state and the config. Cells with a recurrent
    connection build on `RecurrentCell`; MinGRU, whose gates see the input
    only, uses this class directly.
    """

    def __init__(
        self,
        units,
        *,
        recurrent_activation,
        use_bias,
        kernel_initializer,
        bias_initializer,
        chrono_init,
        kernel_regularizer,
        bias_regularizer,
        kernel_constraint,
        bias_constraint,
        dropout,
        seed,
        **kwargs,
    ):
        units = v.check_units(units)
        recurrent_activation = v.get_activation(
            recurrent_activation, "recurrent_activation"
        )
        use_bias = v.check_bool(use_bias, "use_bias")
        kernel_initializer = v.get_initializer(kernel_initializer, "kernel_initializer")
        bias_initializer = v.get_initializer(bias_initializer, "bias_initializer")
        chrono_init = v.check_chrono_init(chrono_init)
        kernel_regularizer = v.get_regularizer(kernel_regularizer, "kernel_regularizer")
        bias_regularizer = v.get_regularizer(bias_regularizer, "bias_regularizer")
        kernel_constraint = v.get_constraint(kernel_constraint, "kernel_constraint")
        bias_constraint = v.get_constraint(bias_constraint, "bias_constraint")
        dropout = v.check_rate(dropout, "dropout")
        seed = v.check_seed(seed)
        super().__init__(**kwargs)

        self.units = units
        self.recurrent_activation = recurrent_activation
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.chrono_init = chrono_init
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint
        self.dropout = dropout
        # Read by Keras' DropoutRNNCell; RecurrentCell makes it an argument.
        self.recurrent_dropout = 0.0
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)

    def _add_kernel(self, input_dim, blocks):
        return self.add_weight(
            shape=(input_dim, blocks * self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )

    # The bias layout of `keras_gates.initializers.LAYOUTS` (its gate blocks).
    CHRONO_LAYOUT = None

    def _add_bias(self, blocks, constant_block=None, constant=1.0):
        """Adds the fused bias of `blocks` gate blocks, or returns None.

        With `chrono_init`, the memory gate's blocks start at chrono
        initialization, the others at `bias_initializer`. Otherwise block
        `constant_block`, if given, starts at `constant` instead of
        `bias_initializer` (the forget-gate init of `unit_forget_bias`).
        """
        if not self.use_bias:
            return None
        initializer = self.bias_initializer
        if self.chrono_init is not None:
            initializer = Chrono(
                self.chrono_init,
                self.CHRONO_LAYOUT,
                base=self.bias_initializer,
                seed=self.seed,
            )
        elif constant_block is not None:
            units = self.units

            def initializer(shape, dtype=None):
                parts = [
                    self.bias_initializer((units,), dtype=dtype)
                    if i != constant_block
                    else ops.full((units,), constant, dtype=dtype)
                    for i in range(blocks)
                ]
                return ops.concatenate(parts)

        return self.add_weight(
            shape=(blocks * self.units,),
            name="bias",
            initializer=initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )

    def _drop_inputs(self, inputs, training):
        if training and self.dropout > 0.0:
            return inputs * self.get_dropout_mask(inputs)
        return inputs

    def _step_constants(self):
        """Tensors derived from the weights that every step needs (splits of
        fused weights), computed once per sequence: the keras-gates layers
        compute them before their loop over time, `call` for its one step.
        Slicing a weight inside the loop would also cost, in training, one
        full-size gradient of that weight per step."""
        return ()

    # The states' names in cells.md, in state order (for messages).
    state_names = ("h",)
    # The names of the gates that `_step_with_gates` returns.
    GATES = ()
    # Whether `_step` reads `inputs` (the undropped input) besides `dropped`.
    reads_undropped_inputs = False
    # Whether the output is the first state, so that the previous output can
    # be read from the states (export.step_function relies on it).
    output_is_first_state = True

    def _step(self, dropped, inputs, states, constants, training):
        """One step: `(output, new_states)`.

        `dropped` is the step's input after input dropout, `inputs` the same
        before it. The layers drop a whole sequence at once before their loop
        (one mask per sequence), so the loop never multiplies by the mask;
        `call` drops its one step.
        """
        raise NotImplementedError

    def _step_with_gates(self, inputs, states):
        """One step in inference, `(output, new_states, gates)`: `gates` maps
        each name of `GATES` to the gate's value, the very tensor that the
        step used. For `keras_gates.inspect`; no dropout."""
        raise NotImplementedError

    def derived_gates(self, gates):
        """`gates` with the gates that the cell does not compute but implies
        (the CIFG's forget gate, `1 - input`). Only inspection calls it."""
        return gates

    def call(self, inputs, states, training=False):
        if not tree.is_nested(states):
            states = [states]
        states = list(states)
        v.check_step_call(
            self,
            v.shape_of(inputs),
            self.kernel.shape[0] if self.built else None,
            [v.shape_of(s) for s in states],
        )
        dropped = self._drop_inputs(inputs, training)
        return self._step(dropped, inputs, states, self._step_constants(), training)

    def save_own_variables(self, store):
        """Saves the weights and, unlike Keras' own layers, the state of the
        dropout masks' random generator: a training run restored from a
        checkpoint (`keras.callbacks.BackupAndRestore`) then draws the masks
        that the uninterrupted run would have drawn."""
        super().save_own_variables(store)
        store[_SEED_STATE] = self.seed_generator.state

    def load_own_variables(self, store):
        keys = list(store.keys())
        if _SEED_STATE in keys:  # absent from files of Keras' own layout
            self.seed_generator.state.assign(store[_SEED_STATE])
            store = {key: store[key] for key in keys if key != _SEED_STATE}
        super().load_own_variables(store)

    def get_initial_state(self, batch_size=None):
        return [
            ops.zeros((batch_size, size), dtype=self.compute_dtype)
            for size in self.state_size
        ]

    def get_config(self):
        config = {
            "units": self.units,
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "chrono_init": self.chrono_init,
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


class RecurrentCell(GatedCell):
    """A `GatedCell` whose state feeds back through weights: adds the
    candidate `activation`, the `recurrent_kernel` with its initializer,
    regularizer and constraint, and `recurrent_dropout`. Not public."""

    def __init__(
        self,
        units,
        *,
        activation,
        recurrent_initializer,
        recurrent_regularizer,
        recurrent_constraint,
        recurrent_dropout,
        **kwargs,
    ):
        activation = v.get_activation(activation, "activation")
        recurrent_initializer = v.get_initializer(
            recurrent_initializer, "recurrent_initializer"
        )
        recurrent_regularizer = v.get_regularizer(
            recurrent_regularizer, "recurrent_regularizer"
        )
        recurrent_constraint = v.get_constraint(
            recurrent_constraint, "recurrent_constraint"
        )
        recurrent_dropout = v.check_rate(recurrent_dropout, "recurrent_dropout")
        super().__init__(units, **kwargs)
        self.activation = activation
        self.recurrent_initializer = recurrent_initializer
        self.recurrent_regularizer = recurrent_regularizer
        self.recurrent_constraint = recurrent_constraint
        self.recurrent_dropout = recurrent_dropout

    def _project_inputs(self, dropped, inputs):
        """The input side of a step, for one step or a whole sequence (any
        rank): `dropped @ kernel` and whatever else of the step depends on
        the inputs only. `dropped` are the inputs after input dropout,
        `inputs` the same before it. The layers' fast path computes it for
        every step in one GEMM before the loop."""
        raise NotImplementedError

    def _recurrent_step(self, projected, states, constants, training):
        """The rest of a step: `(output, new_states)` from the step's slice of
        `_project_inputs`. Holds the only recurrent matrix product."""
        output, new_states, _ = self._gated_step(projected, states, constants, training)
        return output, new_states

    def _gated_step(self, projected, states, constants, training):
        """`_recurrent_step` that also returns the gates it computed, by
        name: `(output, new_states, gates)`. The one home of the step's
        gate math; the loops drop the gates, which costs nothing."""
        raise NotImplementedError

    def _step_with_gates(self, inputs, states):
        projected = self._project_inputs(inputs, inputs)
        return self._gated_step(projected, states, self._step_constants(), False)

    def _step(self, dropped, inputs, states, constants, training):
        projected = self._project_inputs(dropped, inputs)
        return self._recurrent_step(projected, states, constants, training)

    def _add_recurrent_kernel(self, shape):
        return self.add_weight(
            shape=shape,
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )

    def _drop_recurrent(self, state, training):
        if training and self.recurrent_dropout > 0.0:
            return state * self.get_recurrent_dropout_mask(state)
        return state

    def get_config(self):
        config = {
            "activation": activations.serialize(self.activation),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "recurrent_dropout": self.recurrent_dropout,
        }
        return {**super().get_config(), **config}


class LSTMVariantCell(RecurrentCell):
    """A `RecurrentCell` with states `[h, c]` and optional peephole vectors.

    Subclasses set `PEEPHOLE_GATES` (the gates that may have one, in canonical
    order), may set `ABSENT_GATES` (gate name to why the cell lacks it), set
    `FORGET_BIAS_INIT = (block, value)`: the bias block and start value that
    make the initial forget gate σ(1) under `unit_forget_bias`, and implement
    `_compute_step(z, c_tm1) -> (h, c, gates)` from the fused pre-activations
    `z = x @ kernel + h @ recurrent_kernel + bias`. Not public.
    """

    PEEPHOLE_GATES = ()
    ABSENT_GATES = {}
    state_names = ("h", "c")
    FORGET_BIAS_INIT = None

    def __init__(
        self,
        units,
        *,
        peepholes,
        unit_forget_bias,
        peephole_initializer,
        peephole_regularizer,
        peephole_constraint,
        **kwargs,
    ):
        peepholes = v.check_peepholes(
            peepholes, self.PEEPHOLE_GATES, type(self).__name__, self.ABSENT_GATES
        )
        unit_forget_bias = v.check_bool(unit_forget_bias, "unit_forget_bias")
        peephole_initializer = v.get_initializer(
            peephole_initializer, "peephole_initializer"
        )
        peephole_regularizer = v.get_regularizer(
            peephole_regularizer, "peephole_regularizer"
        )
        peephole_constraint = v.get_constraint(
            peephole_constraint, "peephole_constraint"
        )
        super().__init__(units, **kwargs)
        self.peepholes = peepholes
        self.unit_forget_bias = unit_forget_bias
        self.peephole_initializer = peephole_initializer
        self.peephole_regularizer = peephole_regularizer
        self.peephole_constraint = peephole_constraint
        for gate in self.PEEPHOLE_GATES:
            setattr(self, f"{gate}_peephole", None)

    def _add_gate_bias(self, blocks):
        if not self.unit_forget_bias:
            return self._add_bias(blocks)
        block, value = self.FORGET_BIAS_INIT
        return self._add_bias(blocks, constant_block=block, constant=value)

    def _add_peepholes(self):
        for gate in self.peepholes:
            weight = self.add_weight(
                shape=(self.units,),
                name=f"{gate}_peephole",
                initializer=self.peephole_initializer,
                regularizer=self.peephole_regularizer,
                constraint=self.peephole_constraint,
            )
            setattr(self, f"{gate}_peephole", weight)

    @staticmethod
    def _peep(pre_activation, peephole, c):
        if peephole is None:
            return pre_activation
        return pre_activation + peephole * c

    def _project_inputs(self, dropped, inputs):
        z_x = ops.matmul(dropped, self.kernel)
        if self.use_bias:
            z_x = z_x + self.bias
        return z_x

    def _gated_step(self, z_x, states, constants, training):
        h_tm1, c_tm1 = states
        h_in = self._drop_recurrent(h_tm1, training)
        z = z_x + ops.matmul(h_in, self.recurrent_kernel)
        h, c, gates = self._compute_step(z, c_tm1)
        return h, [h, c], gates

    def get_config(self):
        config = {
            "peepholes": list(self.peepholes),
            "unit_forget_bias": self.unit_forget_bias,
            "peephole_initializer": initializers.serialize(self.peephole_initializer),
            "peephole_regularizer": regularizers.serialize(self.peephole_regularizer),
            "peephole_constraint": constraints.serialize(self.peephole_constraint),
        }
        return {**super().get_config(), **config}
