"""The example scripts: smoke runs (seconds each) and their data handling."""

import importlib.util
import os
import pathlib
import re
import sys

import numpy as np
import pytest

from tests.helpers import write_acl_imdb

pytestmark = pytest.mark.slow  # not in the quick tier (pytest -m "not slow")

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as for a script (tf.data's AutoGraph looks there)
    spec.loader.exec_module(module)
    return module


def last_line(capsys):
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_quickstart_smoke(capsys, tmp_path):
    """A short distance that every layer learns in seconds, the gate table,
    the picture, and exports that match Keras."""
    quickstart = load("quickstart")
    layers = ["SRU", "CoupledLSTM", "keras SimpleRNN"]
    results = quickstart.main(
        ["--distances", "3", "5", "--samples", "1500", "--epochs", "8"]
        + ["--layers", *layers, "--export-dir", str(tmp_path)]
    )
    assert set(results) == {(n, d) for n in layers for d in (3, 5)}
    for (name, distance), (accuracy, params) in results.items():
        assert accuracy > 0.9, (name, distance, accuracy)
        assert params > 0
    out = capsys.readouterr().out
    assert "Test accuracy" in out and "distance 5" in out
    assert "keras SimpleRNN" in out
    # The gate table of the best keras-gates layer: its signal row first.
    assert re.search(r"^token +(forget +reset|input +output +forget)$", out, re.M)
    assert re.search(r"^signal [+-]1 +\d\.\d\d +\d\.\d\d", out, re.M)
    assert (tmp_path / "gates.png").read_bytes()[:4] == b"\x89PNG"
    # The best keras-gates model was exported and its exports match Keras.
    errors = dict(re.findall(r"^(SavedModel|TFLite) +max .*: (\S+)$", out, re.M))
    assert set(errors) == {"SavedModel", "TFLite"}
    assert all(float(e) < 1e-5 for e in errors.values())


# ---------------------------------------------------------------- IMDB


@pytest.mark.parametrize("extra", [[], ["--cell", "sru", "--bidirectional"]])
def test_imdb_smoke(capsys, extra):
    imdb = load("imdb_sentiment")
    accuracy = imdb.main(["--smoke", "--verbose", "0", *extra])
    # The mock reviews are random letters: the run checks the pipeline and
    # the printed contract; learning is checked on data with a signal below.
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == f"test accuracy: {accuracy:.4f}"
    assert lines[-2] == "seconds per epoch: " + lines[-2].split(": ")[1]
    assert lines[-2].endswith("(median of 1)")


def test_imdb_data_dir_learns_the_labels(tmp_path, capsys):
    """Reads the aclImdb layout with neg = 0 and pos = 1, and learns it."""
    write_acl_imdb(tmp_path, per_class=160, rng=np.random.default_rng(0))
    imdb = load("imdb_sentiment")
    accuracy = imdb.main(
        ["--smoke", "--data-dir", str(tmp_path), "--verbose", "0"]
        + ["--epochs", "6", "--learning-rate", "1e-2"]
    )
    assert accuracy > 0.9
    assert last_line(capsys).startswith("test accuracy: ")


def test_imdb_data_dir_layout_error(tmp_path):
    (tmp_path / "train" / "pos").mkdir(parents=True)
    imdb = load("imdb_sentiment")
    with pytest.raises(FileNotFoundError, match="train/neg"):
        imdb.main(["--smoke", "--data-dir", str(tmp_path)])


# ---------------------------------------------------------------- forecast


def test_forecast_smoke(capsys):
    forecast = load("conv1d_gru_forecast")
    mae, baseline = forecast.main(["--smoke", "--verbose", "0"])
    assert np.isfinite(mae) and baseline > 0
    assert last_line(capsys) == (
        f"test MAE: {mae:.3f} (persistence baseline: {baseline:.3f})"
    )


def write_ramp_csv(path, minutes, hours):
    """A file whose "T (degC)" is the number of hours since its first row."""
    lines = ["Date Time,p (mbar),T (degC)"]
    for i in range(hours * 60 // minutes):
        day, minute = divmod(i * minutes, 24 * 60)
        lines.append(
            f"{1 + day:02d}.01.2009 {minute // 60:02d}:{minute % 60:02d}:00,"
            f"{1000 + np.sin(i):.4f},{i * minutes / 60:.4f}"
        )
    pathlib.Path(path).write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("minutes", [10, 60, 30])
def test_forecast_reads_the_interval(tmp_path, minutes):
    """Whatever the interval between rows, a window is hourly steps and the
    target is 24 hours after its last row: on a file whose temperature counts
    the hours, every step rises by 1 and every target change is 24."""
    forecast = load("conv1d_gru_forecast")
    path = tmp_path / "ramp.csv"
    write_ramp_csv(path, minutes, hours=20 * 24)
    seconds, names, values = forecast.read_csv(path)
    assert names == ["p (mbar)", "T (degC)"]
    options = ["--past-hours", "30", "--batch-size", "100000"]
    # By default the hour of the day and the day of the year come in too.
    *_, shape, _ = forecast.make_datasets(
        seconds, names, values, forecast.parse_args(options)
    )
    assert shape == (30, 2 + 4)
    args = forecast.parse_args([*options, "--no-time-features"])
    *splits, shape, target_std = forecast.make_datasets(seconds, names, values, args)
    assert shape == (30, 2)
    std = values[: len(values) // 2, 1].std()
    for split in splits:
        ((windows, change),) = list(split.as_numpy_iterator())
        assert len(windows) > 10
        np.testing.assert_allclose(change * target_std, 24.0, atol=1e-3)
        np.testing.assert_allclose(
            np.diff(windows[:, :, 1], axis=1) * std, 1.0, atol=1e-3
        )


def test_forecast_interval_errors(tmp_path):
    forecast = load("conv1d_gru_forecast")
    path = tmp_path / "seven.csv"
    forecast.generate_csv(path, days=3, minutes=7, seed=0)
    seconds, names, values = forecast.read_csv(path)
    with pytest.raises(ValueError, match="--sampling-hours of 1 h is not a whole"):
        forecast.make_datasets(seconds, names, values, forecast.parse_args([]))
    with pytest.raises(ValueError, match="--target 'T'"):
        forecast.make_datasets(
            seconds, names, values, forecast.parse_args(["--target", "T"])
        )
    bad = tmp_path / "bad.csv"
    bad.write_text("when,T (degC)\n2020-01-01 00:00:00,1\n")
    with pytest.raises(ValueError, match="no 'Date Time' column"):
        forecast.read_csv(bad)


# ---------------------------------------------------------------- export


def test_export_and_serve_smoke(tmp_path, capsys):
    example = load("export_and_serve")
    table = example.main(["--smoke", "--verbose", "0", "--out-dir", str(tmp_path)])
    assert set(table) == {
        "Keras (.keras)",
        "SavedModel",
        "TFLite",
        "TFLite streaming",
        "TFLite streaming int8",
    }
    keras_accuracy = table["Keras (.keras)"][2]
    for label, (size, difference, accuracy) in table.items():
        assert size > 0
        assert difference < (1e-1 if "int8" in label else 1e-5), label
        if "int8" not in label:  # the same outputs: the same predictions
            assert accuracy == keras_accuracy, label
    assert os.path.exists(tmp_path / "model_step.tflite")
    out = capsys.readouterr().out
    assert "TFLite streaming" in out and "max |diff| vs Keras" in out


def test_micro_weather_smoke(tmp_path, capsys):
    """Two layers trained on a generated weather file, run on TFLM's
    interpreter, their C arrays written."""
    example = load("micro_weather")
    rows = example.main(["--smoke", "--out-dir", str(tmp_path)])
    assert [r["cell"] for r in rows] == ["coupled", "gru"]
    for r in rows:
        assert r["agree"] >= 0.9, r
        assert abs(r["tflm"] - r["keras"]) <= 0.1, r
        assert 0 < r["arena"] < 64 * 1024 and r["bytes"] > 0
        assert r["diff"] <= 0.1 * r["largest"], r
        folder = tmp_path / r["cell"]
        assert (folder / "model.tflite").stat().st_size == r["bytes"]
        assert (folder / "model.h").exists() and (folder / "model.cc").exists()
    out = capsys.readouterr().out
    assert "| coupled |" in out and "classes agree (20 windows)" in out


def test_micro_weather_labels(tmp_path):
    """The label is the class of the temperature change `--ahead-hours`
    after each window's last hour, and the windows are hourly."""
    forecast = load("conv1d_gru_forecast")
    example = load("micro_weather")
    path = tmp_path / "w.csv"
    forecast.generate_csv(path, days=20, minutes=30)
    seconds, names, values = forecast.read_csv(path)
    args = example.parse_args(["--train-stride", "1"])
    (x, y), _, _ = example.windows(seconds, names, values, args)
    hourly = values[::2]
    t = hourly[:, names.index("T (degC)")]
    mean, std = (
        hourly[: int(0.7 * len(hourly))].mean(0),
        hourly[: int(0.7 * len(hourly))].std(0),
    )
    for i in (0, 7, len(x) - 1):
        last = i + 23
        np.testing.assert_allclose(
            x[i, -1], (hourly[last] - mean) / (std + 1e-6), rtol=1e-4, atol=1e-4
        )
        change = t[last + 6] - t[last]
        assert y[i] == (0 if change <= -1 else 2 if change > 1 else 1)


def test_forecast_beats_persistence_on_a_generated_series(capsys):
    """The whole pipeline (windows, targets, the zero-start change model)
    learns: on the generated series the forecast beats persistence."""
    forecast = load("conv1d_gru_forecast")
    mae, baseline = forecast.main(
        ["--smoke", "--verbose", "0", "--epochs", "15", "--past-hours", "120"]
        + ["--filters", "32", "--units", "32"]
    )
    assert mae < 0.9 * baseline


# ------------------------------------------------------------ real data

# The project's real data sets (../shared/data beside the checkout), or the
# folder that KERAS_GATES_DATA names.
DATA = pathlib.Path(
    os.environ.get("KERAS_GATES_DATA", EXAMPLES.parents[1] / "shared" / "data")
)
IMDB_ARCHIVE = DATA / "aclImdb_v1.tar.gz"
# The example's defaults (the peephole LSTM) with the settings of a small
# data set: a step size for one short epoch (100 steps of 16 reviews) and
# the 5,000 most frequent words. Measured here: test accuracy 0.828, 0.780
# and 0.788 with seeds 1, 2 and 3, in about 20 s each.
IMDB_REAL_DATA_OPTIONS = ["--learning-rate", "1e-2", "--batch-size", "16"]
IMDB_REAL_DATA_OPTIONS += ["--max-tokens", "5000"]


def extract_reviews(archive, root, per_class):
    """Writes the first `per_class` reviews of each split and class of the
    aclImdb archive under `root`, in its layout."""
    import tarfile

    wanted = {(s, c): per_class for s in ("train", "test") for c in ("neg", "pos")}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parts = pathlib.PurePosixPath(member.name).parts
            if len(parts) != 4 or not member.isfile():
                continue
            key = (parts[1], parts[2])
            if wanted.get(key, 0) <= 0:
                continue
            target = root.joinpath(*parts[1:])
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(member).read())
            wanted[key] -= 1
            if not any(wanted.values()):
                break
    assert not any(wanted.values()), f"the archive lacks reviews: {wanted}"


@pytest.mark.slow
@pytest.mark.skipif(
    not IMDB_ARCHIVE.exists(),
    reason=f"no real IMDB data at {IMDB_ARCHIVE} (a clone outside this project)",
)
def test_imdb_learns_real_reviews(tmp_path, capsys):
    """One epoch on 2,000 real training reviews, scored on 2,000 real test
    reviews: well above chance."""
    extract_reviews(IMDB_ARCHIVE, tmp_path, per_class=1000)
    imdb = load("imdb_sentiment")
    accuracy = imdb.main(
        ["--data-dir", str(tmp_path), "--epochs", "1", "--verbose", "0"]
        + IMDB_REAL_DATA_OPTIONS
    )
    print(f"IMDB, 2,000 real reviews, one epoch: test accuracy {accuracy:.4f}")
    assert accuracy > 0.70


# ---------------------------------------------------------------- generation


def test_text_generation_smoke(capsys):
    """Offline: trained on generated sentences, it learns them (bits per
    character far below the 4.5 of guessing among its 22 characters), and
    the streaming TFLite model generates the same characters as the stateful
    Keras model for the same seed, at every temperature."""
    generation = load("text_generation")
    results = generation.main(["--smoke", "--verbose", "0", "--cell", "coupled"])
    assert results["coupled"] < 2.5
    assert results["tflite_matches"] is True
    samples = results["generations"]
    assert set(samples) == {0.2, 0.6, 1.0, 1.2}
    prompts = {s[:40] for s in samples.values()}
    assert len(prompts) == 1  # each starts with the prompt
    assert all(len(s) == 40 + 60 for s in samples.values())
    assert len(set(samples.values())) > 1  # temperatures differ
    assert (
        capsys.readouterr()
        .out.strip()
        .endswith("tflite generation matches keras: True")
    )


def test_text_generation_data():
    generation = load("text_generation")
    vocab = generation.Vocabulary("abca")
    assert vocab.chars == ["\x00", "a", "b", "c"]
    np.testing.assert_array_equal(vocab.encode("cab?"), [3, 1, 2, 0])
    inputs, targets = generation.windows(np.arange(10), 4, 2)
    np.testing.assert_array_equal(inputs[1], [2, 3, 4, 5])
    np.testing.assert_array_equal(targets[1], [3, 4, 5, 6])


def test_text_generation_reads_imdb_reviews(tmp_path):
    generation = load("text_generation")
    write_acl_imdb(tmp_path, 3, np.random.default_rng(0))
    text = generation.imdb_text(tmp_path)
    assert len(text.splitlines()) == 6 and "<br" not in text
    assert "wonderful" in text and "awful" in text


def test_clockwork_generation_smoke(capsys, tmp_path):
    """A few steps of the smallest size on the two real recordings (music21
    ships one, Python's test package the other): the table prints, every
    model has about 250 parameters that can learn, and the JSON holds the
    runs and the table."""
    import json

    clockwork = load("clockwork_generation")
    out = tmp_path / "cw.json"
    runs = clockwork.main(["--smoke", "--out", str(out)])
    assert [(r["data"], r["model"]) for r in runs] == [
        (data, model) for data in ("voice", "pluck") for model in clockwork.MODELS
    ]
    for r in runs:
        assert 200 <= r["parameters"] <= 300 and np.isfinite(r["valid"])
        assert len(r["curve"]) == 2 and r["learning_rate"] == 1e-2
    printed = capsys.readouterr().out
    assert "audioSearch/test_audio.wav at 44100 Hz" in printed
    assert "pluck-pcm16.wav at 11025 Hz" in printed
    saved = json.loads(out.read_text())
    assert "| voice | 84480 |" in saved["markdown"] and len(saved["runs"]) == 6


def test_clockwork_generation_clips(tmp_path):
    """The clips: 320 samples, scaled to [-1, 1], the first offset a tuning
    clip apart from the reported ones; a WAV of one's own at --offsets."""
    from scipy.io import wavfile

    clockwork = load("clockwork_generation")
    found = clockwork.recordings(clockwork.parse_args([]))
    assert [name for name, *_ in found] == ["voice", "pluck"]
    for name, _, tuning, reported in found:
        assert list(reported) == list(clockwork.OFFSETS[name][1:])
        for wave in (tuning, *reported.values()):
            assert wave.shape == (320,) and wave.min() == -1.0 and wave.max() == 1.0
    rate = 8000
    t = np.arange(4000) / rate
    wavfile.write(tmp_path / "tone.wav", rate, np.sin(2 * np.pi * 50 * t))
    args = clockwork.parse_args(
        ["--wav", str(tmp_path / "tone.wav"), "--offsets", "0", "40", "80"]
    )
    ((name, description, tuning, reported),) = clockwork.recordings(args)
    assert name == "tone" and "8000 Hz" in description and list(reported) == [40, 80]
    expected = np.sin(2 * np.pi * 50 * t[40:360])
    low, high = expected.min(), expected.max()
    np.testing.assert_allclose(reported[40], 2 * (expected - low) / (high - low) - 1)
    args = clockwork.parse_args(
        ["--wav", str(tmp_path / "tone.wav"), "--offsets", "3900", "0"]
    )
    with pytest.raises(ValueError, match="no 320 from offset 3900"):
        clockwork.recordings(args)
    args = clockwork.parse_args(["--synthetic"])
    ((name, _, tuning, reported),) = clockwork.recordings(args)
    assert name == "synthetic" and len(reported) == 3
