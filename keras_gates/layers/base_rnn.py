"""Private base class of the keras-gates layers."""

import keras
from keras import ops
from keras import tree

from keras_gates import _validation as v
from keras_gates._compat import backend_rnn
from keras_gates._device import accelerator_available

# Keys of a cell's config that belong to the layer, not to the cell.
_LAYER_KEYS = ("name", "trainable", "dtype")


def hoisting_pays_off():
    """Whether `fast_path="auto"` should hoist `x @ kernel` out of the loop.

    On a GPU one large GEMM before the loop is what cuDNN's LSTM does. On a
    CPU the per-step product is cheap and the hoisted projection, the
    largest tensor of the call (batch x steps x 4 units), costs memory
    passes of its own: measured on a 2-core CPU (`python -m benchmarks.run
    --preset quick`, TensorFlow), the hoisted path took 0.81-1.70x the time of
    the step-by-step loop: faster in 11 of 32 measurements (by at most
    19%), slower in the rest (up to 70%, SRU and MinimalGRU inference). So
    "auto" hoists on a GPU or TPU only.
    """
    return accelerator_available()


def cell_property(name):
    """A read-only property of a layer that forwards to `layer.cell.<name>`."""
    return property(
        lambda self: getattr(self.cell, name),
        doc=f"The cell's `{name}` (read-only).",
    )


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


