"""The documentation cannot rot: the site builds in strict mode (a broken
link, a missing API target or a docstring that does not parse fails), every
public symbol has an API entry, and the Python blocks of the README and the
guides run as printed.

A block that cannot run here (it stands for the user's own files, a
cluster or a TPU) is preceded by `<!-- not run: reason -->`; it is still
compiled, so its syntax is checked.
"""

import importlib
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import keras
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
BLOCK = re.compile(
    r"(?:<!-- not run: (?P<reason>[^>]+?) -->\n)?```python\n(?P<code>.*?)```", re.S
)

# The modules whose `__all__` is the public API, and the API page of each.
PUBLIC_MODULES = (
    "keras_gates",
    "keras_gates.inspect",
    "keras_gates.sampling",
    "keras_gates.initializers",
    "keras_gates.saving",
    "keras_gates.importers",
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


@pytest.mark.parametrize("page", list(_page_params()))
def test_code_blocks_run_as_printed(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # what the blocks write lands here
    namespace = {"__name__": "__docs__"}
    registry = keras.saving.get_custom_objects()
    registered = dict(registry)
    ran = 0
    try:
        for index, (reason, code) in enumerate(_blocks(page)):
            where = f"{_name(page)}, python block {index + 1}"
            compiled = compile(code, where, "exec")
            if reason is not None:
                assert len(reason.strip()) > 10, "say why the block does not run"
                continue
            exec(compiled, namespace)  # noqa: S102
            ran += 1
    finally:  # the classes the blocks defined leave Keras' registry with them
        for key, value in list(registry.items()):
            if getattr(value, "__module__", None) == namespace["__name__"]:
                del registry[key]
        registry.update(registered)  # and what they replaced comes back
    assert ran, f"{_name(page)}: every block is marked not run"


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
            "\n".join(p.read_text() for p in (DOCS / "api").glob("*.md")),
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


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None, reason="needs the docs extra (mkdocs)"
)
def test_the_site_builds_in_strict_mode(tmp_path):
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    api = "".join(p.read_text() for p in (site / "api").rglob("*.html"))
    # Docstring examples render as code, not as nested quotes of `>>>`.
    assert "<blockquote>" not in api
    assert api.count('<span class="gp">&gt;&gt;&gt; </span>') > 10
    # No template marker is left for a reader to see.
    assert "{common_args}" not in api and "{lstm_args}" not in api
    assert (site / "examples" / "figures" / "quickstart_gates.png").exists()
