"""Registration of public classes for Keras serialization."""

import keras

PACKAGE = "keras_gates"


def keras_gates_export(cls):
    """Registers `cls` under `"keras_gates>ClassName"`.

    A `.keras` file that holds a registered class loads with
    `keras.saving.load_model` after `import keras_gates`, with no
    `custom_objects` and with `safe_mode` left on.
    """
    return keras.saving.register_keras_serializable(package=PACKAGE)(cls)
