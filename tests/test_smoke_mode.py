"""`KERAS_GATES_SMOKE=1`: the scripts' and benchmarks' tiny settings, read
from the environment (what the documentation's command lines run under in
tests/test_docs.py). Only the parsing is checked here: nothing trains."""

import argparse
import importlib.util
import pathlib
import sys

import pytest

from benchmarks import smoke

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def load_example(name):
    sys.path.insert(0, str(EXAMPLES))  # as for a script: example_utils beside it
    try:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLES))
    return module


@pytest.fixture
def smoke_env(monkeypatch):
    monkeypatch.setenv("KERAS_GATES_SMOKE", "1")


@pytest.fixture
def no_smoke_env(monkeypatch):
    monkeypatch.delenv("KERAS_GATES_SMOKE", raising=False)


def sizes_parser():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--layers", nargs="+", default=["a", "b"])
    return parser


def parse_sizes(argv):
    example_utils = load_example("example_utils")
    return example_utils.parse_with_smoke(
        sizes_parser(), argv, "seconds", caps=("epochs",), epochs=1, units=8
    )


def test_parse_with_smoke_without_the_environment(no_smoke_env, capsys):
    args = parse_sizes([])
    assert (args.smoke, args.epochs, args.units) == (False, 10, 64)
    # --smoke: the smoke defaults, and what the command line gives wins.
    args = parse_sizes(["--smoke", "--epochs", "6", "--units", "32"])
    assert (args.smoke, args.epochs, args.units) == (True, 6, 32)
    args = parse_sizes(["--smoke"])
    assert (args.epochs, args.units, args.layers) == (1, 8, ["a", "b"])
    assert capsys.readouterr().err == ""


def test_parse_with_smoke_from_the_environment(smoke_env, capsys):
    """KERAS_GATES_SMOKE=1 acts as --smoke, and the capped sizes given on
    the command line are lowered to their smoke settings."""
    args = parse_sizes([])
    assert (args.smoke, args.epochs, args.units) == (True, 1, 8)
    assert capsys.readouterr().err.strip() == smoke.MESSAGE
    args = parse_sizes(["--epochs", "6", "--units", "32", "--layers", "c"])
    assert (args.smoke, args.epochs, args.units, args.layers) == (True, 1, 32, ["c"])
    args = parse_sizes(["--epochs", "0"])  # below the cap: as given
    assert args.epochs == 0


def test_example_command_lines_under_the_environment(smoke_env):
    """The sizes of the documentation's command lines are capped; the data
    and what to run are theirs."""
    generation = load_example("text_generation")
    args = generation.parse_args(
        ["--imdb-dir", "aclImdb", "--max-chars", "2000000", "--units", "128"]
        + ["--batch-size", "128", "--epochs", "6"]
    )
    assert args.imdb_dir == "aclImdb" and args.smoke
    assert (args.max_chars, args.units, args.epochs) == (100_000, 32, 3)
    imdb = load_example("imdb_sentiment")
    args = imdb.parse_args(
        ["--data-dir", "aclImdb", "--seq-len", "512", "--sliced", "8", "8"]
    )
    # The sequence length stays: the slices must divide it.
    assert (args.data_dir, args.seq_len, args.sliced) == ("aclImdb", 512, [8, 8])
    assert (args.epochs, args.units, args.tflite_reviews) == (1, 8, 32)
    forecast = load_example("conv1d_gru_forecast")
    args = forecast.parse_args(["--csv", "jena.csv", "--past-hours", "120"])
    assert (args.csv, args.past_hours, args.epochs) == ("jena.csv", 48, 1)


def test_benchmark_arguments_under_the_environment(smoke_env, capsys, monkeypatch):
    # The message goes out once per process: as if no smoke run came before.
    monkeypatch.setattr(smoke, "_announced", [])
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--layers", nargs="+", default=["a"])
    args = smoke.parse_args(parser, ["--rounds", "60", "--layers", "b"], rounds=1)
    assert (args.rounds, args.layers) == (1, ["b"])
    assert smoke.MESSAGE in capsys.readouterr().err


def test_benchmark_arguments_without_the_environment(no_smoke_env):
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    assert smoke.parse_args(parser, ["--rounds", "60"], rounds=1).rounds == 60
    assert not smoke.smoke()


class Stop(Exception):
    """Raised by a stand-in of the first timing call, with its arguments."""


def stop(*args, **kwargs):
    raise Stop(args, kwargs)


@pytest.mark.parametrize(
    "argv, preset",
    [
        (["--preset", "quick"], "smoke"),
        (["--preset", "gpu"], "smoke"),
        (["--preset", "clockwork", "--units", "64"], "smoke"),
        (["--sliced"], "sliced_smoke"),
    ],
)
def test_run_takes_the_smoke_preset(smoke_env, monkeypatch, argv, preset):
    from benchmarks import run
    from benchmarks.cases import PRESETS

    monkeypatch.setattr(run, "gemm_gflops", lambda: 1.0)
    monkeypatch.setattr(run, "time_shape", stop)
    with pytest.raises(Stop) as stopped:
        run.main(argv)
    _, batch, steps, features, units, rounds = stopped.value.args[0]
    tiny = PRESETS[preset]
    assert (batch, steps) == tiny["shapes"][0]
    assert (features, units, rounds) == (
        tiny["features"],
        tiny["units"],
        tiny["rounds"],
    )


def test_lstm_levers_take_the_smoke_sizes(smoke_env, monkeypatch):
    from benchmarks import lstm_levers
    from benchmarks import workers

    monkeypatch.setattr(lstm_levers, "variable_lengths", stop)
    with pytest.raises(Stop) as stopped:
        lstm_levers.main(["--lengths"])
    assert stopped.value.args[1] == lstm_levers.SMOKE_LENGTHS
    monkeypatch.setattr(workers, "time_groups", stop)
    with pytest.raises(Stop) as stopped:
        lstm_levers.main(["--preset", "quick", "--rounds", "9"])
    groups, shape, features, units, rounds = stopped.value.args[0]
    assert shape == lstm_levers.PRESETS["smoke"]["shapes"][0] and rounds == 2


def test_studies_take_their_smoke_sizes(smoke_env):
    from benchmarks import depth_gated_study
    from benchmarks import variant_study

    args = depth_gated_study.parse_args(["--imdb-dir", "aclImdb", "--units", "64"])
    assert args.smoke and args.imdb_dir == "aclImdb"
    assert {k: getattr(args, k) for k in depth_gated_study.SMOKE} == (
        depth_gated_study.SMOKE
    )
    args = variant_study.parse_args(
        ["--corpus", "palestrina:40", "--variants", "LSTM", "GRU", "--units", "64"]
    )
    assert args.variants == ["LSTM", "GRU"] and args.corpus == ["palestrina:40"]
    assert {k: getattr(args, k) for k in variant_study.SMOKE} == variant_study.SMOKE
    assert args.cache_dir is None  # a few pieces in a temporary folder


def test_music_smoke_cache(smoke_env, monkeypatch, tmp_path):
    from benchmarks import music

    monkeypatch.setattr(music, "smoke_cache", lambda corpus: f"small {corpus}")
    assert music.default_cache("palestrina:40") == "small palestrina:40"
    assert music.default_cache("jsb", str(tmp_path)) == str(
        tmp_path / "jsb_music21.npz"
    )
    monkeypatch.delenv("KERAS_GATES_SMOKE")
    assert music.default_cache("palestrina:40") == music.cache_path("palestrina:40")
    assert music.cache_path("palestrina:40").endswith("palestrina_40_music21.npz")
