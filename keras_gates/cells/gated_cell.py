"""`GatedCell`, the base class of every keras-gates cell, and its protocol.

`GatedCell` holds what every cell has (units, the gate activation, the input
kernel and bias with their initializers, regularizers and constraints, input
dropout, chrono initialization, the zero initial state and the config) and
defines the protocol through which the layers run a cell: see its docstring.
"""

import keras
from keras import ops
from keras import tree

from keras_gates import _validation as v
from keras_gates._arguments import Activation
from keras_gates._arguments import Constraint
from keras_gates._arguments import Flag
from keras_gates._arguments import Initializer
from keras_gates._arguments import Rate
from keras_gates._arguments import Regularizer
from keras_gates._arguments import Seed
from keras_gates._arguments import Timescale
from keras_gates._arguments import Units
from keras_gates._arguments import arguments
from keras_gates._arguments import declared
from keras_gates.api_export import keras_gates_export
from keras_gates.cells import protocol
from keras_gates.cells.protocol import project
from keras_gates.initializers import LAYOUTS
from keras_gates.initializers import Chrono

# The key under which a cell saves its dropout generator's state.
_SEED_STATE = "seed_generator_state"


@keras_gates_export
class GatedCell(keras.layers.Layer):
    """Base class of the keras-gates cells, and of your own.

    A cell is one step of a recurrence, split in the two parts that the
    layers (`keras_gates.GatedRNN` and the eight layers built on it) need to
    run it fast: what depends on the inputs alone, which they compute for
    every step at once, and what depends on the states, which they loop
    over. Implement:

    - `build(input_shape)`: the weights. Call `self.add_kernel(input_dim,
      blocks)` and `self.add_bias(blocks)` for a fused kernel and bias of
      `blocks` gate blocks, which then follow the common arguments
      (initializers, regularizers, constraints, `chrono_init`).
    - `input_side(inputs, constants=())`: every product that depends on
      the inputs alone, for one step `(batch, features)` or for all steps at
      once, time-major `(steps, batch, features)` on every path: a tensor,
      or a tuple of tensors, with the leading axes of `inputs`. The inputs
      arrive with input dropout applied.
    - `recurrent_step(projected, states, constants=(), recurrent_mask=None)`:
      one step from that step's slice of `input_side` and the list of
      states: `(output, new_states, gates)`, `gates` a dict of every gate's
      value by its name in `GATES` (the layers drop it, at no cost; it is
      what `keras_gates.inspect` reads). `recurrent_mask` is the recurrent
      dropout mask of the sequence, or None: a cell with
      `recurrent_dropout` multiplies the state `recurrent_dropout_state`
      (default 0) by it where it enters the recurrent product.
    - Class attributes: `GATES`, the gate names; `state_names`, one name per
      state (for messages); `CHRONO_LAYOUT`, the bias layout of
      `keras_gates.initializers.LAYOUTS` if the cell takes `chrono_init`. In
      `__init__`, set `self.state_size` (a list) and `self.output_size`.

    The rules the layers rely on, each either declared here or checked
    when an own cell's layer is built (one step on random values, naming the
    cell, the rule and the fix):

    - The last output is the last step's output. `output_state = k`
      declares that the output is always state `k` (the layers then carry
      one loop variable fewer); the default, None, makes no such promise
      and is always right. A declared `output_state` is checked.
    - Input dropout is applied by the layers before `input_side`. A cell
      that must apply it itself (to some products only) sets
      `applies_input_dropout = True` and takes `input_side(inputs,
      constants=(), dropout_mask=None)`; a mask it ignores is an error.
    - Recurrent dropout: a cell with `recurrent_dropout > 0` whose steps do
      not change with `recurrent_mask` is an error.
    - `state_size`, `output_size`, the list of new states and `GATES` must
      match what `recurrent_step` returns.
    - The step index: a cell that needs it keeps it as a state, a counter
      of shape `(batch, 1)` from 0, which the layers then treat as any
      state (a masked step keeps it, `stateful` and the streaming export
      carry it); `ClockworkRNNCell` does.

    Optionally:

    - `step_constants()`: tensors derived from the weights that every step
      needs (splits of fused weights), computed once per sequence and passed
      to `input_side` and `recurrent_step` as `constants`.
    - `linear_recurrence(projected)`: for a cell with one state that is
      linear in itself, `s_t = a_t ⊙ s_{t-1} + b_t`, the coefficients `(a,
      b)` of every step, from `input_side` of the whole sequence; and
      `linear_output(projected, states)`, the outputs from the sequence of
      states. Set `is_linear` (a property or attribute) to True when they
      apply: the layers then solve the recurrence with a parallel scan. Set
      `log_space_scan` to True when `linear_recurrence` returns `(log a,
      log b)` instead (`a > 0`, `b > 0`): the scan then runs in log space.

    Everything else comes with it: the call of one step (`call`), one
    dropout mask per sequence (`dropout_masks`), the config, and, through
    `keras_gates.GatedRNN`, masking, `go_backwards`, `stateful`, the hoisted
    and scan fast paths, `Bidirectional`, `.keras` saving, export and
    `keras_gates.testing.run_layer_test`. The guide "Write your own cell"
    (docs/guides/own-cell.md) has a complete example.

    Dropout: the layers draw one input mask and one recurrent mask per
    sequence (Keras 3 semantics) and pass them to every step. A cell called
    alone, or in `keras.layers.RNN`, draws its masks at each call: Keras
    draws per-sequence masks for its own cells only (through a class that is
    not part of its public API), so inside `keras.layers.RNN` a fresh mask
    is drawn at every step on TensorFlow and PyTorch, and none can be drawn
    inside JAX's compiled loop. Use the keras-gates layers for dropout.

    Args:
        units: Positive integer, the size of the output and of the state.
        recurrent_activation: Activation of the gates
            (`self.recurrent_activation`). Defaults to `"sigmoid"`.
        use_bias: Whether `self.add_bias` creates a bias. Defaults to `True`.
        kernel_initializer: Initializer of `kernel` (`self.add_kernel`).
            Defaults to `"glorot_uniform"`.
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        chrono_init: None, or an integer T of at least 3: chrono
            initialization of the memory gate's bias block (the cell's
            `CHRONO_LAYOUT` says which block). Defaults to `None`.
        kernel_regularizer: Regularizer of `kernel`. Defaults to `None`.
        bias_regularizer: Regularizer of `bias`. Defaults to `None`.
        kernel_constraint: Constraint on `kernel`. Defaults to `None`.
        bias_constraint: Constraint on `bias`. Defaults to `None`.
        dropout: Float in [0, 1): fraction of the inputs dropped before
            `input_side` (see `applies_input_dropout`). Defaults to `0.0`.
        seed: Integer seed of the dropout masks. Defaults to `None`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Call arguments:
        - `inputs`: A 2D tensor of shape `(batch, input_dim)`, one time step.
        - `states`: The list of the states, each of shape `(batch, size)` for
          its size in `state_size`, in the order of `state_names`.
        - `training`: Whether dropout is active.
    """

    GATES = ()
    state_names = ("h",)
    output_state = None
    protocol_tested = False
    applies_input_dropout = False
    CHRONO_LAYOUT = None
    is_linear = False
    log_space_scan = False

    def __init__(
        self,
        units: Units,
        *,
        recurrent_activation: Activation = "sigmoid",
        use_bias: Flag = True,
        kernel_initializer: Initializer = "glorot_uniform",
        bias_initializer: Initializer = "zeros",
        chrono_init: Timescale = None,
        kernel_regularizer: Regularizer = None,
        bias_regularizer: Regularizer = None,
        kernel_constraint: Constraint = None,
        bias_constraint: Constraint = None,
        dropout: Rate = 0.0,
        seed: Seed = None,
        **kwargs,
    ):
        # The arguments that this class and every subclass declare in their
        # signatures are checked by their kinds (the annotations) and kept
        # as attributes (and in the config); the rest go to
        # keras.layers.Layer.
        given = arguments(locals())
        kinds = declared(type(self), GatedCell)
        options = {
            name: kinds[name][0].check(value, name)
            for name, value in given.items()
            if name in kinds
        }
        if options["chrono_init"] is not None and self.CHRONO_LAYOUT is None:
            raise ValueError(
                f"{type(self).__name__} does not take `chrono_init`: the cell "
                "sets no CHRONO_LAYOUT (which bias blocks are its memory gate). "
                f"Received: chrono_init={options['chrono_init']}"
            )
        super().__init__(**{k: val for k, val in given.items() if k not in kinds})
        self._options = list(options)
        self.recurrent_dropout = 0.0  # an argument of RecurrentCell
        for name, value in options.items():
            setattr(self, name, value)
        self.seed_generator = keras.random.SeedGenerator(seed=self.seed)

    def add_weight_from(self, name, shape, arguments, initializer=None):
        """Adds weight `name` of `shape` with the initializer, regularizer
        and constraint of the cell's arguments `<arguments>_initializer`,
        `<arguments>_regularizer` and `<arguments>_constraint` (None where
        the cell has no such argument), or `initializer` if given."""
        return self.add_weight(
            shape=shape,
            name=name,
            initializer=initializer or getattr(self, f"{arguments}_initializer"),
            regularizer=getattr(self, f"{arguments}_regularizer", None),
            constraint=getattr(self, f"{arguments}_constraint", None),
        )

    def add_kernel(self, input_dim, blocks):
        """The fused input kernel of `blocks` gate blocks."""
        return self.add_weight_from(
            "kernel", (input_dim, blocks * self.units), "kernel"
        )

    def add_bias(self, blocks, constant_block=None, constant=1.0):
        """Adds the fused bias of `blocks` gate blocks, or returns None.

        With `chrono_init`, the memory gate's blocks start at chrono
        initialization, the others at `bias_initializer`. Block
        `constant_block`, if given, starts at `constant` instead (the
        forget-gate init of `unit_forget_bias`, the SRU's `highway_bias`),
        unless chrono initialization sets that block.
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
            if constant_block in LAYOUTS[self.CHRONO_LAYOUT][1]:
                constant_block = None  # chrono sets it
        if constant_block is not None:
            units, base = self.units, initializer

            def initializer(shape, dtype=None):
                parts = ops.split(base(shape, dtype=dtype), blocks)
                parts[constant_block] = ops.full((units,), constant, dtype=dtype)
                return ops.concatenate(parts)

        return self.add_weight(
            shape=(blocks * self.units,),
            name="bias",
            initializer=initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )

    @property
    def input_dim(self):
        """The number of input features of the built cell: the rows of
        `kernel`, unless the cell says otherwise."""
        return self.kernel.shape[0]

    # ------------------------------------------------------------ protocol

    def input_side(self, inputs, constants=(), dropout_mask=None):
        """Everything of a step that depends on the inputs alone, for one
        step or all steps at once (see the class docstring)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement `input_side(inputs, "
            "constants=(), dropout_mask=None)`, the products of a step that "
            "depend on the inputs alone: see keras_gates.GatedCell."
        )

    def recurrent_step(self, projected, states, constants=(), recurrent_mask=None):
        """One step: `(output, new_states, gates)` (see the class docstring)."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement `recurrent_step("
            "projected, states, constants=(), recurrent_mask=None)`, the rest "
            "of a step, returning (output, new_states, gates): see "
            "keras_gates.GatedCell."
        )

    def check_protocol(self, input_dim):
        """Runs steps of the built cell on random values (batch 2) and raises
        a ValueError that names the cell, the rule it breaks and the fix: the
        declared `state_size`, `output_size`, `GATES`, the list of new
        states, a declared `output_state`, and that the dropout masks the
        cell takes change its step (see the rules in the class docstring).
        `GatedRNN` calls it when it builds, so that a mistake in an own cell
        is reported before it fails inside a loop or gives wrong numbers."""
        protocol.check(self, input_dim)

    def step_constants(self):
        """Tensors derived from the weights that every step needs (splits of
        fused weights), computed once per sequence: slicing a weight inside
        the loop would also cost, in training, one full-size gradient of that
        weight per step."""
        return ()

    def linear_recurrence(self, projected):
        """`(a, b)` of `s_t = a_t ⊙ s_{t-1} + b_t` for every step, when
        `is_linear` (see the class docstring)."""
        raise NotImplementedError(f"{type(self).__name__} is not linear in its state")

    def linear_output(self, projected, states):
        """The outputs from the sequence of states, when `is_linear`."""
        raise NotImplementedError(f"{type(self).__name__} is not linear in its state")

    def derived_gates(self, gates):
        """`gates` with the gates that the cell does not compute but implies
        (the CIFG's forget gate, `1 - input`). Only `keras_gates.inspect`
        calls it."""
        return gates

    # ------------------------------------------------------- from the protocol

    def dropout_masks(self, step_inputs, training):
        """`(input_mask, recurrent_mask)` for one sequence, each None when
        its rate is 0 or outside training: drawn from the cell's seed
        generator, the input mask first (Keras 3's order)."""
        input_mask = recurrent_mask = None
        if training and self.dropout > 0.0:
            ones = ops.ones_like(step_inputs)
            input_mask = keras.random.dropout(
                ones, self.dropout, seed=self.seed_generator
            )
        if training and self.recurrent_dropout > 0.0:
            batch = ops.shape(step_inputs)[0]
            size = self.state_size[self.recurrent_dropout_state]
            ones = ops.ones((batch, size), dtype=step_inputs.dtype)
            recurrent_mask = keras.random.dropout(
                ones, self.recurrent_dropout, seed=self.seed_generator
            )
        return input_mask, recurrent_mask

    # The state that recurrent dropout masks (h; the SRU's c).
    recurrent_dropout_state = 0

    def step_with_gates(self, inputs, states, constants=None):
        """One step in inference: `(output, new_states, gates)`. A caller
        that steps through a sequence passes `constants` (`step_constants()`,
        computed once) rather than have every step derive them again."""
        if constants is None:
            constants = self.step_constants()
        projected = self.input_side(inputs, constants)
        output, new_states, gates = self.recurrent_step(
            projected, list(states), constants
        )
        if sorted(gates) != sorted(self.GATES):
            raise ValueError(
                f"{type(self).__name__}.recurrent_step returned the gates "
                f"{sorted(gates)}, but the cell declares GATES = {self.GATES}."
            )
        return output, new_states, gates

    def call(self, inputs, states, training=False):
        """One step, as `keras.layers.RNN` calls a cell: `(output,
        new_states)`, with dropout masks drawn for this call."""
        if not tree.is_nested(states):
            states = [states]
        states = list(states)
        v.check_step_call(
            self,
            v.shape_of(inputs),
            self.input_dim if self.built else None,
            [v.shape_of(s) for s in states],
        )
        input_mask, recurrent_mask = self.dropout_masks(inputs, training)
        constants = self.step_constants()
        projected = project(self, inputs, constants, input_mask)
        output, new_states, _ = self.recurrent_step(
            projected, states, constants, recurrent_mask
        )
        return output, new_states

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
        kinds = declared(type(self), GatedCell)
        config = {
            name: kinds[name][0].serialize(getattr(self, name))
            for name in self._options
        }
        return {**super().get_config(), **config}
