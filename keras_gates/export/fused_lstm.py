"""TFLite's fused `UNIDIRECTIONAL_SEQUENCE_LSTM` kernel for the LSTM family:
the Keras side.

`fusable_clone(model)` makes a clone of the model in which every eligible
LSTM (a cell that describes itself, `keras_gates.cells.lstm_family.describe`:
`keras_gates.PeepholeLSTM`, `keras_gates.CoupledLSTM`, `keras.layers.LSTM`)
runs through a composite TensorFlow function marked with the attributes that
the TFLite converter replaces by one `UNIDIRECTIONAL_SEQUENCE_LSTM` op (the
mechanism through which it fused Keras 2's LSTM: `api_implements =
"lstm_..."`, six arguments `inputs, init_h, init_c, kernel,
recurrent_kernel, bias`, five results). The composite receives the weights
in the op's gate order i, f, c, o; a CIFG layer's input gate is passed as
the op's forget gate with its signs flipped (ours: `f = 1 - i`; the op's
CIFG: `i = 1 - f`). A mask is handled around the op (`_run_fused`). Each
layer's plan (what the converter leaves out: peepholes, projection, clips)
goes to `keras_gates.export.lstm_op.complete`, which writes it into the
converted file.

A layer that the op cannot express keeps its `WHILE` loop, and the reason
is logged (`ineligible` says it).
"""

import logging
import uuid

import keras
import numpy as np

from keras_gates.cells.lstm_family import describe

log = logging.getLogger("keras_gates.export")


def _is_lstm_family(layer):
    return isinstance(layer, keras.layers.RNN) and describe(layer.cell) is not None


def ineligible(layer):
    """Why the fused op cannot run `layer` (a string), or None when it can."""
    form = describe(layer.cell)
    if form.dtype != "float32":
        return (
            f"computes in {form.dtype} (a mixed precision policy; the op's "
            "float path is float32)"
        )
    if form.input_activation != "tanh" and form.input_activation == (
        form.output_activation
    ):
        return f"activation {form.input_activation!r} (the op computes tanh)"
    if form.gate_activation != "sigmoid":
        return (
            f"recurrent_activation {form.gate_activation!r} (the op's "
            "gates are sigmoids)"
        )
    absent = form.absent_gates()
    if absent:
        return (
            f"{absent[0]}_gate=False (the op always computes the {absent[0]} "
            "gate; its CIFG couples the input gate to the forget gate, it "
            "cannot hold a gate at 1)"
        )
    for option, activation, role in (
        ("input_activation", form.input_activation, "block input"),
        ("output_activation", form.output_activation, "cell output"),
    ):
        if activation != "tanh":
            return f"{option} {activation!r} (the op applies tanh to the {role})"
    if form.full_gate_recurrence:
        return "full_gate_recurrence (the op's gates see no earlier gates)"
    if form.layer_norm:
        return (
            "layer_norm (the op normalizes each gate's pre-activation, not the "
            "fused products and the cell state)"
        )
    if layer.return_state:
        return "return_state (the fused op does not output its final states)"
    if layer.stateful:
        return "stateful"
    return None


def _weights(layer):
    """`(kernel, recurrent_kernel, bias)` in the op's gate order i, f, c, o
    (4 blocks), and the rest of the plan."""
    form = describe(layer.cell)

    def value(weight):
        return None if weight is None else keras.ops.convert_to_numpy(weight)

    kernel, recurrent, bias = (
        value(form.kernel),
        value(form.recurrent_kernel),
        value(form.bias),
    )
    units = form.units
    if bias is None:
        bias = np.zeros(kernel.shape[1], kernel.dtype)
    peep = {}
    coupled = form.coupled
    if coupled:
        # Ours: blocks i, c, o and f = 1 - i. The op's CIFG: i = 1 - f, so
        # its forget gate is our input gate with the signs flipped, and its
        # (absent) input gate a placeholder of zeros.
        def four(w):
            i, c, o = np.split(w, 3, axis=-1)
            return np.concatenate([np.zeros_like(i), -i, c, o], axis=-1)

        kernel, recurrent, bias = four(kernel), four(recurrent), four(bias)
        if "input" in form.peepholes:
            peep["forget"] = -value(form.peepholes["input"])
    else:
        for gate in ("input", "forget"):
            if gate in form.peepholes:
                peep[gate] = value(form.peepholes[gate])
    if "output" in form.peepholes:
        peep["output"] = value(form.peepholes["output"])
    if peep:
        # The op takes the peepholes all or none (it reads their presence
        # from the output gate's): the missing ones are zeros.
        for gate in ("forget", "output") if coupled else ("input", "forget", "output"):
            peep.setdefault(gate, np.zeros(units, kernel.dtype))
    plan = {
        "units": units,
        "coupled": coupled,
        "peepholes": peep,
        "projection": value(form.projection),
        "cell_clip": form.cell_clip or 0.0,
        "projection_clip": form.projection_clip or 0.0,
        "forget_gate_bias": bias[units : 2 * units].astype("float32"),
    }
    return (kernel, recurrent, bias), plan


