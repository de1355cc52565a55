"""`GatedRNN`: the layer that runs any `keras_gates.GatedCell`, and the
base of the eight keras-gates layers of one cell each."""

import keras
from keras import ops
from keras import tree

from keras_gates import _validation as v
from keras_gates import engine
from keras_gates.api_export import keras_gates_export
from keras_gates.cells.gated_cell import GatedCell
from keras_gates.cells.protocol import protocol_vouched_for


class _OutputMemory:
    """A stateful layer's last output, held outside the layer's weights.

    A masked step repeats the previous output, so a stateful layer must
    remember its last output from one call to the next for chunks to equal
    one pass (the SRU's output is not among its states). Like Keras' own
    state variables, it is neither a weight nor saved: the variable sits in
    this holder, which Keras' attribute tracking does not look into.
    """

    def __init__(self, batch_size, units, dtype):
        self.variable = keras.Variable(
            ops.zeros((batch_size, units)),
            dtype=dtype,
            trainable=False,
            name="last_output",
        )


@keras_gates_export
class GatedRNN(keras.layers.RNN):
    """A recurrent layer over any cell of the `keras_gates.GatedCell` protocol.

    Used like `keras.layers.RNN`, with the cell as first argument, and like
    `keras.layers.LSTM` otherwise: masking (left, right or inner padding;
    a masked step keeps the states and repeats the previous output, or
    outputs zeros with `zero_output_for_mask`, the same on every backend),
    `return_sequences`, `return_state`, `go_backwards`, `stateful` (chunks
    equal one pass, masks included), `unroll`, dropout with one mask per
    sequence, `Bidirectional`, `.keras` saving and export. The cell's
    protocol gives it its fast paths (see `fast_path`); the path is chosen
    in one place, `keras_gates.engine.choose_path`, and exposed as
    `run_paths`.

    Args:
        cell: A `keras_gates.GatedCell`: one of the cells of this package, or
            your own.
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
        zero_output_for_mask: If True, a masked step outputs zeros; else it
            repeats the previous output (as `keras.layers.Bidirectional` asks
            when it returns sequences). Defaults to `False`.
        fast_path: How the steps run: `False` the cell step by step, `True` the
            input products of every step in one matrix product before the loop
            (a parallel scan for a cell linear in its state), `"auto"` the fast
            path on a GPU or TPU and the step loop on a CPU (with the compiled
            loops for the LSTMs' training there). All give the same numbers.
            Defaults to `"auto"`.
        activity_regularizer: Regularizer applied to the layer's output.
            Defaults to `None`.
        **kwargs: Base layer arguments, such as `name` and `dtype`.

    Call arguments:
        - `inputs`: A 3D tensor of shape `(batch, timesteps, features)`.
        - `mask`: Optional boolean tensor of shape `(batch, timesteps)`; False
          marks a step to skip.
        - `training`: Whether dropout is active.
        - `initial_state`: Optional list of initial state tensors, in the cell's
          state order. Defaults to zeros.

    Masking:
        The layer supports masking (e.g. from `Embedding(mask_zero=True)` or
        `Masking`), with left or right padding: a masked step keeps the state
        and repeats the previous output (or outputs zeros with
        `zero_output_for_mask=True`).

    Examples:
        >>> import numpy as np, keras_gates
        >>> layer = keras_gates.GatedRNN(keras_gates.SRUCell(4), return_sequences=True)
        >>> tuple(layer(np.zeros((2, 3, 5), "float32")).shape)
        (2, 3, 4)
    """

    def __init__(
        self,
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        *,
        fast_path="auto",
        activity_regularizer=None,
        **kwargs,
    ):
        if not isinstance(cell, GatedCell):
            raise TypeError(
                "GatedRNN runs cells of the keras_gates.GatedCell protocol. "
                f"Received: {type(cell).__name__}; wrap other cells in "
                "keras.layers.RNN."
            )
        flags = {
            "return_sequences": return_sequences,
            "return_state": return_state,
            "go_backwards": go_backwards,
            "stateful": stateful,
            "unroll": unroll,
            "zero_output_for_mask": zero_output_for_mask,
        }
        flags = {name: v.check_bool(value, name) for name, value in flags.items()}
        if not (fast_path is True or fast_path is False or fast_path == "auto"):
            raise ValueError(
                "Argument `fast_path` must be one of 'auto', True or False. "
                f"Received: fast_path={fast_path!r}"
            )
        super().__init__(
            cell, **flags, activity_regularizer=activity_regularizer, **kwargs
        )
        self.input_spec = keras.layers.InputSpec(ndim=3)
        self.fast_path = fast_path
        self._output_memory = None
        # Whether the call in progress resumes from the stored states.
        self._resuming = False

    @property
    def run_paths(self):
        """The paths this layer's calls take, a `keras_gates.engine.Paths`:
        `.training` and `.inference` (masked or not), each `"steps"`, `"hoisted"`, `"scan"` or `"compiled"`
        (see `keras_gates.engine.choose_path`). Not named `path`: that is
        Keras' own `Layer.path`, the layer's place in its model."""
        return engine.Paths.of(self.cell, self.fast_path, unroll=self.unroll)

    def build(self, sequences_shape, initial_state_shape=None):
        super().build(sequences_shape, initial_state_shape)
        if not protocol_vouched_for(self.cell):
            # An own cell: a step on random values names a mistake now. The
            # built-in cells declare `protocol_tested` (their tests check the
            # protocol and the numbers) and skip it (the step costs about
            # 40 ms a build on JAX, 7 on TensorFlow).
            self.cell.check_protocol(sequences_shape[-1])
        if self.stateful and self._output_memory is None:
            self._output_memory = _OutputMemory(
                sequences_shape[0], self.cell.output_size, self.variable_dtype
            )

    def reset_state(self):
        super().reset_state()
        if self._output_memory is not None:
            variable = self._output_memory.variable
            variable.assign(ops.zeros_like(variable.value))

    def previous_output(self, batch_size):
        """The output that a masked first step repeats: the last output of
        the previous call when a stateful layer resumes from its stored
        states, zeros otherwise (no output before the first valid step)."""
        dtype = self.cell.compute_dtype
        if self._resuming:
            return ops.cast(self._output_memory.variable.value, dtype)
        return ops.zeros((batch_size, self.cell.output_size), dtype)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        last_output, outputs, states = engine.run(
            self.cell,
            sequences,
            initial_state,
            mask,
            training,
            self.previous_output(ops.shape(sequences)[0]),
            engine.RunOptions.of(self, training, sequences.shape[1]),
        )
        if self.stateful:
            memory = self._output_memory.variable
            memory.assign(ops.cast(last_output, memory.dtype))
        if outputs is None:  # keras.layers.RNN does not read them then
            outputs = ops.expand_dims(last_output, 1)
        return last_output, outputs, states

    def _check_call(self, sequences_shape, initial_state_shapes, mask_shape):
        """A clear ValueError for inputs, initial states or a mask of the
        wrong shape, before any op can fail on them."""
        v.check_sequence_call(
            self,
            tuple(sequences_shape),
            self.cell.input_dim if self.cell.built else None,
            initial_state_shapes,
            mask_shape,
        )

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        # Symbolic calls (functional models) reach this, not `call`.
        if initial_state_shape is not None and (
            not initial_state_shape
            or isinstance(initial_state_shape[0], (int, type(None)))
        ):
            initial_state_shape = [initial_state_shape]  # one state, not a list
        self._check_call(
            sequences_shape,
            None if initial_state_shape is None else list(initial_state_shape),
            None,
        )
        return super().compute_output_shape(sequences_shape)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        if initial_state is not None and not tree.is_nested(initial_state):
            initial_state = [initial_state]
        self._check_call(
            v.shape_of(sequences),
            None if initial_state is None else [v.shape_of(s) for s in initial_state],
            None if mask is None else v.shape_of(tree.flatten(mask)[0]),
        )
        self._resuming = self.stateful and initial_state is None
        try:
            return super().call(
                sequences, mask=mask, training=training, initial_state=initial_state
            )
        finally:
            self._resuming = False

    def get_config(self):
        return {**super().get_config(), "fast_path": self.fast_path}
