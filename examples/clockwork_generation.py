"""Sequence generation with the Clockwork RNN: the first task of its paper.

What it shows: a network that receives no input learns to generate a
waveform of 320 samples by heart (Koutník et al., 2014, section 4.1). Three
recurrent layers, each followed by one linear output unit, are trained at
about the same parameter count: a simple RNN (`keras.layers.SimpleRNN`), an
LSTM (`keras.layers.LSTM`) and the Clockwork RNN
(`keras_gates.ClockworkRNN`, 9 modules of periods 1, 2, 4, ..., 256).

The clips: 320 samples each, cut from two real recordings and scaled to
[-1, 1] as in the paper:

- a sung voice at 44.1 kHz (7 ms a clip, the paper's length and rate), the
  recording `music21` ships, `music21/audioSearch/test_audio.wav`
  (BSD-3-Clause);
- a plucked string at 11.025 kHz (29 ms a clip): its attack and two
  stretches of its decay, from CPython's test data,
  `Lib/test/audiodata/pluck-pcm16.wav` (in a CPython source tree, and
  installed with Python's `test` package on most systems).

`--wav` takes other WAV files (their clips at `--offsets`). Per recording,
each model's Adam learning rate is the best of `--learning-rates` on a
tuning clip of its own (seed 0), which is not reported; the reported clips
then train 3 seeds each at that rate. Every run trains to a plateau: the
error is measured every `--eval-every` steps, and training stops when it
has not fallen by 10% over `--patience` steps (or at `--max-steps`, which
the output reports as not converged); the best weights are kept.

The error is the normalized MSE, the mean squared error over the clip's
variance (1 is predicting the clip's mean), so that clips compare. It
prints one line per run, a table per recording, the range of the ratios,
and, with `--plot` and `--curves`, the waveforms and the learning curves.

How to run it:

    pip install -e ".[examples]"
    python examples/clockwork_generation.py --out clockwork.json \\
        --plot clockwork_generation.png --curves clockwork_curves.png
    python examples/clockwork_generation.py --wav clip.wav --offsets 0 4000 8000 12000
    python examples/clockwork_generation.py --smoke                # seconds

The parameter counts leave out the input kernel, which multiplies an input
of zeros (the network "receives no input"): what is counted can learn.
"""

import argparse
import json
import os
import pathlib
import statistics
import sys
import sysconfig
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from example_utils import Plateau  # noqa: E402
from example_utils import load_studies  # noqa: E402
from example_utils import not_converged_note  # noqa: E402
from example_utils import parse_with_smoke  # noqa: E402
from example_utils import plot_curves  # noqa: E402
from example_utils import save_study  # noqa: E402
from example_utils import steps_range  # noqa: E402
from example_utils import tuned  # noqa: E402

import keras_gates  # noqa: E402

LENGTH = 320
# Units per model and size: counts of about 250, 500 and 800 that can learn
# (printed by the script: SimpleRNN (u+1)^2, LSTM 4u^2+5u+1, ClockworkRNN
# with 9 modules of m units 45m^2+18m+... ).
SIZES = {
    "250": {"simple_rnn": 15, "lstm": 7, "clockwork": 18},
    "500": {"simple_rnn": 21, "lstm": 11, "clockwork": 27},
    "800": {"simple_rnn": 27, "lstm": 14, "clockwork": 36},
}
MODELS = ("simple_rnn", "lstm", "clockwork")
PERIODS = tuple(2**i for i in range(9))  # 1, 2, ..., 256
LEARNING_RATES = (1e-3, 3e-3, 1e-2)
TUNING_SEED = 0
# The first sample of each clip: the tuning clip, then the reported ones
# (voiced stretches of the voice; the string's attack, then its decay).
OFFSETS = {
    "voice": (162880, 84480, 325440, 616320),
    "pluck": (500, 0, 1000, 2000),
}


def music21_recording():
    """The path of the recording music21 ships, or None without music21."""
    try:
        import music21
    except ImportError:
        return None
    path = pathlib.Path(music21.__file__).parent / "audioSearch" / "test_audio.wav"
    return path if path.exists() else None


def python_recording():
    """The path of CPython's plucked-string test recording, or None where
    Python's `test` package is not installed."""
    stdlib = pathlib.Path(sysconfig.get_paths()["stdlib"])
    path = stdlib / "test" / "audiodata" / "pluck-pcm16.wav"
    return path if path.exists() else None


def read_wav(path):
    """`(rate, samples)`, float64, the mean of the channels."""
    from scipy.io import wavfile

    rate, samples = wavfile.read(path)
    samples = np.asarray(samples, np.float64)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    return rate, samples


def clip(samples, offset, path, length=LENGTH):
    if offset + length > len(samples):
        raise ValueError(
            f"{path} has {len(samples)} samples: no {length} from offset {offset}."
        )
    return scaled(samples[offset : offset + length])