def _composite(go_backwards, projection):
    """The composite function the converter fuses. Its body computes a plain
    LSTM (with the projection), which is what TensorFlow runs before the
    conversion replaces it; only its signature and attributes matter."""
    import tensorflow as tf

    attributes = {
        "api_implements": f"lstm_{uuid.uuid4()}",
        "api_preferred_device": "CPU",
        "time_major": False,
        "go_backwards": go_backwards,
    }

    @tf.function(autograph=False, experimental_attributes=attributes)
    def lstm(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
        # Made inside: a captured tensor would be a seventh argument, which
        # the converter takes for a mask and does not fuse.
        project = None if projection is None else tf.constant(projection)
        sequence = tf.transpose(inputs, (1, 0, 2))
        if go_backwards:
            sequence = tf.reverse(sequence, [0])

        def step(carry, x):
            h, c = carry
            z = tf.matmul(x, kernel) + tf.matmul(h, recurrent_kernel) + bias
            i, f, g, o = tf.split(z, 4, axis=-1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            if project is not None:
                h = tf.matmul(h, project)
            return h, c

        hs, cs = tf.scan(step, sequence, initializer=(init_h, init_c))
        outputs = tf.transpose(hs, (1, 0, 2))
        runtime = tf.constant(0.0)
        return outputs[:, -1], outputs, hs[-1], cs[-1], runtime

    return lstm


class _Record:
    """What the traced clone reports: the plans of the fused layers and why
    the others were not fused. A plain object, so that Keras' attribute
    tracking does not copy the list and the dict into wrappers."""

    def __init__(self):
        self.plans = []
        self.fallbacks = {}


class _StandIn(keras.layers.Layer):
    """A layer of the converted clone that stands in for `original`: same
    name, dtype, output shape and mask; the plans of its LSTM layers are
    read now, eagerly, since its call is traced. Not public."""

    def __init__(self, original, record, lstm_layers, **kwargs):
        super().__init__(name=original.name, dtype=original.dtype_policy, **kwargs)
        self.original = original
        self.record = record
        self.supports_masking = True
        self.directions = [_weights(layer) for layer in lstm_layers]

    def compute_output_shape(self, input_shape):
        return self.original.compute_output_shape(input_shape)

    def compute_mask(self, inputs, mask=None):
        return self.original.compute_mask(inputs, mask)


class FusedLSTM(_StandIn):
    """Stands in for an LSTM-family layer: runs the composite function
    (with, for a mask, the compaction of `_run_fused`). Not public."""

    def __init__(self, original, record, **kwargs):
        super().__init__(original, record, [original], **kwargs)

    def call(self, inputs, initial_state=None, mask=None, training=False):
        layer = self.original
        if initial_state is not None:
            return _loop(layer, self.record, inputs, initial_state, mask)
        return _run_fused(layer, self.directions[0], self.record, inputs, mask)


def _loop(layer, record, inputs, initial_state, mask):
    """`layer`'s own loop, for a call with `initial_state`: the export gives
    the fused op state tensors of its own, zeroed before every call."""
    record.fallbacks[layer.name] = (
        "called with initial_state (the export zeroes the fused op's states)"
    )
    return layer(inputs, initial_state=initial_state, mask=mask)


def _run_fused(layer, weights_and_plan, record, inputs, mask=None):
    """`layer`'s output through the composite function.

    The op has no mask, so a masked sequence is compacted first: each row's
    real steps move to the front in their order (a top-k of a key that ranks
    real steps before padding, each by time), the op runs over that, and
    each output step takes the op's output after the real steps seen so far
    (a gather by the mask's running count; zeros before the first). That is
    Keras' masked loop for any mask, left, right or inner padding: the state
    skips padded steps and the output repeats at them (or is zero with
    `zero_output_for_mask`). `go_backwards`
    reverses the input and the mask first, as Keras' loop does."""
    import tensorflow as tf

    (kernel, recurrent, bias), plan = weights_and_plan
    if not any(p is plan for p in record.plans):
        record.plans.append(plan)
    # The op's identity in the converted model: its forget-gate bias, which
    # the export fills with the plan's number (1, 2, ...); `complete` reads
    # it, then writes the layer's own bias in its place, so the number never
    # reaches a computation of the converted model.
    number = next(k for k, p in enumerate(record.plans) if p is plan) + 1
    units = plan["units"]
    numbered_bias = np.concatenate(
        [bias[:units], np.full(units, number, bias.dtype), bias[2 * units :]]
    )
    go_backwards = layer.go_backwards
    if mask is not None:
        mask = tf.cast(mask, tf.bool)
        if go_backwards:
            inputs = tf.reverse(inputs, [1])
            mask = tf.reverse(mask, [1])
            go_backwards = False
        steps = tf.shape(inputs)[1]
        time = tf.range(steps)
        key = tf.where(mask, steps - time, -time)
        order = tf.math.top_k(key, k=steps, sorted=True).indices
        inputs = tf.gather(inputs, order, batch_dims=1)
    # Fixed when the export traces (the converter needs it); unknown while
    # the clone is assembled.
    batch = inputs.shape[0] or tf.shape(inputs)[0]
    zeros_h = tf.zeros((batch, recurrent.shape[0]), inputs.dtype)
    zeros_c = tf.zeros((batch, plan["units"]), inputs.dtype)
    lstm = _composite(go_backwards, plan["projection"])
    last, outputs, _, _, _ = lstm(
        inputs,
        zeros_h,
        zeros_c,
        tf.constant(kernel),
        tf.constant(recurrent),
        tf.constant(numbered_bias),
    )
    if mask is None:
        return outputs if layer.return_sequences else last
    seen = tf.cumsum(tf.cast(mask, tf.int32), axis=1)
    outputs = tf.pad(outputs, [[0, 0], [1, 0], [0, 0]])  # quantizable
    if not layer.return_sequences:
        seen, mask = seen[:, -1], mask[:, -1]
    outputs = tf.gather(outputs, seen, batch_dims=1)
    if layer.zero_output_for_mask:
        # Keras outputs zeros at masked steps then (Bidirectional sets it
        # whenever it returns sequences), the last output too when the last
        # step is masked.
        outputs = outputs * tf.cast(mask, outputs.dtype)[..., None]
    return outputs


class FusedBidirectional(_StandIn):
    """Stands in for a `keras.layers.Bidirectional` over two eligible
    LSTM-family layers: one fused op per direction, merged as the wrapper
    merges. Not public."""

    def __init__(self, original, record, **kwargs):
        inner = [original.forward_layer, original.backward_layer]
        super().__init__(original, record, inner, **kwargs)

    def call(self, inputs, initial_state=None, mask=None, training=False):
        wrapper = self.original
        if initial_state is not None:
            return _loop(wrapper, self.record, inputs, initial_state, mask)
        forward, backward = self.directions
        y = _run_fused(wrapper.forward_layer, forward, self.record, inputs, mask)
        y_rev = _run_fused(wrapper.backward_layer, backward, self.record, inputs, mask)
        if wrapper.return_sequences:  # back in time order, as Keras
            y_rev = keras.ops.flip(y_rev, axis=1)
        mode = wrapper.merge_mode
        if mode == "concat":
            return keras.ops.concatenate([y, y_rev], axis=-1)
        if mode == "sum":
            return y + y_rev
        if mode == "ave":
            return (y + y_rev) / 2
        if mode == "mul":
            return y * y_rev
        return [y, y_rev]


def looping_layers(model):
    """The names of the recurrent layers of `model` (nested models' by
    their path) that the fused op does not run: outside the LSTM family, or
    a `SlicedRNN` (its levels run in loops of their own)."""
    from keras_gates.layers.sliced_rnn import SlicedRNN

    names = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            names += [f"{layer.name}/{name}" for name in looping_layers(layer)]
        elif isinstance(layer, SlicedRNN):
            names.append(layer.name)
        elif isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)):
            inner = (
                [layer.forward_layer, layer.backward_layer]
                if isinstance(layer, keras.layers.Bidirectional)
                else [layer]
            )
            if not all(_is_lstm_family(sub) for sub in inner):
                names.append(layer.name)
    return names


