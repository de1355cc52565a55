"""Smoke tests of the example scripts (tiny settings, seconds each)."""

import importlib.util
import pathlib

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quickstart_smoke(capsys):
    quickstart = load("quickstart")
    results = quickstart.main(
        ["--distances", "4", "6", "--samples", "64", "--epochs", "1"]
        + ["--layers", "SRU", "CoupledLSTM"]
    )
    assert set(results) == {(n, d) for n in ("SRU", "CoupledLSTM") for d in (4, 6)}
    for accuracy, params in results.values():
        assert 0.0 <= accuracy <= 1.0 and params > 0
    table = capsys.readouterr().out
    assert "Test accuracy" in table and "distance 6" in table