class GatedRNN(keras.layers.RNN):
    """A `keras.layers.RNN` over one keras-gates cell. Not part of the API.

    Subclasses build their cell from their own arguments and pass it here with
    the RNN arguments. The config is flat (the cell's arguments next to the
    RNN's), so `from_config` is `cls(**config)`, as for `keras.layers.LSTM`.

    Fast paths: by default the fast path is `_hoisted_loop` (the cell's
    `_project_inputs` over the whole sequence, then `_recurrent_step` in the
    loop). A subclass that computes the sequence another way (a parallel
    scan) overrides `_fast_loop` (same contract as `inner_loop`), may
    override `_fast_path_unavailable` to say when it cannot serve a
    configuration, and `_fast_path_pays_off` to say where it is not faster. The
    choice between the two paths is made here and only here, in
    `uses_fast_path`, from the `fast_path` argument: `"auto"` takes the fast
    path when available and paying off, `True` requires it (a `ValueError`
    at construction when unavailable), `False` always runs the cell step by
    step.
    """

    def __init__(
        self,
        cell,
        *,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        fast_path="auto",
        activity_regularizer=None,
        **kwargs,
    ):
        for name, value in [
            ("return_sequences", return_sequences),
            ("return_state", return_state),
            ("go_backwards", go_backwards),
            ("stateful", stateful),
            ("unroll", unroll),
            ("zero_output_for_mask", zero_output_for_mask),
        ]:
            v.check_bool(value, name)
        if not (fast_path is True or fast_path is False or fast_path == "auto"):
            raise ValueError(
                "Argument `fast_path` must be one of 'auto', True or False. "
                f"Received: fast_path={fast_path!r}"
            )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        self.input_spec = keras.layers.InputSpec(ndim=3)
        self.fast_path = fast_path
        self._output_memory = None
        # Whether the call in progress resumes from the stored states.
        self._resuming = False
        if fast_path is True and self._fast_path_unavailable() is not None:
            raise ValueError(
                f"{type(self).__name__} cannot take its fast path here: "
                f"{self._fast_path_unavailable()} Pass fast_path='auto' to fall "
                "back to the step-by-step loop. Received: fast_path=True"
            )

    def build(self, sequences_shape, initial_state_shape=None):
        super().build(sequences_shape, initial_state_shape)
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
        if self._resuming:
            return ops.cast(self._output_memory.variable.value, self.cell.compute_dtype)
        return ops.zeros((batch_size, self.cell.output_size), self.cell.compute_dtype)

    def _fast_path_unavailable(self):
        """None if the fast path can serve this layer, else why not."""
        return None

    def _fast_path_pays_off(self):
        """Whether `"auto"` should take the (available) fast path here."""
        return hoisting_pays_off()

    def uses_fast_path(self):
        """Whether calls run the fast path rather than the cell step by step."""
        if self.fast_path is False or self._fast_path_unavailable() is not None:
            return False
        return self.fast_path is True or self._fast_path_pays_off()

    def _fast_loop(self, sequences, initial_state, mask, training):
        return self._hoisted_loop(sequences, initial_state, mask, training)

    def _hoisted_loop(self, sequences, initial_state, mask, training):
        """The input side of every step in one GEMM, then the loop.

        `cell._project_inputs` runs once on the whole (dropped) sequence, so
        `x @ kernel` is one product over batch * steps rows, and the loop runs
        `cell._recurrent_step`: the recurrent product and the element-wise
        gate math only.
        """
        dropped = self._drop_sequence(sequences, training)
        # Time-major from here: the projection, the largest tensor of the
        # call, is then never transposed (the inputs and outputs are smaller).
        inputs = ops.transpose(sequences, (1, 0, 2))
        if dropped is not sequences:
            dropped = ops.transpose(dropped, (1, 0, 2))
        else:
            dropped = inputs
        if tree.is_nested(mask):
            mask = mask[0]
        if mask is not None:
            mask = ops.transpose(mask, (1, 0))
        projected = self.cell._project_inputs(dropped, inputs)
        last_output, outputs, states = self._step_loop(
            projected,
            initial_state,
            mask,
            training,
            self.cell._recurrent_step,
            time_major=True,
        )
        if self.return_sequences:
            outputs = ops.transpose(outputs, (1, 0, 2))
        return last_output, outputs, states

    def _drop_sequence(self, sequences, training):
        """The inputs after input dropout, or `sequences` itself without it.

        One mask per sequence for all its steps: the mask that
        `keras.layers.RNN` draws for this call, applied once before any loop.
        """
        if not (training and self.cell.dropout > 0.0):
            return sequences
        dropout_mask = self.cell.get_dropout_mask(sequences[:, 0, :])
        return sequences * ops.expand_dims(dropout_mask, 1)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if self.uses_fast_path():
            result = self._fast_loop(sequences, initial_state, mask, training)
        else:
            result = self._cell_loop(sequences, initial_state, mask, training)
        if self.stateful:
            last_output = ops.cast(result[0], self._output_memory.variable.dtype)
            self._output_memory.variable.assign(last_output)
        return result

    def _cell_loop(self, sequences, initial_state, mask, training):
        cell = self.cell
        dropped = self._drop_sequence(sequences, training)
        if dropped is sequences or not cell.reads_undropped_inputs:

            def step_fn(x, *args):
                return cell._step(x, x, *args)

            loop_inputs = dropped
        else:
            # Both side by side, one tensor (Keras' torch loop does not
            # unroll nested inputs), split at every step.
            features = sequences.shape[-1]

            def step_fn(both, *args):
                return cell._step(both[:, :features], both[:, features:], *args)

            loop_inputs = ops.concatenate([dropped, sequences], axis=-1)
        return self._step_loop(loop_inputs, initial_state, mask, training, step_fn)

    def _step_loop(
        self, sequences, initial_state, mask, training, step_fn, time_major=False
    ):
        """The loop over time, the cell's weight-derived constants computed once.

        `step_fn(inputs, states, constants, training)` is one step.

        Masked steps are handled here, the same on every backend, not by the
        backend's loop: the mask travels with the inputs (one more feature,
        split off at each step), a masked step keeps the states, and its
        output is zeros (`zero_output_for_mask`) or the previous output. The
        previous output is carried as the first loop state, since it is not
        always a state of the cell (the SRU outputs `h` and keeps `c`); it
        starts at `previous_output`: zeros, or for a stateful layer that
        resumes, its last output of the call before. (Keras' backends differ
        here: its JAX loop repeats `states[0]`, its TensorFlow loop a
        previous output of its own that starts at zeros.)
        """
        if tree.is_nested(mask):
            mask = mask[0]
        cell = self.cell
        constants = cell._step_constants()
        masked = mask is not None
        carry_output = masked and not self.zero_output_for_mask
        # As in keras.layers.RNN: torch's autograd needs fresh state tensors
        # when a stateful layer later assigns them in place.
        copy_states = keras.backend.backend() == "torch" and self.stateful

        def step(inputs, states):
            states = [ops.copy(s) for s in states] if copy_states else list(states)
            if masked:
                inputs, valid = inputs[:, :-1], inputs[:, -1:] > 0.5
            if carry_output:
                previous, states = states[0], states[1:]
            output, new_states = step_fn(inputs, states, constants, training)
            if masked:
                new_states = [
                    ops.where(valid, new, old)
                    for new, old in zip(new_states, states, strict=True)
                ]
                if not carry_output:
                    previous = ops.zeros_like(output)
                output = ops.where(valid, output, previous)
            if carry_output:
                new_states = [output, *new_states]
            return output, new_states

        initial_state = list(initial_state)
        if masked:
            valid = ops.cast(
                ops.expand_dims(ops.cast(mask, "bool"), -1), sequences.dtype
            )
            sequences = ops.concatenate([sequences, valid], axis=-1)
        if carry_output:
            batch_size = ops.shape(sequences)[1 if time_major else 0]
            initial_state = [self.previous_output(batch_size), *initial_state]
        last_output, outputs, states = backend_rnn(
            step,
            sequences,
            initial_state,
            go_backwards=self.go_backwards,
            mask=None,
            unroll=self.unroll,
            input_length=sequences.shape[0 if time_major else 1],
            time_major=time_major,
            return_all_outputs=self.return_sequences,
        )
        states = list(states)
        return last_output, outputs, states[1:] if carry_output else states

    def _check_call(self, sequences_shape, initial_state_shapes, mask_shape):
        """A clear ValueError for inputs, initial states or a mask of the
        wrong shape, before any op can fail on them."""
        v.check_sequence_call(
            self,
            tuple(sequences_shape),
            self.cell.kernel.shape[0] if self.cell.built else None,
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

    units = cell_property("units")
    recurrent_activation = cell_property("recurrent_activation")
    use_bias = cell_property("use_bias")
    kernel_initializer = cell_property("kernel_initializer")
    bias_initializer = cell_property("bias_initializer")
    chrono_init = cell_property("chrono_init")
    kernel_regularizer = cell_property("kernel_regularizer")
    bias_regularizer = cell_property("bias_regularizer")
    kernel_constraint = cell_property("kernel_constraint")
    bias_constraint = cell_property("bias_constraint")
    dropout = cell_property("dropout")
    seed = cell_property("seed")

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        config["fast_path"] = self.fast_path
        cell_config = {
            key: value
            for key, value in self.cell.get_config().items()
            if key not in _LAYER_KEYS
        }
        return {**config, **cell_config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class RecurrentGatedRNN(GatedRNN):
    """A `GatedRNN` over a cell with a recurrent kernel (a `RecurrentCell`):
    also forwards the recurrent side of the cell's arguments. Not public."""

    activation = cell_property("activation")
    recurrent_initializer = cell_property("recurrent_initializer")
    recurrent_regularizer = cell_property("recurrent_regularizer")
    recurrent_constraint = cell_property("recurrent_constraint")
    recurrent_dropout = cell_property("recurrent_dropout")


_COMMON_ARGS_DOC = """\
        recurrent_activation: Activation of the gates. Defaults to
            `"sigmoid"`.
        use_bias: Whether the cell has a bias vector. Defaults to `True`.
        kernel_initializer, recurrent_initializer, bias_initializer:
            Initializers of `kernel`, `recurrent_kernel` and `bias`.
            Defaults to the cell's defaults.
        chrono_init: None, or an integer T of at least 3: chrono
            initialization of the memory gate's bias (Tallec & Ollivier,
            2018), each unit starting with a memory of 2 to T steps; set T
            to the longest dependency in the data. Defaults to `None`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer:
            Regularizers of the same weights. Default to `None`.
        activity_regularizer: Regularizer of the layer's output. Defaults to
            `None`.
        kernel_constraint, recurrent_constraint, bias_constraint: Constraints
            on the same weights. Default to `None`.
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
        `zero_output_for_mask=True`)."""


def with_common_args_doc(cls):
    """Fills the `{common_args}` marker of a layer's docstring."""
    cls.__doc__ = cls.__doc__.replace("        {common_args}", _COMMON_ARGS_DOC)
    return cls
