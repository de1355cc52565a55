"""Loading `.keras` files with a clear error when something is wrong.

`keras.saving.load_model` loads any `.keras` file with keras-gates layers
once `keras_gates` is imported. (Keras imports no third-party package by
itself to find a class, and offers no plugin entry point for one, so the
import cannot be spared.) When something is wrong, though, Keras 3 reports
a truncated archive as "File not found", damage inside the archive as a
`JSONDecodeError` or an HDF5 `OSError`, and a class it cannot find deep
inside a message that repeats the whole model config. `load_model` here
checks the path and the archive first, and says what is wrong in one line.
"""

import json
import os
import re
import zipfile
import zlib

import keras

from keras_gates.version import __version__

__all__ = [
    "CorruptModelFileError",
    "UnknownClassError",
    "check_model_file",
    "load_model",
]

_CONFIG = "config.json"
_SUFFIXES = (".keras", ".h5", ".hdf5")


class CorruptModelFileError(ValueError):
    """A `.keras` file that cannot be read: truncated, damaged or not one."""


class UnknownClassError(ValueError):
    """A model file that uses a class which this process has not registered.

    Attributes:
        class_name: The class's name in the file.
        module: The module the class was saved from, when the file says (not
            for a class defined in a script), else None.
    """

    def __init__(self, message, class_name=None, module=None):
        super().__init__(message)
        self.class_name = class_name
        self.module = module


def _fail(path, problem):
    raise CorruptModelFileError(
        f"Cannot load {os.fspath(path)!r}: {problem} The file is truncated, "
        "damaged or not a `.keras` file; save the model again, or restore "
        "the file from a copy."
    )


def check_model_file(filepath):
    """Checks that `filepath` is a readable `.keras` archive.

    Raises `FileNotFoundError` if there is no such file, and
    `CorruptModelFileError` (a `ValueError`) if it is not a zip archive, an
    entry fails its checksum, `config.json` or the weights are missing, or
    `config.json` is not JSON.
    """
    if os.path.isdir(filepath):
        _fail(filepath, "it is a directory.")
    if not os.path.isfile(filepath):
        raise FileNotFoundError(f"No such file: {os.fspath(filepath)!r}")
    size = os.path.getsize(filepath)
    if not zipfile.is_zipfile(filepath):
        _fail(
            filepath, f"it is not a zip archive ({size} bytes), as a `.keras` file is."
        )
    try:
        with zipfile.ZipFile(filepath) as archive:
            names = archive.namelist()
            damaged = archive.testzip()
            if damaged is not None:
                _fail(filepath, f"the entry {damaged!r} fails its CRC check.")
            if _CONFIG not in names:
                _fail(filepath, f"it has no {_CONFIG!r} (entries: {names}).")
            if not any(name.startswith("model.weights.") for name in names):
                _fail(filepath, f"it has no weights file (entries: {names}).")
            try:
                json.loads(archive.read(_CONFIG))
            except ValueError as e:
                _fail(filepath, f"its {_CONFIG!r} is not valid JSON ({e}).")
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        _fail(filepath, f"its zip archive cannot be read ({e}).")


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """`keras.saving.load_model` with a clear error for a damaged file.

    For a `.keras` file, first checks the archive (see `check_model_file`):
    a truncated or damaged file raises `CorruptModelFileError`, a
    `ValueError` that names the file and what is wrong, and an error while
    reading its weights is raised as one too. Other paths (legacy `.h5`
    files) go to Keras unchecked. The arguments are those of
    `keras.saving.load_model`; `safe_mode` stays on by default, which models
    with keras-gates layers need no exception to.
    """
    path = os.fspath(filepath)
    checked = path.endswith(".keras")
    if checked:
        check_model_file(filepath)
    elif os.path.isdir(path) or not path.endswith(_SUFFIXES):
        raise CorruptModelFileError(
            f"Cannot load {path!r}: Keras 3 loads `.keras` files (and legacy "
            "`.h5` files); a SavedModel directory or another archive is not "
            "a Keras model file."
        )
    try:
        return keras.saving.load_model(
            filepath,
            custom_objects=custom_objects,
            compile=compile,
            safe_mode=safe_mode,
        )
    except OSError as e:  # HDF5 cannot read the weights inside the archive
        if not checked:
            raise
        _fail(filepath, f"its weights cannot be read ({e}).")
    except TypeError as e:
        missing = re.search(r"Could not locate (?:class|function) '([^']+)'", str(e))
        if missing is None:
            raise
        raise _unknown_class_error(path, missing.group(1), checked) from e


def _class_entry(config, name):
    """The first serialized object in `config` whose class is `name`."""
    if isinstance(config, dict):
        if config.get("class_name") == name:
            return config
        config = list(config.values())
    if isinstance(config, list):
        for value in config:
            found = _class_entry(value, name)
            if found is not None:
                return found
    return None


def _unknown_class_error(path, name, is_archive):
    entry = None
    if is_archive:
        with zipfile.ZipFile(path) as archive:
            entry = _class_entry(json.loads(archive.read(_CONFIG)), name)
    registered = (entry or {}).get("registered_name") or name
    module = (entry or {}).get("module")
    where = f" (registered as {registered!r}, from module {module!r})" if module else ""
    if registered.startswith("keras_gates>"):
        return UnknownClassError(
            f"Cannot load {path!r}: it uses {registered!r}, which keras-gates "
            f"{__version__} does not have: the file was saved with another "
            "version of keras-gates."
        )
    if module and module != "__main__":
        fix = f"`import {module}`"
    else:  # saved from a script: the class has no module to import
        fix = (
            "define and register the class (`keras.saving.register_keras_serializable`)"
        )
    return UnknownClassError(
        f"Cannot load {path!r}: it uses the class {name!r}{where}, which is "
        f"not registered in this process: {fix} before loading (Keras imports "
        "no package by itself), or pass the class in `custom_objects`.",
        class_name=name,
        module=module if module and module != "__main__" else None,
    )
