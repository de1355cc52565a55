"""The documentation cannot rot: the site builds in strict mode (a broken
link, a missing API target or a docstring that does not parse fails), every
public symbol has an API entry, and the Python blocks of the README and the
guides run as printed.

A block that cannot run here (it stands for the user's own files, a
cluster or a TPU) is preceded by `<!-- not run: reason -->`; it is still
compiled, so its syntax is checked.
"""

import argparse
import contextlib
import html.parser
import importlib
import importlib.util
import inspect
import io
import os
import pathlib
import re
import shlex
import subprocess
import sys

import keras
import pytest

from tests import doc_commands

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
BLOCK = re.compile(
    r"(?:<!-- not run: (?P<reason>[^>]+?) -->\n)?```python\n(?P<code>.*?)```"
    # What the block prints, as the page shows it: `<!-- prints -->` (the
    # same text) or `<!-- prints: numbers within TOL -->` (numbers may move
    # by TOL, the rest is the same).
    r"(?:\n+<!-- prints(?:: numbers within (?P<tolerance>[0-9.e-]+))? -->\n"
    r"```text\n(?P<output>.*?)```)?",
    re.S,
)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


def _same_output(printed, shown, tolerance):
    """Whether `printed` is the page's `shown` text, its numbers within
    `tolerance` (exactly, when None)."""
    words = NUMBER.split(printed.strip()), NUMBER.split(shown.strip())
    numbers = NUMBER.findall(printed), NUMBER.findall(shown)
    if words[0] != words[1] or len(numbers[0]) != len(numbers[1]):
        return False
    limit = float(tolerance or 0)
    return all(abs(float(a) - float(b)) <= limit for a, b in zip(*numbers, strict=True))


# The modules whose `__all__` is the public API, and the API page of each.
PUBLIC_MODULES = (
    "keras_gates",
    "keras_gates.inspect",
    "keras_gates.sampling",
    "keras_gates.initializers",
    "keras_gates.saving",
    "keras_gates.importers",
    "keras_gates.blocks",
    "keras_gates.export",
    "keras_gates.export.litert",
    "keras_gates.export.micro",
    "keras_gates.testing",
    "keras_gates.ops",
)
# Run exactly as printed by a test of their own, which then checks what
# the code built (running it here too would register its classes twice).
RUN_ELSEWHERE = {"own-cell.md": "tests/test_own_cell.py"}
# Pages whose code exports or distributes (TensorFlow, and seconds of
# conversion): run with the full suite, not the quick tier.
TENSORFLOW_PAGES = {"deployment.md", "microcontrollers.md", "scaling-out.md"}


def _name(page):
    return str(page.relative_to(ROOT))


def _blocks(page):
    return [
        (m.group("reason"), m.group("code")) for m in BLOCK.finditer(page.read_text())
    ]


def _outputs(page):
    """`(shown output, tolerance)` of each python block (None: none shown)."""
    return [
        (m.group("output"), m.group("tolerance"))
        for m in BLOCK.finditer(page.read_text())
    ]


def _page_params():
    for page in PAGES:
        if not _blocks(page) or page.name in RUN_ELSEWHERE:
            continue
        marks = []
        if page.name in TENSORFLOW_PAGES:
            marks = [
                pytest.mark.slow,
                pytest.mark.skipif(
                    keras.backend.backend() != "tensorflow",
                    reason="its code uses TensorFlow (export, tf.distribute)",
                ),
            ]
        yield pytest.param(page, id=_name(page), marks=marks)


def _in_order(page):
    """The page's python blocks `(reason, code, shown, tolerance)` and, for
    the pages whose commands use what the python blocks wrote, its bash
    blocks `(reason, commands)`, in the page's order."""
    text = page.read_text()
    found = [
        (
            m.start(),
            "python",
            (m.group("reason"), m.group("code")),
            (m.group("output"), m.group("tolerance")),
        )
        for m in BLOCK.finditer(text)
    ]
    if page.name in TENSORFLOW_PAGES:
        found += [
            (
                m.start(),
                "bash",
                m.group("reason"),
                doc_commands.commands(m.group("code")),
            )
            for m in doc_commands.FENCE.finditer(text)
            if m.group("lang") == "bash"
        ]
    return [item[1:] for item in sorted(found, key=lambda item: item[0])]


