"""Smoke test of the benchmark tool (tiny shapes, two rounds, seconds)."""

import json
import math
import os

import keras
import numpy as np
import pytest

import keras_gates as kg
from benchmarks import run
from benchmarks.cases import CASES
from benchmarks.cases import PRESETS
from benchmarks.cases import SLICES

pytestmark = pytest.mark.slow  # not in the quick tier (pytest -m "not slow")


def test_benchmark_smoke(tmp_path, capsys):
    result = run.main(
        ["--preset", "smoke", "--layers", "SRU", "MinGRU", "--out", str(tmp_path)]
    )
    saved = json.loads((tmp_path / "benchmark.json").read_text())
    assert saved["gemm_gflops"] > 0 and saved["backend"] == result["backend"]
    layers = {r["layer"] for r in saved["records"]}
    assert layers == {"keras.LSTM", "keras.GRU", "SRU", "MinGRU"}
    for record in saved["records"]:
        assert len(record["times_s"]) == 2 and record["median_s"] > 0
        assert record["ratio_keras.LSTM"] > 0 and record["gflops"] > 0
    assert (tmp_path / "benchmark.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "GEMM ceiling" in out and "\nMinGRU " in out
    # The conditions of the run, which the quoted tables and figures name.
    assert saved["conditions"]["versions"]["keras"] == keras.__version__
    assert saved["conditions"]["cpus"] == os.cpu_count()


def test_sliced_benchmark_smoke(tmp_path, capsys):
    run.main(["--preset", "sliced_smoke", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "benchmark.json").read_text())
    layers = {r["layer"] for r in saved["records"]}
    assert {"MinimalGRU", "Sliced MinimalGRU"} <= layers
    sliced = [r for r in saved["records"] if r["layer"] == "Sliced MinimalGRU"]
    assert all(r["ratio_MinimalGRU"] > 0 for r in sliced)
    assert "\nSliced MinimalGRU " in capsys.readouterr().out


def test_every_preset_times_layers_its_lengths_suit():
    """`python -m benchmarks.run --preset quick` (the speed guide's command)
    once failed: its default cases included the Sliced RNN, whose slices do
    not divide 100 steps. A preset may list it (`gpu` does) where it times
    it only at the lengths its slices divide, and at one at least."""
    n = math.prod(SLICES)
    for name, preset in PRESETS.items():
        lengths = [steps for _, steps in preset["shapes"]]
        for layer in run.default_layers(preset):
            timed_at = [steps for steps in lengths if run.fits(layer, steps)]
            assert timed_at, (name, layer)
            if layer.startswith("Sliced"):
                assert all(steps % n == 0 for steps in timed_at), name
    assert not run.fits("Sliced MinimalGRU", 100)
    assert run.fits("Sliced MinimalGRU", 4096) and run.fits("MinimalGRU", 100)


def test_gpu_preset_times_every_layer_and_path():
    """`python -m benchmarks.run --preset gpu`: each layer's default (the
    fast path on an accelerator) and its step loop, T = 100 to 4096."""
    gpu = PRESETS["gpu"]
    layers = run.default_layers(gpu)
    for name in ("PeepholeLSTM", "CoupledLSTM", "MinimalGRU", "SRU", "MinGRU"):
        assert name in layers and f"{name} steps" in layers
        assert CASES[f"{name} steps"].build(8).run_paths.inference == "steps"
    assert {steps for _, steps in gpu["shapes"]} == {100, 1000, 4096}
    assert "Sliced PeepholeLSTM" in layers


def test_peers_benchmark_smoke(tmp_path, capsys):
    """`python -m benchmarks.peers`: Keras and PyTorch in two worker
    processes taking turns, medians, ratios to torch.nn.LSTM."""
    from tests.test_peers import require

    require("torch")
    from benchmarks import peers

    peers.main(
        [
            "--preset",
            "smoke",
            "--layers",
            "keras.GRU",
            "MinGRU",
            "--torch-layers",
            "torch.nn.LSTM",
            "torch.nn.GRU",
            "--out",
            str(tmp_path),
        ]
    )
    saved = json.loads((tmp_path / "peers.json").read_text())
    records = {(r["layer"], r["phase"]): r for r in saved["records"]}
    assert set(records) == {
        (name, phase)
        for name in ("keras.GRU", "MinGRU", "torch.nn.LSTM", "torch.nn.GRU")
        for phase in ("train", "infer")
    }
    for record in records.values():
        assert len(record["times_s"]) == 2 and record["median_s"] > 0
        assert record["ratio_torch.nn.LSTM"] > 0
    assert records["keras.GRU", "train"]["ratio_torch.nn.GRU"] > 0
    out = capsys.readouterr().out
    assert "4x8 train ms" in out and "x torch.nn.GRU" in out


def test_every_case_builds_a_layer_of_its_size():
    for case in CASES.values():
        layer = case.build(8)
        if isinstance(layer, kg.SlicedRNN):
            assert all(level.units == 8 for level in layer.levels)
        else:
            assert layer.units == 8
        assert case.macs(4, 8) > 0


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="TFLite export needs TensorFlow"
)
def test_export_report_smoke(capsys):
    from benchmarks import export_report

    rows = export_report.main(
        ["--layers", "MinGRU", "--samples", "200", "--epochs", "1", "--test", "8"]
        + ["--calibration", "2", "--units", "8"]
    )
    variants = [variant for _, variant, _, _, _ in rows]
    assert variants == [
        "Keras float32",
        "sequence, float32",
        "sequence, float16",
        "sequence, dynamic_int8",
        "streaming, int8",
    ]
    # The float32 export is Keras' model: the same accuracy on the 8 test
    # sequences; the quantized ones stay within their tolerances of Keras.
    assert rows[1][4] < 1e-5 and rows[1][3] == rows[0][3]
    assert rows[2][4] < 1e-2 and rows[3][4] < 0.1 and rows[4][4] < 0.2
    assert "| MinGRU | streaming, int8 |" in capsys.readouterr().out


