"""A test harness for recurrent layers, usable with pytest or unittest.

`run_layer_test` checks what every Keras layer must get right, so that a cell
author (ours, or yours) does not have to rewrite it per layer: config and
serialization round trips, weight counts, symbolic and eager output shapes,
a `.keras` save and reload with identical outputs, a training step that
updates every trainable weight, and mixed precision (half-precision compute,
float32 weights). Failures raise `AssertionError` with a message that says
what differed.
"""

import json
import os
import tempfile

import keras
import numpy as np
from keras import tree


def _shapes(x):
    return [tuple(t.shape) for t in tree.flatten(x)]


def _normalize_shapes(expected):
    """One shape tuple, or a list of them, to a list of tuples."""
    if expected and isinstance(expected[0], (tuple, list)):
        return [tuple(s) for s in expected]
    return [tuple(expected)]


def _first(x):
    return tree.flatten(x)[0]


def _construct(layer_cls, init_kwargs, dtype=None):
    """`layer_cls(**init_kwargs)`, with a fresh copy of every layer among
    the arguments (a cell is built by the one layer that holds it), and the
    layer and such cells under `dtype` if given."""
    kwargs = {}
    for key, value in init_kwargs.items():
        if isinstance(value, keras.layers.Layer):
            config = value.get_config()
            if dtype is not None:
                config["dtype"] = dtype
            value = type(value).from_config(config)
        kwargs[key] = value
    if dtype is not None:
        kwargs["dtype"] = dtype
    return layer_cls(**kwargs)


def check_config_round_trip(layer):
    """`from_config(get_config())` and Keras serialization give the same config
    and the same attributes (`dir()`, as Keras' own layer tests compare).

    Also checks that the class is registered for serialization, so that a
    saved model deserializes without `custom_objects`.
    """
    cls = type(layer)
    config = layer.get_config()
    config_json = json.dumps(config, sort_keys=True, default=str)
    attributes = set(dir(layer)) - {"__annotations__"}
    revived = cls.from_config(config)
    revived_json = json.dumps(revived.get_config(), sort_keys=True, default=str)
    assert revived_json == config_json, (
        f"{cls.__name__}.from_config(get_config()) changed the config:\n"
        f"before: {config_json}\nafter:  {revived_json}"
    )
    _check_same_attributes(cls, attributes, revived, "from_config(get_config())")
    registered = keras.saving.get_registered_name(cls)
    builtin = cls.__module__.split(".")[0] == "keras"
    assert builtin or registered != cls.__name__, (
        f"{cls.__name__} is not registered for Keras serialization; decorate it "
        "with keras.saving.register_keras_serializable(package=...)."
    )
    serialized = keras.saving.serialize_keras_object(layer)
    serialized = json.loads(json.dumps(serialized))
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is cls, f"deserialized a {type(revived).__name__}"
    revived_json = json.dumps(revived.get_config(), sort_keys=True, default=str)
    assert revived_json == config_json, (
        f"Keras serialization of {cls.__name__} changed the config:\n"
        f"before: {config_json}\nafter:  {revived_json}"
    )
    _check_same_attributes(cls, attributes, revived, "Keras serialization")


def _check_same_attributes(cls, attributes, revived, how):
    revived_attributes = set(dir(revived)) - {"__annotations__"}
    assert revived_attributes == attributes, (
        f"{how} of {cls.__name__} gave an object with other attributes: "
        f"missing {sorted(attributes - revived_attributes)}, new "
        f"{sorted(revived_attributes - attributes)}"
    )


def check_saving_round_trip(layer_cls, init_kwargs, input_data, tmp_dir):
    """A functional model around the layer saves to `.keras` and reloads.

    The reloaded model (safe mode on, no custom objects) must give the same
    outputs and weights.
    """
    inputs = keras.Input(batch_shape=input_data.shape, dtype=input_data.dtype)
    outputs = _construct(layer_cls, init_kwargs)(inputs)
    model = keras.Model(inputs, outputs)
    # Give the weights values an initializer would not (e.g. nonzero
    # peepholes), so that losing one on reload cannot go unnoticed.
    rng = np.random.default_rng(0)
    model.set_weights(
        [rng.normal(0.0, 0.3, w.shape).astype(w.dtype) for w in model.get_weights()]
    )
    expected = model(input_data)
    path = os.path.join(tmp_dir, f"{layer_cls.__name__}.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    for a, b in zip(model.get_weights(), reloaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b, err_msg="weights changed on reload")
    for a, b in zip(
        tree.flatten(expected), tree.flatten(reloaded(input_data)), strict=True
    ):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a),
            keras.ops.convert_to_numpy(b),
            rtol=1e-6,
            atol=1e-6,
            err_msg="outputs changed on reload",
        )