def synthetic_clip(length=LENGTH, seed=0):
    """A stand-in: three decaying harmonics of 220 Hz at 44.1 kHz, and noise."""
    t = np.arange(length) / 44100.0
    rng = np.random.default_rng(seed)
    wave = sum(
        np.exp(-t * 40 * k) * np.sin(2 * np.pi * 220 * k * t + rng.uniform(0, 6))
        for k in (1, 2, 3)
    )
    return wave + 0.05 * rng.normal(size=length)


def scaled(wave):
    """Min-max scaled to [-1, 1], as the paper scales its target."""
    low, high = wave.min(), wave.max()
    return 2.0 * (wave - low) / (high - low) - 1.0


def recordings(args):
    """`[(name, description, tuning clip, {offset: clip})]`, one per
    recording; a recording's clips are cut at `--offsets` (the first one
    tunes) or at its default `OFFSETS`."""
    if args.synthetic:
        clips = [scaled(synthetic_clip(seed=s)) for s in range(args.clips + 1)]
        reported = {f"seed {s + 1}": c for s, c in enumerate(clips[1:])}
        return [("synthetic", "generated decaying harmonics", clips[0], reported)]
    if args.wav:
        named = [(pathlib.Path(p).stem, p, args.offsets) for p in args.wav]
    else:
        named = []
        finders = {"voice": music21_recording, "pluck": python_recording}
        for name in args.recordings:
            path = finders[name]()
            if path is None:
                print(f"{name}: recording not found, left out", flush=True)
                continue
            named.append((name, path, args.offsets or OFFSETS[name]))
        if not named:
            raise SystemExit("no recording found: install music21, or give --wav")
    out = []
    for name, path, offsets in named:
        if len(offsets) < 2:
            raise SystemExit("--offsets: a tuning clip and at least one more")
        rate, samples = read_wav(path)
        tuning = clip(samples, offsets[0], path)
        reported = {o: clip(samples, o, path) for o in offsets[1 : args.clips + 1]}
        out.append((name, f"{path} at {rate} Hz", tuning, reported))
    return out


def recurrent_layer(name, units):
    if name == "simple_rnn":
        return keras.layers.SimpleRNN(units, return_sequences=True)
    if name == "lstm":
        return keras.layers.LSTM(units, return_sequences=True)
    return keras_gates.ClockworkRNN(units, periods=PERIODS, return_sequences=True)