def test_fused_lstm_benchmark_smoke(capsys):
    from benchmarks import fused_lstm

    rows = fused_lstm.main(
        ["--lengths", "5", "--rounds", "1", "--units", "4", "--no-default-delegates"]
    )
    assert [row[0] for row in rows] == ["PeepholeLSTM", "CoupledLSTM", "keras LSTM"]
    for _, _, diffs, _ in rows:
        assert diffs["fused"] < 1e-5 and diffs["WHILE"] < 1e-5 and diffs["int8"] < 0.1
    assert "| CoupledLSTM | 5 |" in capsys.readouterr().out


def test_sliced_variants_smoke(capsys):
    from benchmarks import sliced_variants

    results = sliced_variants.main(
        ["--batch", "2", "--steps", "64", "--features", "3", "--units", "4"]
        + ["--rounds", "1", "--layers", "PeepholeLSTM"]
    )
    assert ("PeepholeLSTM", "sliced, jit_compile") in results
    assert all(ms > 0 for ms in results.values())
    assert "| PeepholeLSTM | sliced, keras LSTM in every level |" in (
        capsys.readouterr().out
    )


def test_depth_gated_study_smoke(tmp_path, capsys):
    """Offline: both models train at 2 layers on both texts with parameter
    counts within 5% of each other (at 16 units one unit is 4%), every run
    keeps its learning curve, and the table and the JSON say the same."""
    from benchmarks import depth_gated_study

    out = tmp_path / "dg.json"
    runs = depth_gated_study.main(["--smoke", "--out", str(out)])
    assert [(r["data"].split()[0], r["model"]) for r in runs] == [
        (text, model)
        for text in depth_gated_study.CORPORA
        for model in depth_gated_study.MODELS
    ]
    for text in ("imdb", "python"):
        stacked, gated = (r["parameters"] for r in runs if r["data"].startswith(text))
        assert abs(gated - stacked) <= 0.05 * stacked
    for r in runs:
        # two epochs (the smoke size), fewer than the patience: not converged
        assert np.isfinite(r["test"]) and len(r["curve"]) == 2
        assert not r["converged"] and r["steps"] == r["curve"][-1][0]
        assert r["best"] == min(v for _, v in r["curve"])
    saved = json.loads(out.read_text())
    assert "| python | DepthGatedLSTM |" in saved["markdown"]
    assert saved["markdown"] in capsys.readouterr().out