def check_training_step(layer_cls, init_kwargs, input_data):
    """A few optimizer steps give a finite loss and move every trainable weight."""
    inputs = keras.Input(batch_shape=input_data.shape, dtype=input_data.dtype)
    layer = _construct(layer_cls, init_kwargs)
    outputs = _first(layer(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    targets = np.random.default_rng(1).normal(size=tuple(outputs.shape))
    before = [keras.ops.convert_to_numpy(w) for w in layer.trainable_weights]
    history = model.fit(
        input_data, targets, epochs=2, batch_size=len(input_data), verbose=0
    )
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)), f"non-finite training loss: {losses}"
    for w, old in zip(layer.trainable_weights, before, strict=True):
        new = keras.ops.convert_to_numpy(w)
        assert not np.array_equal(new, old), (
            f"training did not change weight {w.path}: it gets no gradient"
        )


def check_mixed_precision(layer_cls, init_kwargs, input_data, policy):
    """Under `policy` the outputs are in half precision and the weights float32."""
    layer = _construct(layer_cls, init_kwargs, dtype=policy)
    compute_dtype = keras.DTypePolicy(policy).compute_dtype
    for out in tree.flatten(layer(input_data)):
        dtype = keras.backend.standardize_dtype(out.dtype)
        assert dtype == compute_dtype, (
            f"{policy}: expected outputs in {compute_dtype}, got {dtype}"
        )
        assert np.all(np.isfinite(keras.ops.convert_to_numpy(out))), (
            f"{policy}: non-finite outputs"
        )
    for w in layer.weights:
        dtype = keras.backend.standardize_dtype(w.dtype)
        assert dtype == "float32", f"{policy}: weight {w.path} is {dtype}"


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_shape,
    *,
    expected_output_shape,
    expected_num_trainable_weights=None,
    expected_num_non_trainable_weights=0,
    expected_num_params=None,
    run_saving_check=True,
    run_training_check=True,
    run_mixed_precision_check=True,
    tmp_dir=None,
):
    """Runs the standard checks of a recurrent layer.

    Args:
        layer_cls: The layer class (e.g. `keras_gates.GatedRNN`).
        init_kwargs: Constructor arguments. A layer among them (a cell) is
            copied from its config for each layer the checks construct.
        input_shape: Shape of the test input, `(batch, timesteps, features)`.
        expected_output_shape: The output shape, or a list of shapes when the
            layer returns several tensors (`return_state=True`).
        expected_num_trainable_weights: Number of trainable weights after
            build, or None to skip.
        expected_num_non_trainable_weights: Number of non-trainable weights
            (state variables of a stateful layer).
        expected_num_params: Total parameter count, or None to skip.
        run_saving_check: Whether to check the `.keras` round trip.
        run_training_check: Whether to check a training step.
        run_mixed_precision_check: Whether to check the `mixed_float16` and
            `mixed_bfloat16` policies.
        tmp_dir: Directory for saved files; a temporary one by default.

    Examples:
        >>> import keras_gates
        >>> from keras_gates.testing import run_layer_test
        >>> run_layer_test(
        ...     keras_gates.MinimalGRU,
        ...     {"units": 3, "return_sequences": True},
        ...     input_shape=(2, 4, 5),
        ...     expected_output_shape=(2, 4, 3),
        ...     expected_num_trainable_weights=3,
        ...     run_mixed_precision_check=False,
        ... )
    """
    expected_shapes = _normalize_shapes(expected_output_shape)
    input_data = np.random.default_rng(0).normal(size=input_shape).astype("float32")

    layer = _construct(layer_cls, init_kwargs)
    check_config_round_trip(layer)

    symbolic_out = layer(keras.KerasTensor(input_shape))
    assert _shapes(symbolic_out) == expected_shapes, (
        f"symbolic output shapes {_shapes(symbolic_out)} != {expected_shapes}"
    )
    computed = layer.compute_output_shape(input_shape)
    computed = _normalize_shapes(
        computed if isinstance(computed, (tuple, list)) else []
    )
    assert computed == expected_shapes, (
        f"compute_output_shape gives {computed}, expected {expected_shapes}"
    )

    layer = _construct(layer_cls, init_kwargs)
    eager_out = layer(input_data)
    assert _shapes(eager_out) == expected_shapes, (
        f"eager output shapes {_shapes(eager_out)} != {expected_shapes}"
    )
    if expected_num_trainable_weights is not None:
        got = len(layer.trainable_weights)
        assert got == expected_num_trainable_weights, (
            f"{got} trainable weights, expected {expected_num_trainable_weights}"
        )
    got = len(layer.non_trainable_weights)
    assert got == expected_num_non_trainable_weights, (
        f"{got} non-trainable weights, expected {expected_num_non_trainable_weights}"
    )
    if expected_num_params is not None:
        got = layer.count_params()
        assert got == expected_num_params, (
            f"{got} parameters, expected {expected_num_params}"
        )
    check_config_round_trip(layer)

    if run_saving_check:
        if tmp_dir is None:
            with tempfile.TemporaryDirectory() as d:
                check_saving_round_trip(layer_cls, init_kwargs, input_data, d)
        else:
            check_saving_round_trip(layer_cls, init_kwargs, input_data, tmp_dir)
    if run_training_check:
        check_training_step(layer_cls, init_kwargs, input_data)
    if run_mixed_precision_check:
        for policy in ("mixed_float16", "mixed_bfloat16"):
            check_mixed_precision(layer_cls, init_kwargs, input_data, policy)
