"""The shell commands of the README and the documentation, as a user would
type them: the lines of each ```bash block, and the commands quoted inline
(`python examples/...`, `python -m benchmarks...`, `keras-gates ...`).

A block that cannot run in a test (an install, the CI command itself, a
cluster) is preceded by `<!-- not run: reason -->`. In the others, the
setup steps a user has already taken (`python3 -m venv`, activating it,
`pip install`) are left out of what runs; `pip install -e ".[EXTRA]"` is
checked instead: each extra exists.

The tests run each command from a copy of the repository's `examples/` and
`benchmarks/` with `KERAS_GATES_SMOKE=1`, which makes every script take
its tiny settings (seconds), and with stand-in data files of the real
formats under the names the pages use (`aclImdb/`, `jena.csv`).
"""

import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [
    ROOT / "README.md",
    ROOT / "benchmarks" / "README.md",
    *sorted(DOCS.rglob("*.md")),
]

FENCE = re.compile(
    r"(?:<!-- not run: (?P<reason>[^>]+?) -->\n)?```(?P<lang>\w+)\n(?P<code>.*?)```",
    re.S,
)
# A command quoted inline: a script or a benchmark, or the command line
# tool, optionally after environment variables.
INLINE = re.compile(
    r"`(?P<command>(?:[A-Z_]+=\S+ )*(?:python (?:examples/\S+\.py|-m benchmarks\.\w+)"
    r"(?: [^`]*)?|keras-gates export \S+\.keras(?: [^`]*)?))`"
)
# Inline commands that cannot run in a test, which an inline span cannot
# mark: what they contain, and why.
NOT_RUN_INLINE = {"--torch-device cuda": "needs an NVIDIA GPU with CUDA"}
SETUP = ("python3 -m venv", ". .venv/bin/activate", "source .venv/bin/activate")
PIP_EXTRAS = re.compile(r'pip install (?:-e )?"?\.\[(?P<extras>[\w,-]+)\]"?')


def fenced(page):
    """`(lang, reason, code)` of each fenced block of `page`, in order."""
    return [
        (m.group("lang"), m.group("reason"), m.group("code"))
        for m in FENCE.finditer(pathlib.Path(page).read_text())
    ]


def commands(code):
    """The commands of a bash block that a test runs: one per line
    (backslash continuations joined, comments dropped), split at `&&`,
    without the setup steps and `pip install`s."""
    code = code.replace("\\\n", " ")
    found = []
    for line in code.splitlines():
        words = shlex.shlex(line, posix=True, punctuation_chars=True)
        words.whitespace_split = True
        parts, current = [], []
        for word in words:
            if word == "&&":
                parts.append(current)
                current = []
            else:
                current.append(word)
        parts.append(current)
        for part in parts:
            text = shlex.join(part)
            if not part or text.startswith(SETUP) or part[:2] == ["pip", "install"]:
                continue
            found.append(text)
    return found


def inline_commands(page):
    """The commands quoted inline in `page`'s text (not in its blocks)."""
    text = FENCE.sub("", pathlib.Path(page).read_text())
    return [" ".join(m.group("command").split()) for m in INLINE.finditer(text)]


def pip_extras(page):
    """Every extra that a `pip install -e ".[...]"` of `page` names."""
    text = pathlib.Path(page).read_text()
    return {
        extra
        for m in PIP_EXTRAS.finditer(text)
        for extra in m.group("extras").split(",")
    }


def known_extras():
    with open(ROOT / "pyproject.toml", "rb") as f:
        return set(tomllib.load(f)["project"]["optional-dependencies"])


def page_commands(page, include_blocks=True):
    """`(command, where)` for each command of `page` that a test runs."""
    name = str(pathlib.Path(page).relative_to(ROOT))
    found = []
    if include_blocks:
        for index, (lang, reason, code) in enumerate(fenced(page)):
            if lang == "bash" and reason is None:
                found += [
                    (c, f"{name}, bash block {index + 1}") for c in commands(code)
                ]
    found += [
        (c, f"{name}, inline")
        for c in inline_commands(page)
        if not any(part in c for part in NOT_RUN_INLINE)
    ]
    return found


def sandbox(directory):
    """`directory` made into a place to run the pages' commands: copies of
    `examples/`, `benchmarks/`, `docs/` and the README (copies: a command
    that writes a figure or a page must not overwrite the repository's);
    the stand-in data (`aclImdb/`, its archive `aclImdb_v1.tar.gz`,
    `jena.csv`); and a small saved model, `model.keras`."""
    import tarfile

    import keras

    import keras_gates
    from tests.helpers import write_standin_data

    directory = pathlib.Path(directory)
    ignore = shutil.ignore_patterns("__pycache__", "results")
    for folder in ("examples", "benchmarks", "docs"):
        shutil.copytree(ROOT / folder, directory / folder, ignore=ignore)
    shutil.copy(ROOT / "README.md", directory / "README.md")
    write_standin_data(directory)
    with tarfile.open(directory / "aclImdb_v1.tar.gz", "w:gz") as archive:
        archive.add(directory / "aclImdb", arcname="aclImdb")
    model = keras.Sequential(
        [keras.Input((None, 4)), keras_gates.CoupledLSTM(8), keras.layers.Dense(1)]
    )
    model.save(directory / "model.keras")
    return directory


def run(command, cwd, timeout=600):
    """Runs `command` as a user's shell would, in smoke mode; returns the
    completed process."""
    env = dict(os.environ, KERAS_GATES_SMOKE="1", PYTHONWARNINGS="ignore")
    bin_dir = os.path.dirname(sys.executable)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
