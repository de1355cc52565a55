"""`CellLayer`: a `GatedRNN` over a cell of one class, with the cell's
arguments among the layer's own, as `keras.layers.LSTM` has. Not public."""

import re

from keras_gates._arguments import declared
from keras_gates.cells.gated_cell import GatedCell
from keras_gates.layers.gated_rnn import GatedRNN

# Base layer arguments that the cell shares with its layer.
_SHARED = ("dtype", "trainable")


def cell_options(cell_class):
    """The names of the arguments that a cell of `cell_class` keeps."""
    return tuple(declared(cell_class, GatedCell))


class CellLayer(GatedRNN):
    """The base of the eight layers of one cell each: `class PeepholeLSTM(CellLayer)`
    with `cell_class = PeepholeLSTMCell`, whose written-out `__init__` hands
    its arguments on with `super().__init__(**arguments(locals()))`. The cell
    takes those that its class declares (`cell_options`), and each reads
    back as an attribute of the layer; the recurrent layer takes the rest.
    The config is flat (the cell's arguments next to the RNN's), so
    `from_config` is `cls(**config)`. Not public."""

    cell_class = None

    def __init__(self, **arguments):
        names = cell_options(self.cell_class)
        cell_arguments = {k: arguments.pop(k) for k in list(arguments) if k in names}
        shared = {k: arguments[k] for k in _SHARED if arguments.get(k) is not None}
        # The cell's name: PeepholeLSTMCell -> peephole_lstm_cell.
        words = r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])"
        name = re.sub(words, "_", self.cell_class.__name__).lower()
        cell = self.cell_class(**cell_arguments, **shared, name=name)
        super().__init__(cell, **arguments)

    def __getattr__(self, name):
        # Only for what normal lookup does not find: the cell's arguments,
        # read from the cell (`layer.units`, `layer.cell_clip`). On PyTorch
        # a layer is a `torch.nn.Module`, whose own `__getattr__` finds its
        # submodules (the cell among them): it answers every other name.
        if name != "cell" and name in cell_options(type(self).cell_class):
            cell = getattr(self, "cell", None)
            if cell is not None:
                return getattr(cell, name)
        fallback = getattr(super(), "__getattr__", None)
        if fallback is not None:
            return fallback(name)
        raise AttributeError(
            f"'{type(self).__name__}' object has no attribute '{name}'"
        )

    def __dir__(self):
        return sorted({*super().__dir__(), *cell_options(type(self).cell_class)})

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
