"""Chrono initialization of gate biases (Tallec & Ollivier, 2018).

A gated cell keeps its state at each step in the proportion that its memory
gate lets through: a bias `b` on a gate that keeps starts the unit with a
retention of `σ(b)` per step, a memory that fades over about `1 + e^b`
steps. At the usual initialization (`b = 0` or `1`) every unit forgets within
a few steps, so gradients from a label that depends on step 1 of a 100-step
sequence vanish before any learning can start. Chrono initialization draws
each unit's timescale between 2 and `max_timescale` steps: `b = log(u)`, `u ~
U(1, max_timescale - 1)`, on the gate that keeps (and `-log(u)` on the one
that writes, for the LSTM's input gate), so that some units remember across
the whole range of dependencies the data has, from the first step of
training.

The keras-gates layers take `chrono_init=max_timescale`. Keras' own layers
take the initializer as their `bias_initializer`:

```python
keras.layers.LSTM(64, unit_forget_bias=False, bias_initializer=Chrono(100, "lstm"))
keras.layers.GRU(64, bias_initializer=Chrono(100, "gru"))
```

Reference: C. Tallec and Y. Ollivier, "Can recurrent neural networks warp
time?", ICLR 2018.
"""

import math
import numbers
import sys

import keras
import numpy as np
from keras import ops

from keras_gates.api_export import keras_gates_export

__all__ = ["Chrono", "timescales"]

# Each layout: the number of fused bias blocks, and for each gate that chrono
# sets, its block and its sign: +1 for a gate whose opening keeps the state
# (bias log u), -1 for one whose opening writes the new value (bias -log u).
# Block orders: each cell's docstring.
LAYOUTS = {
    "lstm": (4, {0: -1, 1: +1}),  # i, f, c, o: Keras LSTM, PeepholeLSTM
    "lstm_no_output_gate": (3, {0: -1, 1: +1}),  # i, f, c: output_gate=False
    "gru": (3, {0: +1}),  # z, r, h: Keras GRU, whose z keeps the state
    "coupled_lstm": (3, {0: -1}),  # i, c, o: forget = 1 - i
    "minimal_gru": (2, {0: -1}),  # f, h: f takes the new candidate
    "sru": (2, {0: +1}),  # f, r: f keeps c
    "min_gru": (2, {0: -1}),  # z, h: z takes the new candidate
}


@keras_gates_export
class Chrono(keras.initializers.Initializer):
    """Chrono initialization of a fused gate bias (Tallec & Ollivier, 2018).

    Args:
        max_timescale: The longest memory to start with, in steps (an
            integer of at least 3): each unit's timescale is drawn between 2
            and `max_timescale`. Set it to the longest dependency the data
            has (e.g. the sequence length).
        layout: The bias layout: `"lstm"` (Keras' LSTM with
            `unit_forget_bias=False`, and `PeepholeLSTM`),
            `"lstm_no_output_gate"` (`PeepholeLSTM(output_gate=False)`),
            `"gru"` (Keras' GRU, both `reset_after` settings), `"coupled_lstm"`,
            `"minimal_gru"`, `"sru"`, `"min_gru"`. It must be the layer's:
            the initializer sees the bias's shape only, and a layout of
            another cell whose block count divides it fills the wrong
            blocks.
        base: The initializer of the other blocks. Defaults to `"zeros"`.
        seed: Seed of the draw. Defaults to `None`.
    """

    def __init__(self, max_timescale, layout, base="zeros", seed=None):
        if (
            isinstance(max_timescale, (bool, np.bool_))
            or not isinstance(max_timescale, numbers.Integral)
            or max_timescale < 3
        ):
            raise ValueError(
                "Argument `max_timescale` must be an integer of at least 3 (a "
                f"timescale in steps). Received: max_timescale={max_timescale!r}"
            )
        if layout not in LAYOUTS:
            raise ValueError(
                f"Argument `layout` must be one of {sorted(LAYOUTS)}. "
                f"Received: layout={layout!r}"
            )
        self.max_timescale = int(max_timescale)
        self.layout = layout
        self.base = keras.initializers.get(base)
        self.seed = seed
        self._uniform = keras.initializers.RandomUniform(
            1.0, self.max_timescale - 1.0, seed=seed
        )

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if _called_by_keras_unit_forget_bias():
            raise ValueError(
                "Chrono cannot initialize a keras.layers.LSTM with "
                "unit_forget_bias=True (its default): Keras then calls the "
                "bias initializer for the input, candidate and output blocks "
                "alone and sets the forget gate's bias to 1, which undoes "
                "chrono initialization. Pass unit_forget_bias=False: "
                f"keras.layers.LSTM(units, unit_forget_bias=False, "
                f"bias_initializer=Chrono({self.max_timescale}, "
                f"{self.layout!r}))."
            )
        blocks, gates = LAYOUTS[self.layout]
        width = shape[-1]
        if len(shape) not in (1, 2) or width % blocks:
            raise ValueError(
                f"Chrono layout {self.layout!r} fills a bias of {blocks} blocks "
                f"of units, of shape (blocks * units,) or (2, blocks * units). "
                f"Received shape {shape}. (For keras.layers.LSTM pass "
                "unit_forget_bias=False, which would split the bias.)"
            )
        units = width // blocks
        log_u = ops.log(self._uniform((units,), dtype=dtype))
        parts = []
        for block in range(blocks):
            if block in gates:
                parts.append(gates[block] * log_u)
            else:
                parts.append(self.base((units,), dtype=dtype))
        bias = ops.concatenate(parts)
        if len(shape) == 2:  # Keras' GRU with reset_after: input, recurrent rows
            rows = [bias] + [ops.zeros((width,), dtype=dtype)] * (shape[0] - 1)
            bias = ops.stack(rows)
        return bias

    def get_config(self):
        return {
            "max_timescale": self.max_timescale,
            "layout": self.layout,
            "base": keras.initializers.serialize(self.base),
            "seed": self.seed,
        }


def _called_by_keras_unit_forget_bias():
    """Whether the caller is the bias initializer that Keras' `LSTMCell`
    makes under `unit_forget_bias=True`, which calls the layer's
    initializer for parts of the bias around a block of ones. Keras offers
    no other sign of it: the shapes it asks for, `(units,)` and `(2 *
    units,)`, are also those of other biases."""
    frame = sys._getframe(2)
    for _ in range(3):
        if frame is None:
            return False
        cell = frame.f_locals.get("self")
        if (
            frame.f_code.co_name == "bias_initializer"
            and isinstance(cell, keras.layers.LSTMCell)
            and getattr(cell, "unit_forget_bias", False)
        ):
            return True
        frame = frame.f_back
    return False


def timescales(bias, layout):
    """Each unit's starting memory, in steps: `1 / (1 - retention)`, where
    the retention per step is `σ(b)` of the gate that keeps (`σ(-b)` of one
    that writes). For checking an initialization."""
    blocks, gates = LAYOUTS[layout]
    bias = ops.convert_to_numpy(bias)
    if bias.ndim == 2:
        bias = bias[0]
    units = bias.shape[-1] // blocks
    block, sign = max(gates.items(), key=lambda item: item[1])
    b = sign * bias[block * units : (block + 1) * units]
    return [1.0 + math.exp(float(v)) for v in b]
