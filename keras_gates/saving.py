"""Loading `.keras` files with a clear error when the file is damaged.

`keras.saving.load_model` loads any `.keras` file with keras-gates layers
once `keras_gates` is imported. On a damaged file, though, Keras 3 reports a
truncated archive as "File not found", and damage inside the archive as a
`JSONDecodeError` or an HDF5 `OSError`. `load_model` here checks the archive
first and says what is wrong with it.
"""

import json
import os
import zipfile
import zlib

import keras

_CONFIG = "config.json"


class CorruptModelFileError(ValueError):
    """A `.keras` file that cannot be read: truncated, damaged or not one."""


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
    checked = os.fspath(filepath).endswith(".keras")
    if checked:
        check_model_file(filepath)
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
