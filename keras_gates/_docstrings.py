"""The arguments every layer and cell shares, documented once, and the tool
that writes them into each public class's docstring.

`SHARED` is the one home of the text of an argument that several classes
take (`dropout`, `return_sequences`, the initializers, ...). A class's own
arguments stay written by hand in its docstring. `python -m
keras_gates._docstrings` rewrites the `Args:` section of every public layer
and cell, in the order of its signature: its own entries as written (a cell
takes those of its layer), the shared ones from `SHARED` with the class's
default; and writes each layer's call arguments, shapes and states. So
`help()`, an IDE's hover and the API pages show every argument of every
class, and the shared text cannot drift: `--check` (run by
tests/test_docstrings.py) fails when a docstring differs from what the tool
writes. Not public.
"""

import ast
import inspect
import re
import sys

# name: text, with `{default}` for the class's default. Google style, as
# the entry's body after "name: ".
SHARED = {
    "cell": "A `keras_gates.GatedCell`: one of the cells of this package, or your own.",
    "units": "Positive integer, the size of the output and of the state.",
    "activation": "Activation function of the candidate state (in the LSTMs "
    "also of the cell output, unless set apart). Defaults to {default}.",
    "recurrent_activation": "Activation function of the gates. Defaults to {default}.",
    "use_bias": "Whether the layer adds a bias vector to each gate's input "
    "product. Defaults to {default}.",
    "kernel_initializer": "Initializer of `kernel`, the weights of the inputs. "
    "Defaults to {default}.",
    "recurrent_initializer": "Initializer of `recurrent_kernel`, the weights of "
    "the recurrent state. Defaults to {default}.",
    "bias_initializer": "Initializer of `bias`. Defaults to {default}.",
    "chrono_init": "None, or an integer T of at least 3: chrono initialization "
    "(Tallec & Ollivier, 2018) of the bias of the gate that keeps the memory, "
    "for dependencies of up to about T steps; the other blocks keep "
    "`bias_initializer`. Defaults to {default}.",
    "kernel_regularizer": "Regularizer applied to `kernel`. Defaults to {default}.",
    "recurrent_regularizer": "Regularizer applied to `recurrent_kernel`. "
    "Defaults to {default}.",
    "bias_regularizer": "Regularizer applied to `bias`. Defaults to {default}.",
    "activity_regularizer": "Regularizer applied to the layer's output. "
    "Defaults to {default}.",
    "kernel_constraint": "Constraint applied to `kernel`. Defaults to {default}.",
    "recurrent_constraint": "Constraint applied to `recurrent_kernel`. Defaults "
    "to {default}.",
    "bias_constraint": "Constraint applied to `bias`. Defaults to {default}.",
    "dropout": "Float in [0, 1): the fraction of the inputs dropped in "
    "training, with one mask per sequence. Defaults to {default}.",
    "recurrent_dropout": "Float in [0, 1): the fraction of the state dropped "
    "where it enters the recurrent product in training, one mask per "
    "sequence. Defaults to {default}.",
    "seed": "Integer, the seed of the dropout masks. Defaults to {default}.",
    "return_sequences": "If True, the output of every step, `(batch, "
    "timesteps, units)`; else the last step's, `(batch, units)`. Defaults to "
    "{default}.",
    "return_state": "If True, the final states follow the output: `[output, "
    "*states]`. Defaults to {default}.",
    "go_backwards": "If True, the sequence is read from its last step and the "
    "output sequence comes reversed. Defaults to {default}.",
    "stateful": "If True, the final states of each batch are the initial "
    "states of the next (row i continues row i); the batch size must then be "
    "fixed, and `layer.reset_state()` starts over. Defaults to {default}.",
    "unroll": "If True, the loop over time is unrolled into the graph: faster "
    "for a few steps, more memory, and the number of steps must be fixed. "
    "Defaults to {default}.",
    "zero_output_for_mask": "If True, a masked step outputs zeros; else it "
    "repeats the previous output (as `keras.layers.Bidirectional` asks when "
    "it returns sequences). Defaults to {default}.",
    "fast_path": "How the steps run: `False` the cell step by step, `True` "
    "the input products of every step in one matrix product before the loop "
    '(a parallel scan for a cell linear in its state), `"auto"` the fast '
    "path on a GPU or TPU and the step loop on a CPU (with the compiled loops "
    "for the LSTMs' training there). All give the same numbers. Defaults to "
    "{default}.",
    "kwargs": "Base layer arguments, such as `name` and `dtype`.",
}

# Shared arguments that a class documents itself, as its docstring has them.
OWN = {
    "SRU": ("activation",),
    "SRUCell": ("activation",),
    "SLSTM": ("activation", "recurrent_activation", "unit_forget_bias"),
    "SLSTMCell": ("activation", "recurrent_activation", "unit_forget_bias"),
}

_CALL = """\
Call arguments:
    - `sequences`: A 3D tensor `(batch, timesteps, features)`.
    - `initial_state`: A list of the initial states, {states}; defaults
      to zeros.
    - `mask`: A boolean tensor `(batch, timesteps)`, False at the steps to
      skip (padding, left, right or inside); a `keras.layers.Embedding(...,
      mask_zero=True)` or `keras.layers.Masking` before the layer passes it
      on. A masked step keeps the states and repeats the previous output
      (zeros with `zero_output_for_mask=True`).
    - `training`: Whether dropout is active; `fit` sets it.

Input shape:
    3D tensor `(batch, timesteps, features)`.

Output shape:
    `(batch, timesteps, {output})` with `return_sequences=True`, else
    `(batch, {output})`. With `return_state=True`, a list `[output,
    *states]`, the states as `initial_state` takes them.
"""