def build_model(name, units, learning_rate, steps_per_execution=50, jit_compile=True):
    inputs = keras.Input((LENGTH, 1))
    layer = recurrent_layer(name, units)
    outputs = keras.layers.Dense(1)(layer(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
        loss="mse",
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    return model, layer


def learnable_params(model, layer):
    """Every parameter but the input kernel, which only ever sees zeros."""
    kernel = layer.cell.kernel if hasattr(layer, "cell") else layer.kernel
    return model.count_params() - int(np.prod(kernel.shape))


def train(name, units, target, args, seed, learning_rate):
    """One run to a plateau: its normalized MSE (`"valid"`), the generated
    waveform, the learning curve and the parameters that can learn."""
    keras.utils.set_random_seed(seed)
    # A smoke run's few steps cost less than compiling them with XLA.
    model, layer = build_model(
        name, units, learning_rate, args.eval_every, jit_compile=not args.smoke
    )
    x = np.zeros((1, LENGTH, 1), "float32")
    y = target[None, :, None].astype("float32")
    # An epoch is `--eval-every` steps on the one sequence; the "validation"
    # after it is the clip itself, since the task is to reproduce it.
    copies = np.repeat(x, args.eval_every, 0), np.repeat(y, args.eval_every, 0)
    plateau = Plateau(
        "val_loss",
        patience=max(1, args.patience // args.eval_every),
        min_delta=0.1,
        relative=True,
    )
    model.fit(
        *copies,
        epochs=max(1, args.max_steps // args.eval_every),
        batch_size=1,
        shuffle=False,
        validation_data=(x, y),
        callbacks=[plateau],
        verbose=0,
    )
    generated = model.predict(x, verbose=0)[0, :, 0]
    variance = float(np.var(target))
    record = plateau.record(scale=1 / variance)  # normalized MSE
    return {
        "valid": float(np.mean((generated - target) ** 2)) / variance,
        "generated": generated.tolist(),
        "parameters": learnable_params(model, layer),
        "learning_rate": learning_rate,
        **record,
    }


def plot(shown, path, subtitle):
    """The target and each model's waveform (the median seed), one panel
    per clip in `shown`: `{title: (target, {model: (wave, nmse)})}`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Drawn for a documentation column (about 700-900 px): 200 dpi, 9-10 pt
    # text, each panel's legend beside it, off the curves.
    fig, axes = plt.subplots(
        len(shown),
        1,
        figsize=(9, 2.8 * len(shown)),
        squeeze=False,
        layout="constrained",
    )
    for ax, (title, (target, waves)) in zip(axes[:, 0], shown.items(), strict=True):
        ax.plot(target, color="black", linewidth=2, label="target")
        for name, (wave, nmse) in waves.items():
            ax.plot(wave, linewidth=1, label=f"{name} (NMSE {nmse:.2g})")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step", fontsize=9)
        ax.set_ylabel("amplitude", fontsize=9)
        ax.tick_params(labelsize=9)
        ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.suptitle(
        f"Generated waveforms, the median of the seeds\n{subtitle}", fontsize=10
    )
    fig.savefig(path, dpi=200)
    plt.close(fig)


def conditions_line():
    """The hardware and versions of the run, as the benchmarks name them
    (`benchmarks/conditions.py`, in a clone of the repository)."""
    root = pathlib.Path(__file__).resolve().parents[1]
    sys.path.append(str(root))
    try:
        from benchmarks.conditions import here
    except ImportError:
        return f"{os.cpu_count()} CPUs, Keras {keras.__version__}"
    return here(keras.backend.backend())


def markdown(runs, tuning, recordings_seen, seeds, cap):
    """The tables of the guide: per recording, each clip's median NMSE per
    model and the ratio of the medians; then the learning rates chosen."""
    lines = [
        "| recording | clip (first sample) | simple RNN | LSTM | Clockwork RNN | "
        "LSTM / Clockwork | steps (Clockwork) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name in recordings_seen:
        for offset in dict.fromkeys(r["clip"] for r in runs if r["data"] == name):
            medians = {}
            for model in MODELS:
                mine = [
                    r
                    for r in runs
                    if (r["data"], r["clip"], r["model"]) == (name, offset, model)
                ]
                medians[model] = statistics.median(r["valid"] for r in mine)
            clockwork = [
                r
                for r in runs
                if (r["data"], r["clip"], r["model"]) == (name, offset, "clockwork")
            ]
            lines.append(
                f"| {name} | {offset} | {medians['simple_rnn']:.2e} | "
                f"{medians['lstm']:.2e} | {medians['clockwork']:.2e} | "
                f"{medians['lstm'] / medians['clockwork']:,.0f} | "
                f"{steps_range(clockwork)} |"
            )
    note = not_converged_note(runs, cap)
    lines += [
        "",
        f"*Normalized MSE (MSE / the clip's variance), median of seeds "
        f"{', '.join(map(str, seeds))}; lower is better.*",
        *(["", note] if note else []),
        "",
        "| recording | simple RNN | LSTM | Clockwork RNN |",
        "|---|---:|---:|---:|",
    ]
    for name in recordings_seen:
        rates = [f"{tuning[name, model]:g}" for model in MODELS]
        lines.append(f"| {name} | " + " | ".join(rates) + " |")
    lines += ["", "*The learning rate each model was tuned to, per recording.*"]
    return lines


def train_all(args):
    """Every run: tuning on each recording's tuning clip, then the seeds
    on its reported clips."""
    grid = [args.learning_rate] if args.learning_rate else args.learning_rates
    runs, tuning, shown, seen = [], {}, {}, []
    size = args.size
    for name, description, tuning_clip, reported in recordings(args):
        seen.append(name)
        print(f"{name}: {description}; clips at {list(reported)}", flush=True)
        for model in MODELS:
            units = SIZES[size][model]
            rate, trials = tuned(
                grid,
                lambda lr, seed, m=model, u=units, c=tuning_clip: train(
                    m, u, c, args, seed, lr
                ),
                TUNING_SEED,
            )
            tuning[name, model] = rate
            tried = "  ".join(f"{lr:g}: {t['valid']:.2e}" for lr, t in trials.items())
            print(f"{name} tuning {model:<10} {tried} -> {rate:g}", flush=True)
        for offset, target in reported.items():
            waves = {}
            for model in MODELS:
                units = SIZES[size][model]
                mine = []
                for seed in args.seeds:
                    result = train(
                        model, units, target, args, seed, tuning[name, model]
                    )
                    result.update(data=name, clip=offset, model=model, seed=seed)
                    mine.append(result)
                    print(
                        f"{name} {offset!s:>7} {model:<10} units {units:>2} params "
                        f"{result['parameters']:>4} seed {seed}  NMSE "
                        f"{result['valid']:.2e}  steps {result['steps']:>6}"
                        f"{'' if result['converged'] else ' (not converged)'}",
                        flush=True,
                    )
                runs += mine
                middle = sorted(mine, key=lambda r: r["valid"])[len(mine) // 2]
                waves[model] = (middle["generated"], middle["valid"])
            shown[f"{name}, clip at sample {offset} (the median seed)"] = (
                target,
                waves,
            )
    return runs, tuning, shown, seen


def run(args):
    start = time.perf_counter()
    if args.from_json:
        runs, saved_seconds = load_studies(args.from_json)
        shown, tuning = {}, {}
        for path in args.from_json:
            saved = json.loads(pathlib.Path(path).read_text())
            tuning.update({tuple(k.split()): v for k, v in saved["tuning"].items()})
            shown.update(saved.get("waveforms", {}))
        seen = list(dict.fromkeys(r["data"] for r in runs))
        seeds = list(dict.fromkeys(r["seed"] for r in runs))
    else:
        runs, tuning, shown, seen = train_all(args)
        seeds = args.seeds
    cap = f"{args.max_steps:,} steps"
    lines = markdown(runs, tuning, seen, seeds, cap)
    print("\n" + "\n".join(lines))
    ratios = {}
    for model in ("simple_rnn", "lstm"):
        ratios[model] = [
            a["valid"] / b["valid"]
            for a in runs
            for b in runs
            if a["model"] == model
            and b["model"] == "clockwork"
            and (a["data"], a["clip"], a["seed"]) == (b["data"], b["clip"], b["seed"])
        ]
        print(
            f"{model} / clockwork, per clip and seed: "
            f"{min(ratios[model]):.2g} to {max(ratios[model]):.2g}"
        )
    unconverged = sum(not r["converged"] for r in runs)
    print(f"runs that reached --max-steps before a plateau: {unconverged}")
    seconds = saved_seconds if args.from_json else time.perf_counter() - start
    print(f"seconds: {seconds:.0f}")
    if args.plot and shown:
        plot(shown, args.plot, conditions_line())
        print(f"plot: {args.plot}")
    title = (
        f"Clockwork generation, about {args.size} parameters: normalized MSE while "
        f"training\n{conditions_line()}"
    )
    curves = [dict(r, data=f"{r['data']}, clip at {r['clip']}") for r in runs]
    if args.curves:
        plot_curves(curves, args.curves, title, ylabel="normalized MSE", log=True)
        print(f"curves: {args.curves}")
    if args.out:
        runs_saved = [{k: v for k, v in r.items() if k != "generated"} for r in runs]
        tuned_rates = {f"{n} {m}": lr for (n, m), lr in tuning.items()}
        save_study(
            args.out,
            args,
            runs_saved,
            lines,
            seconds,
            conditions_line(),
            tuning=tuned_rates,
            ratios=ratios,
            waveforms=rounded(shown),
        )
    return runs


def rounded(shown, digits=5):
    """The waveforms of `plot`, small enough to save: `--from-json` draws
    them again."""

    def short(values):
        return [round(float(v), digits) for v in values]

    return {
        title: [short(target), {m: [short(w), n] for m, (w, n) in waves.items()}]
        for title, (target, waves) in (shown or {}).items()
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wav", nargs="+", help="WAV files (default: the two above)")
    parser.add_argument(
        "--offsets",
        type=int,
        nargs="+",
        help="first sample of each clip, the tuning clip first",
    )
    parser.add_argument(
        "--recordings",
        nargs="+",
        choices=("voice", "pluck"),
        default=["voice", "pluck"],
        help="which of the two default recordings (without --wav)",
    )
    parser.add_argument("--clips", type=int, default=3, help="reported per recording")
    parser.add_argument("--synthetic", action="store_true", help="stand-in clips")
    parser.add_argument("--size", choices=list(SIZES), default="500")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--learning-rates", type=float, nargs="+", default=list(LEARNING_RATES)
    )
    parser.add_argument("--learning-rate", type=float, help="one rate, no tuning")
    parser.add_argument("--max-steps", type=int, default=20_000)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument(
        "--patience", type=int, default=3000, help="steps without a 10%% fall"
    )
    parser.add_argument("--plot", help="where to save the waveforms (PNG)")
    parser.add_argument("--curves", help="where to save the learning curves (PNG)")
    parser.add_argument("--out", help="a JSON file of every run")
    parser.add_argument(
        "--from-json",
        nargs="+",
        help="train nothing: the table and learning curves of saved runs "
        "(--out files; several for a study run in parts)",
    )
    return parse_with_smoke(
        parser,
        argv,
        "a few steps of the smallest size, one clip, one seed, one rate",
        caps=("max_steps", "clips"),
        max_steps=4,
        eval_every=2,
        patience=2,
        clips=1,
        size="250",
        seeds=[1],
        learning_rates=[1e-2],
    )


def main(argv=None):
    return run(parse_args(argv))


if __name__ == "__main__":
    main()