@pytest.mark.parametrize("page", list(_page_params()))
def test_code_blocks_run_as_printed(page, tmp_path, monkeypatch):
    """The python blocks of a page run in one namespace, in order, from an
    empty folder, and print what the page shows. On the export pages, the
    bash blocks run between them, on the files they wrote."""
    if page.name in TENSORFLOW_PAGES:
        doc_commands.sandbox(tmp_path)
    monkeypatch.chdir(tmp_path)  # what the blocks write lands here
    namespace = {"__name__": "__docs__"}
    registry = keras.saving.get_custom_objects()
    registered = dict(registry)
    ran = 0
    try:
        for index, (kind, first, second) in enumerate(_in_order(page)):
            where = f"{_name(page)}, block {index + 1} ({kind})"
            if kind == "bash":
                for command in [] if first is not None else second:
                    done = doc_commands.run(command, tmp_path)
                    assert done.returncode == 0, (
                        f"{where}: {command!r} failed:\n{done.stderr[-3000:]}"
                    )
                continue
            (reason, code), (shown, tolerance) = first, second
            compiled = compile(code, where, "exec")
            if reason is not None:
                assert len(reason.strip()) > 10, "say why the block does not run"
                continue
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(compiled, namespace)  # noqa: S102
            if shown is not None:
                assert _same_output(printed.getvalue(), shown, tolerance), (
                    f"{where} printed {printed.getvalue()!r}; the page shows "
                    f"{shown!r} (numbers within {tolerance})"
                )
            ran += 1
    finally:  # the classes the blocks defined leave Keras' registry with them
        for key, value in list(registry.items()):
            if getattr(value, "__module__", None) == namespace["__name__"]:
                del registry[key]
        registry.update(registered)  # and what they replaced comes back
    assert ran, f"{_name(page)}: every block is marked not run"


def _shell_commands():
    """Each command of the pages once, with the pages that give it; the bash
    blocks of the export pages run with their python blocks instead."""
    found = {}
    for page in doc_commands.PAGES:
        for command, where in doc_commands.page_commands(
            page, include_blocks=page.name not in TENSORFLOW_PAGES
        ):
            found.setdefault(command, []).append(where)
    return found


SHELL_COMMANDS = _shell_commands()
# A script's command: `python -m benchmarks.NAME ...` or `python
# examples/NAME.py ...`, perhaps after environment variables.
SCRIPT_COMMAND = re.compile(
    r"^(?:\w+=\S+ )*python (?:-m (?P<module>benchmarks\.\w+)|(?P<path>examples/\w+\.py))"
    r"(?P<args>.*)$"
)


def _repeated_commands(commands):
    """`{command: script}` for the commands that CI parses rather than
    runs: of the commands of one script of `benchmarks/` or `examples/`,
    all but the shortest, whose run CI keeps (with the scripts' smoke
    tests in `tests/test_benchmarks.py` and `tests/test_examples.py`, it
    runs their code). The `extended` tier runs them all."""
    by_script = {}
    for command in commands:
        found = SCRIPT_COMMAND.match(command)
        if found:
            script = found.group("module") or found.group("path")
            by_script.setdefault(script, []).append(command)
    return {
        command: script
        for script, group in by_script.items()
        for command in sorted(group, key=len)[1:]
    }


REPEATED_COMMANDS = _repeated_commands(SHELL_COMMANDS)


