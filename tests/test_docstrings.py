"""Every public class documents every argument of its signature in its own
docstring (what `help()`, an IDE's hover and the API pages show), and the
arguments that several classes share are written from their one home,
`keras_gates._docstrings.SHARED`, never by hand."""

import inspect
import pydoc
import re

import keras_gates as kg
from keras_gates import _docstrings

PUBLIC = [
    getattr(kg, name) for name in kg.__all__ if isinstance(getattr(kg, name), type)
]


def test_every_public_class_documents_every_argument():
    missing = []
    for cls in PUBLIC:
        text = pydoc.render_doc(cls, renderer=pydoc.plaintext)
        args = inspect.getdoc(cls).split("Args:", 1)[-1]
        for name in inspect.signature(cls).parameters:
            if name in ("args", "kwargs"):
                continue
            if not re.search(rf"^\s*{name}( \([^)]*\))?:", args, re.M):
                missing.append(f"{cls.__name__}: {name}")
            assert name in text
    assert not missing, missing


def test_shared_arguments_are_written_from_their_one_home():
    """`python -m keras_gates._docstrings --check`: a docstring edited by
    hand where the tool writes it fails here; rerun the tool."""
    assert _docstrings._rewrite(check=True) == []


def test_a_cell_documents_its_layers_arguments_in_the_same_words():
    layer = inspect.getdoc(kg.PeepholeLSTM)
    cell = inspect.getdoc(kg.PeepholeLSTMCell)
    entry = re.search(r"^    peepholes:.*?(?=^    \w+:)", layer, re.M | re.S).group()
    assert entry in cell
