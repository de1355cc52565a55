"""What the exporters read of a model's graph, through public Keras APIs only.

A model's inputs and outputs get the names that become the keys of its
serving signature, and a streaming export needs the model's layers as a
chain. Both come from the model's own config (`model.get_config()`), which
describes the graph of this model alone, also for layers shared with other
models or rebuilt when a `Sequential` model is loaded from a file.
"""

import keras
from keras import tree


def check_model(model):
    """Raises unless `model` is a Keras model with symbolic inputs."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a keras.Model. Received: {type(model).__name__}")
    if not model.built or not getattr(model, "inputs", None):
        raise ValueError(
            "The model has no inputs yet: build it from a `keras.Input` "
            "(a Sequential model needs `keras.Input` as its first layer)."
        )


def walk(model):
    """The layers of `model`, those of nested models and wrappers included,
    then `model`."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from walk(layer)
            continue
        yield layer
        for name in ("layer", "forward_layer", "backward_layer"):
            inner = getattr(layer, name, None)
            if isinstance(inner, keras.layers.Layer):
                yield inner
    yield model


def check_float32(model, verb):
    """Raises a ValueError unless every layer of `model` computes in
    float32: TFLite's builtin ops (and its fused LSTM op) multiply matrices
    in float32 or in integers, and its converter refuses float16 loops."""
    for layer in walk(model):
        dtype = keras.backend.standardize_dtype(layer.compute_dtype)
        if dtype != "float32":
            raise ValueError(
                f"Cannot {verb} a model whose layer '{layer.name}' computes in "
                f"{dtype} (a mixed precision policy): TFLite's builtin ops "
                "multiply matrices in float32 or integers. Build the same "
                "model under keras.config.set_dtype_policy('float32'), copy "
                "the weights (set_weights(model.get_weights())) and export "
                "that; quantization='float16' stores float16 weights."
            )


def _config(model):
    try:
        return model.get_config()
    except NotImplementedError as e:
        raise ValueError(
            f"Cannot read the graph of model '{model.name}': a layer has no "
            f"`get_config` ({e}). Give every custom layer a `get_config`."
        ) from e


def _is_entry(value):
    """A `[layer_name, node_index, tensor_index]` of a functional config."""
    return (
        isinstance(value, (list, tuple))
        and len(value) == 3
        and isinstance(value[0], str)
        and isinstance(value[1], int)
        and isinstance(value[2], int)
    )


def _entries(structure, path=()):
    """`(path, entry)` for each tensor of a config structure, in the order of
    `keras.tree.flatten` (dict keys sorted), which is that of `model.inputs`
    and `model.outputs`."""
    if _is_entry(structure):
        yield path, structure
    elif isinstance(structure, dict):
        for key in sorted(structure):
            yield from _entries(structure[key], (*path, key))
    elif isinstance(structure, (list, tuple)):
        for i, item in enumerate(structure):
            yield from _entries(item, (*path, i))
    else:
        raise ValueError(f"Unexpected entry in the model's config: {structure!r}")


def _name(path, entry):
    """A dict key names its tensor; otherwise the layer does, with the index
    of the tensor among its outputs after it when it has several."""
    keys = [str(key) for key in path if isinstance(key, str)]
    if keys:
        return "_".join(keys)
    layer, _, index = entry
    return layer if index == 0 else f"{layer}_{index}"


def _placeholders(structure):
    """The config structure with each tensor entry replaced by None."""
    if _is_entry(structure):
        return None
    if isinstance(structure, dict):
        return {key: _placeholders(value) for key, value in structure.items()}
    return [_placeholders(item) for item in structure]


def _unique(names, what):
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(
            f"The model's {what} would share the signature keys {duplicates} "
            f"(all keys: {names}). Rename the layers, or return the "
            f"{what} as a dict with distinct keys."
        )
    return names


class Signature:
    """The names and structure of a model's inputs and outputs.

    Attributes:
        inputs: The input keys, in the order of `model.inputs`: the names of
            the `keras.Input`s (or the keys of a dict of inputs).
        outputs: The output keys, in the order of `model.outputs`: the keys
            of a dict of outputs, else the names of the output layers; a
            layer with several outputs (`return_state=True`) gives `name`,
            `name_1`, `name_2`, ... in its output order.
    """

    def __init__(self, model):
        check_model(model)
        if isinstance(model, keras.Sequential):
            self._init_sequential(model)
        else:
            config = _config(model)
            inputs = list(_entries(config["input_layers"]))
            outputs = list(_entries(config["output_layers"]))
            self.inputs = [_name(path, entry) for path, entry in inputs]
            self.outputs = [_name(path, entry) for path, entry in outputs]
            self._input_structure = _placeholders(config["input_layers"])
        _unique(self.inputs, "inputs")
        _unique(self.outputs, "outputs")

    def _init_sequential(self, model):
        (first, *_), last = _config(model)["layers"], model.layers[-1].name
        self.inputs = [
            first["config"]["name"]
            if first["class_name"] == "InputLayer"
            else model.inputs[0].name
        ]
        count = len(model.outputs)
        self.outputs = [_name((), (last, 0, i)) for i in range(count)]
        self._input_structure = None

    def pack_inputs(self, flat):
        """The model's call argument from the flat list of its inputs."""
        if self._input_structure is None:
            (single,) = flat
            return single
        return tree.pack_sequence_as(self._input_structure, list(flat))


def chain(model):
    """The layers of a one-input, one-output `model` in order, checking that
    each takes the previous one's output (and at most a propagated mask)."""
    check_model(model)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            "A streaming model needs one input and one output. Received a "
            f"model with {len(model.inputs)} inputs and {len(model.outputs)} "
            "outputs."
        )
    layers = [
        layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]
    if isinstance(model, keras.Sequential):
        return layers  # a chain by construction
    config = _config(model)
    nodes = {
        entry["name"]: entry.get("inbound_nodes", []) for entry in config["layers"]
    }
    ((_, (previous, _, _)),) = _entries(config["input_layers"])
    for layer in layers:
        node = nodes[layer.name]
        if len(node) != 1:
            raise ValueError(
                f"Layer '{layer.name}' is called {len(node)} times in the "
                "model; a streaming model must be a chain of layers, each "
                "called once."
            )
        node = node[0]
        # The previous layer's output, and Keras tensors nowhere else but
        # in the propagated mask.
        sources = [_source(arg) for arg in node["args"]] + [
            _source(value) for key, value in node["kwargs"].items() if key != "mask"
        ]
        if [source for source in sources if source is not None] != [(previous, 0)]:
            raise ValueError(
                f"Layer '{layer.name}' does not take the previous layer's "
                "output alone; a streaming model must be a chain of layers, "
                "each feeding the next (as in a Sequential model)."
            )
        previous = layer.name
    ((_, (last, _, index)),) = _entries(config["output_layers"])
    if (last, index) != (previous, 0):
        raise ValueError(
            f"The model's output comes from '{last}', not from the end of "
            f"the chain of layers ('{previous}')."
        )
    return layers


def _source(value):
    """`(layer name, tensor index)` of a serialized Keras tensor, else None."""
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        name, _, index = value["config"]["keras_history"]
        return name, index
    return None


def write_archive(model, export_dir, endpoint, function, specs):
    """A SavedModel of `model` in `export_dir` with one endpoint, `function`
    of arguments `specs` (what the TFLite converters read)."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(endpoint, function, input_signature=specs)
    archive.write_out(export_dir, verbose=False)
