"""Sequence generation with the Clockwork RNN: the first task of its paper.

What it shows: a network that receives no input learns to generate a
waveform of 320 samples by heart (Koutník et al., 2014, section 4.1). Three
recurrent layers, each followed by one linear output unit, are trained at
about the same parameter counts (about 250, 500 and 800): a simple RNN
(`keras.layers.SimpleRNN`), an LSTM (`keras.layers.LSTM`) and the Clockwork
RNN (`keras_gates.ClockworkRNN`, 9 modules of periods 1, 2, 4, ..., 256).
It prints the mean squared error of each run and the median over the seeds,
and plots the target against each model's generated waveform.

The waveform: 320 samples (7 ms at 44.1 kHz, the paper's length and rate)
of a real recording that the `music21` package ships,
`music21/audioSearch/test_audio.wav` (music21 is BSD-3-Clause licensed), from
a voiced stretch (`--offset`), scaled to [-1, 1] as in the paper. Without
music21 (or with `--synthetic`), a generated clip of decaying harmonics
stands in, and the script says so.

How to run it:

    pip install -e ".[examples]"
    python examples/clockwork_generation.py --plot examples/figures/clockwork_generation.png
    python examples/clockwork_generation.py --wav clip.wav   # any WAV file
    python examples/clockwork_generation.py --smoke          # seconds

The parameter counts leave out the input kernel, which multiplies an input
of zeros (the network "receives no input"): what is counted can learn.
"""

import argparse
import os
import pathlib
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from example_utils import parse_with_smoke  # noqa: E402

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
# Adam's learning rate per model: the best of 1e-3, 3e-3, 1e-2 and 3e-2 for
# each model at about 800 parameters, tuned on seed 0 (the table's seeds
# are 1, 2 and 3) after 1000 and 2000 steps.
LEARNING_RATES = {"simple_rnn": 3e-3, "lstm": 1e-3, "clockwork": 1e-2}


def music21_recording():
    """The path of the recording music21 ships, or None without music21."""
    try:
        import music21
    except ImportError:
        return None
    path = pathlib.Path(music21.__file__).parent / "audioSearch" / "test_audio.wav"
    return path if path.exists() else None


def read_wav(path, offset, length=LENGTH):
    from scipy.io import wavfile

    rate, samples = wavfile.read(path)
    samples = np.asarray(samples, np.float64)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)  # stereo: the mean of the channels
    if offset + length > len(samples):
        raise ValueError(
            f"{path} has {len(samples)} samples: no {length} from offset {offset}."
        )
    return rate, samples[offset : offset + length]


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


def target_waveform(args):
    """`(waveform, description)`."""
    path = None if args.synthetic else (args.wav or music21_recording())
    if path is None:
        return scaled(synthetic_clip()), "synthetic clip (music21 is not installed)"
    rate, wave = read_wav(path, args.offset)
    return scaled(
        wave
    ), f"{path} at {rate} Hz, samples {args.offset}-{args.offset + LENGTH}"


def recurrent_layer(name, units):
    if name == "simple_rnn":
        return keras.layers.SimpleRNN(units, return_sequences=True)
    if name == "lstm":
        return keras.layers.LSTM(units, return_sequences=True)
    return keras_gates.ClockworkRNN(units, periods=PERIODS, return_sequences=True)