@pytest.mark.slow
@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the pages' commands run with Keras' default backend, TensorFlow",
)
@pytest.mark.parametrize(
    "command",
    [
        pytest.param(c, marks=pytest.mark.extended) if c in REPEATED_COMMANDS else c
        for c in sorted(SHELL_COMMANDS)
    ],
)
def test_shell_commands_run_as_written(command, tmp_path):
    """Every command of the pages runs, exactly as written, in smoke mode
    (`KERAS_GATES_SMOKE=1`: seconds) on stand-in data of the real formats.
    A script's commands beyond its shortest are `extended`: CI parses them
    (below)."""
    doc_commands.sandbox(tmp_path)
    done = doc_commands.run(command, tmp_path)
    assert done.returncode == 0, (
        f"{command!r} (from {SHELL_COMMANDS[command][0]}) exited with "
        f"{done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )


class _Parsed(Exception):
    """Raised where a command's arguments were parsed, before it runs."""


@pytest.mark.parametrize("command", sorted(REPEATED_COMMANDS))
def test_repeated_commands_parse_as_written(command, monkeypatch):
    """The commands that CI does not run (`extended`): their script's own
    parser takes their arguments as written."""
    script = REPEATED_COMMANDS[command]
    if script.endswith(".py"):
        monkeypatch.syspath_prepend(str(ROOT / "examples"))
        spec = importlib.util.spec_from_file_location("example", ROOT / script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(script)
    parse_args = argparse.ArgumentParser.parse_args

    def parse_then_stop(parser, args=None, namespace=None):
        raise _Parsed(parse_args(parser, args, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    argv = shlex.split(SCRIPT_COMMAND.match(command).group("args"))
    with pytest.raises(_Parsed):
        module.main(argv)


def test_repeated_commands_are_the_longer_ones():
    repeats = _repeated_commands(
        [
            "python -m benchmarks.a",
            "X=1 python -m benchmarks.a --b",
            "python examples/e.py --c",
            "python examples/e.py",
            "python other.py --d",
            "python other.py",
        ]
    )
    assert repeats == {
        "X=1 python -m benchmarks.a --b": "benchmarks.a",
        "python examples/e.py --c": "examples/e.py",
    }


def test_shell_blocks_run_or_say_why():
    """Each bash block runs in the tests (its commands are collected) or is
    marked `<!-- not run: reason -->`; every command parses as a shell
    would read it; and every `pip install -e ".[EXTRA]"` names an extra
    that the project has."""
    known = doc_commands.known_extras()
    for page in doc_commands.PAGES:
        for lang, reason, code in doc_commands.fenced(page):
            if lang != "bash":
                continue
            if reason is not None:
                assert len(reason.strip()) > 10, f"{_name(page)}: say why"
            else:
                assert doc_commands.commands(code), (_name(page), code)
        unknown = doc_commands.pip_extras(page) - known
        assert not unknown, f"{_name(page)} installs unknown extras {unknown}"
    assert len(SHELL_COMMANDS) > 20


def test_quoted_figures_match_the_saved_results(capsys):
    """The benchmark tables and figures quoted by the pages are what
    `python -m benchmarks.quote` writes from the saved results."""
    from benchmarks import quote

    assert quote.main(["--check"]) == 0, capsys.readouterr().out


def test_a_page_shows_what_its_block_prints():
    assert _same_output("test accuracy: 0.98\n", "test accuracy: 1.00", "0.05")
    assert not _same_output("test accuracy: 0.90", "test accuracy: 1.00", "0.05")
    assert not _same_output("test loss: 1.00", "test accuracy: 1.00", "0.05")
    assert _same_output("same: True", "same: True", None)
    assert not _same_output("same: False", "same: True", None)


def test_pages_run_elsewhere_are_run_there():
    for page, test in RUN_ELSEWHERE.items():
        assert page in (ROOT / test).read_text(), (page, test)


def test_the_guides_have_code_that_runs():
    """The pages that teach an API keep a runnable example."""
    for guide in (
        "quick-start.md",
        "own-cell.md",
        "testing-own-cells.md",
        "deployment.md",
    ):
        blocks = _blocks(DOCS / "guides" / guide)
        assert any(reason is None for reason, _ in blocks), guide


def _api_targets():
    return set(
        re.findall(
            r"^::: (\S+)$",
            "\n".join(p.read_text() for p in (DOCS / "api").rglob("*.md")),
            re.M,
        )
    )


def test_every_public_symbol_has_an_api_entry():
    targets = _api_targets()
    missing = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if name == "__version__" or type(value).__name__ == "module":
                continue
            if (
                f"{module_name}.{name}" not in targets
                and f"keras_gates.{name}" not in targets
            ):
                missing.append(f"{module_name}.{name}")
    assert not missing, f"no API entry (docs/api/*.md) for {missing}"


def test_every_api_entry_is_public():
    """An entry names a symbol of a public module's `__all__`."""
    for target in _api_targets():
        module_name, name = target.rsplit(".", 1)
        assert module_name in PUBLIC_MODULES, target
        assert name in importlib.import_module(module_name).__all__, target


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site as `mkdocs build --strict` writes it."""
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("needs the docs extra (mkdocs)")
    site = tmp_path_factory.mktemp("docs") / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return site


def test_equations_are_typeset(site):
    contract = (site / "contract" / "index.html").read_text()
    assert (
        contract.count(
            '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block"'
        )
        >= 8
    )


def test_the_site_builds_in_strict_mode(site):
    api = "".join(p.read_text() for p in (site / "api").rglob("*.html"))
    # Docstring examples render as code, not as nested quotes of `>>>`.
    assert "<blockquote>" not in api
    assert api.count('<span class="gp">&gt;&gt;&gt; </span>') > 10
    assert (site / "examples" / "figures" / "quickstart_gates.png").exists()


class _Page(html.parser.HTMLParser):
    """What a reader sees of a page: its paragraphs' text, its visible text
    (no scripts, styles or code) and its images' attributes."""

    HIDDEN = ("script", "style", "code", "pre")

    def __init__(self):
        super().__init__()
        self.paragraphs, self.images, self.visible = [], [], []
        self._in, self._hidden = [], 0

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))
        elif tag == "p":
            self._in.append([])
        elif tag in self.HIDDEN:
            self._hidden += 1

    def handle_endtag(self, tag):
        if tag == "p" and self._in:
            self.paragraphs.append("".join(self._in.pop()))
        elif tag in self.HIDDEN:
            self._hidden -= 1

    def handle_data(self, data):
        if self._hidden:
            return
        self.visible.append(data)
        if self._in:
            self._in[-1].append(data)


# What a browser shows when Markdown did not become HTML.
RAW_TABLE = re.compile(r"\|\s*:?-{3,}")
RAW_LIST = re.compile(r"\n\s*(?:[-*+]|1\.) \S")
MARKERS = ("{{", "}}", "{%", "%}", "::: keras_gates", "{common_args}")
# Math that did not become MathML (docs/hooks.py converts `$...$`).
RAW_TEX = re.compile(r"\$\$|\\begin\{|\\(?:sigma|odot|tanh|tilde)\b")
# Words about where and how the project is made, not for its users.
INTERNAL = re.compile(
    r"\.\./shared|shared/data|shared/design|lent machine|lent to this|"
    r"this project's|\bissues? \d+\b|the issue's|/tmp/aclImdb|this session|"
    r"prototype layers|cells\.md requires|this machine|\bMISSED\b|"
    r"\btargets? (?:met|missed)\b|\bhere, measured\b",
    re.I,
)


def test_pages_render_as_a_browser_should_show_them(site):
    """What `--strict` does not see: a table or a list left as paragraph
    text (a caption line run into a table, a list after a code fence), an
    image without alt text, a template marker."""
    problems = []
    for path in sorted(site.rglob("*.html")):
        name = str(path.relative_to(site))
        text = path.read_text()
        page = _Page()
        page.feed(text)
        for paragraph in page.paragraphs:
            if RAW_TABLE.search(paragraph):
                problems.append(f"{name}: a table as text: {paragraph[:80]!r}")
            if RAW_LIST.search(paragraph):
                problems.append(f"{name}: a list as text: {paragraph[:80]!r}")
        for image in page.images:
            if not image.get("alt", "").strip():
                problems.append(
                    f"{name}: an image without alt text: {image.get('src')}"
                )
        visible = "".join(page.visible)
        for found in INTERNAL.finditer(visible):
            problems.append(f"{name}: words for the project, not users: {found[0]!r}")
        if RAW_TEX.search(visible) or "<merror" in text:
            problems.append(f"{name}: math left as TeX or not converted")
        for marker in MARKERS:
            if marker in visible:
                problems.append(f"{name}: the template marker {marker!r}")
    assert not problems, "\n".join(problems)


def _public_classes():
    import keras_gates

    return [
        getattr(keras_gates, name)
        for name in keras_gates.__all__
        if isinstance(getattr(keras_gates, name), type)
    ]


def test_every_api_entry_documents_every_parameter(site):
    """Each public class's entry shows every parameter of its signature (as
    `inspect.signature` gives it), in its own section of its page."""
    pages = {p: p.read_text() for p in (site / "api").rglob("*.html")}
    missing = []
    for cls in _public_classes():
        anchor = f'id="keras_gates.{cls.__name__}"'
        page = next((text for text in pages.values() if anchor in text), None)
        if page is None:
            missing.append(f"{cls.__name__}: no entry")
            continue
        section = page[page.index(anchor) :]
        end = section.find('<h2 id="', 1)
        section = section[: end if end > 0 else None]
        for name in inspect.signature(cls).parameters:
            if name in ("args", "kwargs"):
                continue
            if f"<code>{name}</code>" not in section:
                missing.append(f"{cls.__name__}: {name}")
    assert not missing, missing