def has_lstm_family(model):
    """Whether any layer of `model` (or inside a Bidirectional) is an LSTM."""
    for layer in model.layers:
        inner = (
            [layer.forward_layer, layer.backward_layer]
            if isinstance(layer, keras.layers.Bidirectional)
            else [layer]
        )
        if any(_is_lstm_family(sub) for sub in inner):
            return True
    return False


def fusable_clone(model):
    """`(clone, plans, fallbacks)`: the model with its eligible LSTM-family
    layers standing in as `FusedLSTM`; `plans` fills as the clone is
    traced, `fallbacks` maps the name of each layer left as it is to why."""
    record = _Record()
    fallbacks = record.fallbacks

    def clone(layer):
        if isinstance(layer, keras.layers.Bidirectional):
            inner = (layer.forward_layer, layer.backward_layer)
            if not any(_is_lstm_family(sub) for sub in inner):
                return layer
            reasons = [
                ineligible(sub) if _is_lstm_family(sub) else "not an LSTM"
                for sub in inner
            ]
            reasons = [r for r in reasons if r is not None]
            if reasons:
                fallbacks[layer.name] = "; ".join(sorted(set(reasons)))
                return layer
            return FusedBidirectional(layer, record)
        if not _is_lstm_family(layer):
            return layer
        reason = ineligible(layer)
        if reason is not None:
            fallbacks[layer.name] = reason
            return layer
        return FusedLSTM(layer, record)

    copy = keras.models.clone_model(model, clone_function=clone)
    return copy, record.plans, record.fallbacks