def build_model(name, units, learning_rate):
    inputs = keras.Input((LENGTH, 1))
    layer = recurrent_layer(name, units)
    outputs = keras.layers.Dense(1)(layer(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
        loss="mse",
        jit_compile=True,
        steps_per_execution=50,  # one compiled call runs 50 steps
    )
    return model, layer


def learnable_params(model, layer):
    """Every parameter but the input kernel, which only ever sees zeros."""
    kernel = layer.cell.kernel if hasattr(layer, "cell") else layer.kernel
    return model.count_params() - int(np.prod(kernel.shape))


def train(name, units, target, args, seed):
    keras.utils.set_random_seed(seed)
    model, layer = build_model(name, units, args.learning_rate or LEARNING_RATES[name])
    x = np.zeros((1, LENGTH, 1), "float32")
    y = target[None, :, None].astype("float32")
    # Each training step reads the one sequence: `--steps` copies of it in
    # one epoch (as many epochs of one step, without their overhead).
    copies = np.repeat(x, args.steps, axis=0), np.repeat(y, args.steps, axis=0)
    model.fit(*copies, epochs=1, batch_size=1, shuffle=False, verbose=0)
    generated = model.predict(x, verbose=0)[0, :, 0]
    return float(np.mean((generated - target) ** 2)), generated, model, layer


def plot(target, generated, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = list(generated)
    # Drawn for a documentation column (about 700-900 px): 200 dpi, 9-10 pt
    # text, each panel's legend beside it, off the curves.
    fig, axes = plt.subplots(
        len(sizes), 1, figsize=(9, 2.8 * len(sizes)), squeeze=False
    )
    for ax, size in zip(axes[:, 0], sizes, strict=True):
        ax.plot(target, color="black", linewidth=2, label="target")
        for name, (wave, mse) in generated[size].items():
            ax.plot(wave, linewidth=1, label=f"{name} (MSE {mse:.2g})")
        ax.set_title(f"about {size} parameters (the median seed)", fontsize=10)
        ax.set_xlabel("step", fontsize=9)
        ax.set_ylabel("amplitude", fontsize=9)
        ax.tick_params(labelsize=9)
        ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=200)
    plt.close(fig)


def run(args):
    target, description = target_waveform(args)
    print(f"target: {description}")
    start = time.perf_counter()
    results, generated = {}, {}
    for size in args.sizes:
        generated[size] = {}
        for name in MODELS:
            units = SIZES[size][name]
            runs = [train(name, units, target, args, seed) for seed in args.seeds]
            mses = [r[0] for r in runs]
            median = statistics.median(mses)
            params = learnable_params(runs[0][2], runs[0][3])
            results[size, name] = (params, median, mses)
            middle = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
            generated[size][name] = (middle[1], middle[0])
            print(
                f"size {size:>3}  {name:<10} units {units:>2}  params {params:>4}  "
                f"MSE median {median:.2e}  seeds {' '.join(f'{m:.2e}' for m in mses)}",
                flush=True,
            )
    print(
        f"\n| size | model | units | parameters | median MSE ({len(args.seeds)} seeds) |"
    )
    print("|---|---|---:|---:|---:|")
    for (size, name), (params, median, _) in results.items():
        units = SIZES[size][name]
        print(f"| {size} | {name} | {units} | {params} | {median:.2e} |")
    for size in args.sizes:
        cw = results[size, "clockwork"][1]
        ratios = ", ".join(
            f"{name} / clockwork: {results[size, name][1] / cw:.1f}"
            for name in ("simple_rnn", "lstm")
        )
        print(f"size {size}: {ratios}")
    if args.plot:
        plot(target, generated, args.plot)
        print(f"plot: {args.plot}")
    print(f"seconds: {time.perf_counter() - start:.0f}")
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wav", help="a WAV file (default: music21's recording)")
    parser.add_argument("--offset", type=int, default=84480, help="first sample")
    parser.add_argument("--synthetic", action="store_true", help="the stand-in clip")
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--steps", type=int, default=2000, help="training steps")
    parser.add_argument(
        "--learning-rate", type=float, help="for every model (default: per model)"
    )
    parser.add_argument("--plot", help="where to save the waveforms (PNG)")
    return parse_with_smoke(
        parser,
        argv,
        "two steps of the smallest size, one seed",
        caps=("steps",),
        steps=2,
        sizes=["250"],
        seeds=[1],
    )


def main(argv=None):
    return run(parse_args(argv))


if __name__ == "__main__":
    main()