def test_python_text_is_the_standard_library():
    from benchmarks import depth_gated_study

    text, source = depth_gated_study.python_text(20_000)
    assert len(text) == 20_000 and "def " in text and "import " in text
    assert "standard library" in source


def test_music_corpora_and_the_metric(tmp_path):
    """Four chorales of music21's corpus as a piano roll: 88 keys, one frame
    per quarter note, four voices or fewer per frame, a split of the files;
    a composer's corpus in the same form, sampled with a seed; and the
    metric: 88 ln 2 nats per frame for a coin toss on every key (the random
    baseline of Boulanger-Lewandowski et al., 61.0)."""
    from music21 import converter

    from benchmarks import music

    cache = tmp_path / "jsb.npz"
    music.build(str(cache), verbose=False, limit=4)
    data = music.load(str(cache))
    assert [len(data[k]) for k in ("train", "valid", "test")] == [2, 1, 1]
    pieces = data["train"] + data["valid"] + data["test"]
    first = music.chorale_paths()[0]
    quarters = converter.parse(first).highestTime
    assert np.load(cache)["names"][0] == first.rsplit("/", 1)[-1]
    assert len(music.piano_roll(first)) == math.ceil(quarters)
    for p in pieces:
        assert p.shape[1] == 88 and set(np.unique(p)) <= {0.0, 1.0}
        assert 1 <= p.sum(-1).max() <= 4
    assert all(p.dtype == np.float32 for p in pieces)
    x, y, w = music.batch(pieces)
    both = w[:, 1:] > 0  # frame t + 1 is the input after target t
    np.testing.assert_array_equal(x[:, 1:][both], y[:, :-1][both])
    assert w.sum() == sum(len(p) - 1 for p in pieces)
    coin = music.nll_per_frame(np.full_like(y, 0.5), y, w)
    assert abs(coin - 88 * math.log(2)) < 1e-9 and round(coin, 1) == 61.0
    chunks = music.chunks(pieces, 16)
    assert sum(len(c) - 1 for c in chunks) == sum(len(p) - 1 for p in pieces)
    sample = music.corpus_paths("palestrina:12")
    assert len(sample) == 12 and sample == music.corpus_paths("palestrina:12")
    assert all("palestrina" in p for p in sample)
    assert len(music.corpus_paths("palestrina")) > 1000
    assert music.corpus_label("palestrina:12") == "palestrina (12 pieces)"
    # a folder of scores is a corpus too
    folder = tmp_path / "scores"
    folder.mkdir()
    for path in sample[:2]:
        (folder / path.rsplit("/", 1)[-1]).write_bytes(open(path, "rb").read())
    assert len(music.corpus_paths(str(folder))) == 2
    assert music.piano_roll(music.corpus_paths(str(folder))[0]).shape[1] == 88


