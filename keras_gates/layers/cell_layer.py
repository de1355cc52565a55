"""`CellLayer`: a `GatedRNN` over a cell of one class, with the cell's
arguments among the layer's own, as `keras.layers.LSTM` has. Not public."""

import inspect
import re

from keras_gates._arguments import bind
from keras_gates._arguments import option_defaults
from keras_gates.cells.gated_cell import GatedCell
from keras_gates.layers.gated_rnn import GatedRNN

# Base layer arguments that the cell shares with its layer.
_SHARED = ("dtype", "trainable")


def _cell_property(name):
    """A read-only property of a layer that forwards to `layer.cell.<name>`."""
    return property(
        lambda self: getattr(self.cell, name),
        doc=f"The cell's `{name}` (read-only).",
    )


class CellLayer(GatedRNN):
    """The base of the eight layers of one cell each: `class PeepholeLSTM(CellLayer,
    cell_class=PeepholeLSTMCell)`, whose written-out `__init__` hands its
    arguments on with `super().__init__(**arguments(locals()))`. The cell
    takes those of the cell class's signatures, and each becomes a read-only
    property of the layer; the recurrent layer takes the rest. The config is
    flat (the cell's arguments next to the RNN's), so `from_config` is
    `cls(**config)`. Not public."""

    cell_class = None

    def __init_subclass__(cls, cell_class=None, **kwargs):
        super().__init_subclass__(**kwargs)
        if cell_class is None:
            return
        cls.cell_class = cell_class
        layer_only = inspect.signature(GatedRNN.__init__).parameters
        bind(cell_class, cls, layer_only)
        for name in option_defaults(cell_class, GatedCell):
            if not hasattr(cls, name):
                setattr(cls, name, _cell_property(name))

    def __init__(self, **arguments):
        names = option_defaults(self.cell_class, GatedCell)
        cell_arguments = {k: arguments.pop(k) for k in list(arguments) if k in names}
        shared = {k: arguments[k] for k in _SHARED if arguments.get(k) is not None}
        # The cell's name: PeepholeLSTMCell -> peephole_lstm_cell.
        words = r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])"
        name = re.sub(words, "_", self.cell_class.__name__).lower()
        cell = self.cell_class(**cell_arguments, **shared, name=name)
        super().__init__(cell, **arguments)

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        cell_config = {
            key: value
            for key, value in self.cell.get_config().items()
            if key not in ("name", *_SHARED)
        }
        return {**config, **cell_config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