def _default(value):
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value!r}`"


def _public_classes():
    """The public layers and cells whose docstrings the tool writes, in the
    package's order, with the class whose own entries each one takes."""
    import keras_gates as kg
    from keras_gates.layers.cell_layer import CellLayer

    classes = []
    for name in kg.__all__:
        cls = getattr(kg, name)
        if isinstance(cls, type) and issubclass(cls, CellLayer):
            classes.append((cls, cls))
            classes.append((cls.cell_class, cls))
    # The bases for your own cells (GatedCell, RecurrentCell) keep their
    # words, which speak to a cell's author.
    classes.append((kg.GatedRNN, kg.GatedRNN))
    return classes


def _docstring_node(cls):
    """`(path, the ast.Constant of the class docstring)`."""
    path = inspect.getsourcefile(cls)
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            return path, node.body[0].value
    raise LookupError(f"No class {cls.__name__} in {path}")


_SECTION = re.compile(r"^    [A-Z][A-Za-z ]*:$")
_ENTRY = re.compile(r"^        (\*{0,2}\w+)( \([^)]*\))?:(.*)$")


def _sections(lines):
    """The docstring's lines split in sections: `{header: [lines]}` in
    order, the text before the first header under None."""
    sections, header = {None: []}, None
    for line in lines:
        if _SECTION.match(line):
            header = line.strip()[:-1]
            sections[header] = []
        else:
            sections[header].append(line)
    return sections


def _entries(lines):
    """The `Args:` entries: `{name: [lines of its text, without indent]}`."""
    entries, name = {}, None
    for line in lines:
        match = _ENTRY.match(line)
        if match:
            name = match.group(1).lstrip("*")
            entries[name] = [match.group(3).strip()]
        elif name is not None and line.strip():
            entries[name].append(line.strip())
    return entries


def _wrap(name, text, indent=8, width=80):
    """An entry `name: text`, wrapped at `width` with continuation lines
    indented four more."""
    words = text.split()
    lines, line = [], " " * indent + f"{name}:"
    for word in words:
        if len(line) + 1 + len(word) > width:
            lines.append(line)
            line = " " * (indent + 4) + word
        else:
            line += " " + word
    lines.append(line)
    return lines


def _own_entries(cls, source):
    """The hand-written entries of `source` (a layer, or the class itself)."""
    path, node = _docstring_node(source)
    lines = node.value.splitlines()
    return _entries(_sections(lines).get("Args", []))


def render(cls, source):
    """The docstring of `cls` as the tool writes it: its own text, the
    `Args:` section in the order of its signature, and for a layer its call
    arguments, shapes and states."""
    from keras_gates.layers.cell_layer import CellLayer

    path, node = _docstring_node(cls)
    lines = node.value.splitlines()
    sections = _sections(lines)
    # A cell's entries are its layer's: the layer's words win over a copy.
    own = _own_entries(cls, cls)
    own.update(_own_entries(cls, source))
    parameters = inspect.signature(cls).parameters
    args = []
    for name, parameter in parameters.items():
        if parameter.kind is parameter.VAR_POSITIONAL:
            continue
        keep = name not in SHARED or name in OWN.get(cls.__name__, ())
        if keep:
            if name not in own:
                raise ValueError(f"{cls.__name__}: argument {name!r} is not documented")
            text = " ".join(own[name])
        else:
            text = SHARED[name].format(default=_default(parameter.default))
        label = f"**{name}" if parameter.kind is parameter.VAR_KEYWORD else name
        args += _wrap(label, text)
    sections["Args"] = args + [""]
    if isinstance(cls, type) and issubclass(cls, CellLayer):
        cell = cls.cell_class
        states = ", ".join(f"`{s}`" for s in cell.state_names)
        call = _CALL.format(states=f"{states}, each `(batch, size)`", output="units")
        for header, body in _sections(
            ["    " + line if line else "" for line in call.splitlines()]
        ).items():
            if header is not None:
                sections[header] = body + ([""] if body and body[-1] else [])
    order = [None, "Args", "Call arguments", "Input shape", "Output shape"]
    out = []
    for header in order + [h for h in sections if h not in order]:
        if header not in sections:
            continue
        if header is not None:
            out.append(f"    {header}:")
        out += sections[header]
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out) + "\n    "


def _rewrite(check):
    changed = []
    for cls, source in _public_classes():
        path, node = _docstring_node(cls)
        new = render(cls, source)
        if new == node.value:
            continue
        changed.append(cls.__name__)
        if check:
            continue
        with open(path) as f:
            text = f.read().splitlines(keepends=True)
        first, last = node.lineno - 1, node.end_lineno - 1
        indent = text[first][: len(text[first]) - len(text[first].lstrip())]
        text[first : last + 1] = [f'{indent}"""{new}"""\n']
        with open(path, "w") as f:
            f.write("".join(text))
    return changed


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    check = "--check" in argv
    changed = _rewrite(check)
    if check and changed:
        print(
            "Docstrings differ from what `python -m keras_gates._docstrings` "
            f"writes: {', '.join(changed)}"
        )
        return 1
    print(f"{'would rewrite' if check else 'rewrote'}: {changed or 'nothing'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