def test_variant_study_smoke(tmp_path, capsys):
    """Offline, five chorales: a Greff variant and a projected mutant are
    tuned (two rates) and trained at equal budgets (within 5%), every run
    keeps its learning curve, and the tables print."""
    from benchmarks import music
    from benchmarks import variant_study

    music.build(str(tmp_path / "jsb_music21.npz"), verbose=False, limit=5)
    runs = variant_study.main(
        [
            "--quick",
            "--corpus",
            "jsb",
            "--cache-dir",
            str(tmp_path),
            "--variants",
            "LSTM",
            "FGR",
            "MUT1",
            "--learning-rates",
            "1e-2",
            "1e-3",
            "--max-epochs",
            "2",
            "--plot",
            str(tmp_path / "study.png"),
            "--curves",
            str(tmp_path / "curves.png"),
        ]
    )
    assert [r["variant"] for r in runs] == ["LSTM", "FGR", "MUT1"]
    for r in runs:
        assert set(r["tuning"]) == {"0.01", "0.001"}
        assert r["learning_rate"] == (
            1e-2 if r["tuning"]["0.01"] < r["tuning"]["0.001"] else 1e-3
        )
        assert len(r["curve"]) == 2 and np.isfinite(r["test"])
        # the curve is in the table's unit: its best epoch's value is the
        # validation NLL of the weights kept
        assert abs(r["best"] - r["valid"]) < 1e-3 * r["valid"]
    # Equal budgets: each variant's units give the count closest to the
    # LSTM's (at 16 units, one unit of FGR is 7% of the budget).
    budget = variant_study.music_model("LSTM", 16).count_params()
    for name in ("FGR", "MUT1"):
        units, count = variant_study.matched_units(
            variant_study.music_model, name, budget
        )
        for other in (units - 1, units + 1):
            other_count = variant_study.music_model(name, other).count_params()
            assert abs(count - budget) <= abs(other_count - budget)
        run = next(r for r in runs if r["variant"] == name)
        assert (run["units"], run["parameters"]) == (units, count)
    out = capsys.readouterr().out
    assert "| MUT1 |" in out and (tmp_path / "study.png").exists()
    assert (tmp_path / "curves.png").exists()


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the levers are TensorFlow's"
)
def test_lstm_levers_compute_the_peephole_lstm():
    """`python -m benchmarks.lstm_levers` times only what it has checked:
    each lever's outputs and gradients against the plain loop's (TF 2.21's
    gradient of BlockLSTMV2 is the exception it reports, not asserted)."""
    from benchmarks import lstm_levers

    exact = [name for name in lstm_levers.LEVERS if name != "BlockLSTMV2"]
    cases, errors = lstm_levers.lever_cases(exact, 3, 40, 5, 4)
    assert set(cases) == set(exact)
    for name, error in errors.items():
        assert error < 1e-5, name
    for train, infer in cases.values():
        assert np.isfinite(train()) and infer().shape == (3, 4)


def test_text_benchmark_smoke(tmp_path, monkeypatch, capsys):
    """`python -m benchmarks.text`: the masked text model on two Keras
    backends and torch.nn.LSTM on packed sequences, taking turns; ratios to
    keras LSTM of the same backend."""
    from tests.test_peers import require

    require("torch")
    from benchmarks import text

    monkeypatch.setenv("KERAS_GATES_SMOKE", "1")
    text.main(
        [
            "--backends",
            "tensorflow",
            "jax",
            "--layers",
            "keras.LSTM",
            "PeepholeLSTM",
            "--torch-layers",
            "torch.nn.LSTM packed",
            "--out",
            str(tmp_path),
        ]
    )
    saved = json.loads((tmp_path / "text.json").read_text())
    records = {(r["backend"], r["layer"], r["phase"]): r for r in saved["records"]}
    assert set(records) == {
        (backend, name, phase)
        for backend, names in (
            ("tensorflow", ("keras.LSTM", "PeepholeLSTM")),
            ("jax", ("keras.LSTM", "PeepholeLSTM")),
            ("pytorch", ("torch.nn.LSTM packed",)),
        )
        for name in names
        for phase in ("train", "infer")
    }
    for (_, name, _), record in records.items():
        assert len(record["times_s"]) == 2 and record["units"] == 8
        assert record["ratio_keras.LSTM"] > 0
        if name == "keras.LSTM":
            assert record["ratio_keras.LSTM"] == 1.0
    assert "jax PeepholeLSTM" in capsys.readouterr().out


def test_text_benchmark_lengths(tmp_path):
    """The batches' lengths follow IMDB's percentiles, cut at 300; the real
    reviews' lengths count words as `TextVectorization` splits them."""
    from benchmarks import text

    lengths = text.draw_lengths(text.IMDB_PERCENTILES, 20_000)
    assert lengths.min() >= 10 and lengths.max() == text.LENGTH
    # Half the reviews are shorter than the median of 172 words.
    assert abs(np.mean(lengths < 172) - 0.5) < 0.02
    tokens, labels = text.batches(lengths[: text.BATCHES * text.BATCH])[0]
    assert tokens.shape == (text.BATCH, text.LENGTH) and labels.shape == (64, 1)
    np.testing.assert_array_equal((tokens != 0).sum(axis=1), lengths[: text.BATCH])
    for label, review in (("pos", "Great film!<br />Don't miss it."), ("neg", "")):
        (tmp_path / "train" / label).mkdir(parents=True)
        (tmp_path / "train" / label / "0_1.txt").write_text(review)
    assert list(text.review_lengths(tmp_path)) == [5, 0]


def test_state_tracking_study_smoke(tmp_path, monkeypatch):
    """The parity study's tiny form: the data's running parity, equal
    budgets (within 10% of the LSTM's parameters), the table and the
    figure (test_docs runs the redraw from the saved JSON)."""
    from benchmarks import state_tracking

    x, y = state_tracking.parity_data(3, 7, np.random.default_rng(0))
    bits = x.argmax(-1)
    np.testing.assert_array_equal(y[..., 0], np.cumsum(bits, 1) % 2)
    monkeypatch.setenv("KERAS_GATES_SMOKE", "1")
    out = tmp_path / "study.json"
    runs = state_tracking.main(
        [
            "--models",
            "LSTM",
            "MinLSTM",
            "--out",
            str(out),
            "--plot",
            str(tmp_path / "a.png"),
        ]
    )
    lstm, min_lstm = runs
    assert abs(min_lstm["params"] - lstm["params"]) <= 0.1 * lstm["params"]
    saved = json.loads(out.read_text())
    assert (
        "| MinLSTM |" in saved["markdown"]
        and "accuracy at 40 bits" in saved["markdown"]
    )
    assert (tmp_path / "a.png").stat().st_size > 10_000
    # The bisection finds the closest budget among all candidates.
    target = lstm["params"]
    # MinLSTM on 2 features: kernel 6u, bias 3u, then Dense(1) u + 1.
    best = min(range(1, 60), key=lambda u: abs(10 * u + 1 - target))
    assert state_tracking.equal_units("MinLSTM", target) == best


def test_recall_study_smoke(tmp_path, monkeypatch):
    """The recall study's tiny form: the data (each query's target is the
    value that followed its key), equal budgets (within 10% of the LSTM's
    parameters), the table and the figure."""
    from benchmarks import recall

    tokens, targets, weights = recall.recall_data(
        20, [2, 3], 5, 4, np.random.default_rng(0)
    )
    for row in range(20):
        pairs = int(weights[row].sum())
        sequence = tokens[row, tokens.shape[1] - 3 * pairs :]
        binding = dict(
            zip(sequence[: 2 * pairs : 2], sequence[1 : 2 * pairs : 2], strict=True)
        )
        for query, target in zip(
            sequence[2 * pairs :], targets[row, -pairs:], strict=True
        ):
            assert binding[query] == target
        assert not tokens[row, : tokens.shape[1] - 3 * pairs].any()  # left padding
    monkeypatch.setenv("KERAS_GATES_SMOKE", "1")
    out = tmp_path / "study.json"
    runs = recall.main(
        [
            "--models",
            "LSTM",
            "MLSTM",
            "--out",
            str(out),
            "--plot",
            str(tmp_path / "a.png"),
        ]
    )
    lstm, mlstm = runs
    assert abs(mlstm["params"] - lstm["params"]) <= 0.1 * lstm["params"]
    assert "| MLSTM |" in json.loads(out.read_text())["markdown"]
    assert (tmp_path / "a.png").stat().st_size > 0
