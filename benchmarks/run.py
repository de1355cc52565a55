"""Times keras-gates layers against keras.layers.LSTM and GRU of the same size.

For each shape (batch, steps), every layer is built in the same small model
(`Input -> layer -> output`, default `model.compile` settings) and timed on a
train step (`train_on_batch`) and on inference (`predict_on_batch`). Rounds
are interleaved (round r times every layer before round r + 1) and the
medians are reported with their ratios to Keras' LSTM and GRU, measured in
the same run. GFLOP/s counts the matrix products only (3x forward for a
train step) and is shown next to the machine's single-GEMM GFLOP/s, measured
in the same run: the ceiling.

    python -m benchmarks.run --preset quick        # the speed guide's table
    python -m benchmarks.run --preset full --out results/
    python -m benchmarks.run --sliced              # SlicedRNN, T = 256 to 16384
    python -m benchmarks.run --preset mlstm        # the mLSTM's forms, T = 256 to 16384
    python -m benchmarks.run --preset clockwork [--units 64]  # skipped modules
    KERAS_BACKEND=jax python -m benchmarks.run      # any Keras backend

Writes `benchmark.json` (every timing) and `benchmark.png` (time against
sequence length per layer) into `--out`.
"""

import argparse
import json
import os
import textwrap
import time

import keras
import numpy as np

from benchmarks.cases import CASES
from benchmarks.cases import FEATURES
from benchmarks.cases import PRESETS
from benchmarks.cases import SLICES
from benchmarks.cases import TARGET_SHAPES
from benchmarks.cases import UNITS
from benchmarks.conditions import conditions
from benchmarks.conditions import describe
from benchmarks.smoke import smoke

PHASES = ("train", "infer")


def gemm_gflops(size=2048, repeats=5):
    """GFLOP/s of one large float32 matrix product on this backend."""
    rng = np.random.default_rng(0)
    a = keras.ops.convert_to_tensor(rng.normal(size=(size, size)).astype("float32"))
    b = keras.ops.convert_to_tensor(rng.normal(size=(size, size)).astype("float32"))
    keras.ops.convert_to_numpy(keras.ops.matmul(a, b))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.matmul(a, b))
        times.append(time.perf_counter() - start)
    return 2 * size**3 / np.median(times) / 1e9


def build_model(case, steps, features, units):
    model = keras.Sequential([keras.Input((steps, features)), case.build(units)])
    model.compile(optimizer="sgd", loss="mse", **case.compile_args)
    return model


def warm_models(names, batch, steps, features, units):
    """`(x, y, {name: model})`: the data of one shape and each case's model,
    its train and predict functions traced and run once."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    y = rng.normal(size=(batch, units)).astype("float32")
    models = {}
    for name in names:
        keras.utils.set_random_seed(0)
        model = build_model(CASES[name], steps, features, units)
        model.train_on_batch(x, y)
        model.predict_on_batch(x)
        models[name] = model
    return x, y, models


def time_shape(names, batch, steps, features, units, rounds):
    """Medians and all timings of every case at one shape, interleaved."""
    x, y, models = warm_models(names, batch, steps, features, units)
    times = {(name, phase): [] for name in names for phase in PHASES}
    bar = keras.utils.Progbar(rounds, unit_name="round")
    # Round -1 is an untimed warm-up: the first call of each model after the
    # others were built was seen to cost ~80 ms once, whatever the layer.
    for r in range(-1, rounds):
        for name, model in models.items():
            start = time.perf_counter()
            model.train_on_batch(x, y)
            times[name, "train"].append(time.perf_counter() - start)
            start = time.perf_counter()
            model.predict_on_batch(x)
            times[name, "infer"].append(time.perf_counter() - start)
        if r < 0:
            times = {key: [] for key in times}
        else:
            bar.update(r + 1)
    return times


def summarize(times, names, batch, steps, features, units):
    records = []
    medians = {key: float(np.median(value)) for key, value in times.items()}
    for name in names:
        for phase in PHASES:
            median = medians[name, phase]
            flops = 2 * CASES[name].macs(features, units) * batch * steps
            flops *= 3 if phase == "train" else 1
            record = {
                "layer": name,
                "phase": phase,
                "batch": batch,
                "steps": steps,
                "features": features,
                "units": units,
                "median_s": median,
                "times_s": times[name, phase],
                "gflops": flops / median / 1e9,
            }
            for base in ("keras.LSTM", "keras.GRU"):
                if (base, phase) in medians:
                    record[f"ratio_{base}"] = median / medians[base, phase]
            target = CASES[name].target
            if target and (target[0], phase) in medians:
                record[f"ratio_{target[0]}"] = median / medians[target[0], phase]
                record["target"] = {"baseline": target[0], "ratio": target[1]}
                record["target_met"] = record[f"ratio_{target[0]}"] <= target[1]
            records.append(record)
    return records


def print_table(records, batch, steps, ceiling):
    print(
        f"\nbatch {batch} x {steps} steps x {records[0]['features']} features "
        f"-> {records[0]['units']} units (GEMM ceiling {ceiling:.0f} GFLOP/s)"
    )
    width = max(16, *(len(r["layer"]) + 1 for r in records))
    header = f"{'layer':<{width}}"
    for phase in PHASES:
        header += f"{phase + ' ms':>10}{'/LSTM':>7}{'/GRU':>6}{'GFLOP/s':>9}"
    print(header)
    by_layer = {}
    for record in records:
        by_layer.setdefault(record["layer"], {})[record["phase"]] = record
    for name, phases in by_layer.items():
        row = f"{name:<{width}}"
        for phase in PHASES:
            rec = phases[phase]
            row += f"{1e3 * rec['median_s']:>10.1f}"
            row += f"{rec.get('ratio_keras.LSTM', float('nan')):>7.2f}"
            row += f"{rec.get('ratio_keras.GRU', float('nan')):>6.2f}"
            row += f"{rec['gflops']:>9.1f}"
        print(row)


PATH_STYLES = {" steps": ":", " hoisted": "-.", " scan": "-.", " jit": "-."}


def line_style(name):
    """`(color key, line style)`: one color per layer, whatever the path;
    dashed for Keras' own layers, dotted for a forced step loop."""
    if name.startswith("keras."):
        return name, "--"
    for suffix, style in PATH_STYLES.items():
        if name.endswith(suffix):
            return name[: -len(suffix)], style
    return name, "-"


def plot(records, path, title=None):
    """Time against sequence length, a panel per phase and batch size, drawn
    to be read at a documentation column's width (about 700 pixels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batches = sorted({r["batch"] for r in records})
    names = list(dict.fromkeys(r["layer"] for r in records))
    keys = list(dict.fromkeys(line_style(name)[0] for name in names))
    palette = plt.cm.tab10 if len(keys) <= 10 else plt.cm.tab20
    colors = {key: palette(i % palette.N) for i, key in enumerate(keys)}
    fig, axes = plt.subplots(
        len(PHASES),
        len(batches),
        figsize=(3.4 * len(batches) + 3.6, 6.6),
        squeeze=False,
        sharex=True,
    )
    for row, phase in enumerate(PHASES):
        for col, batch in enumerate(batches):
            ax = axes[row][col]
            for name in names:
                points = sorted(
                    (r["steps"], 1e3 * r["median_s"])
                    for r in records
                    if r["layer"] == name
                    and r["phase"] == phase
                    and r["batch"] == batch
                )
                if points:
                    key, style = line_style(name)
                    steps_ms = np.array(points).T
                    label = CASES[name].label if name in CASES else name
                    ax.plot(
                        *steps_ms,
                        style,
                        marker="o",
                        markersize=3,
                        color=colors.get(key),
                        label=label,
                    )
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{phase}, batch {batch}", fontsize=10)
            ax.set_ylabel("median time per call (ms)", fontsize=9)
            if row == len(PHASES) - 1:
                ax.set_xlabel("sequence length (steps)", fontsize=9)
            ax.tick_params(labelsize=9)
            ax.grid(True, which="both", alpha=0.3)
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.03, 1))
    if title:
        fig.suptitle("\n".join(textwrap.wrap(title, 75)), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=200)
    plt.close(fig)


def plot_title(result):
    """The figure's title: the conditions (device, backend, versions, date)
    and the size of the layers."""
    first = result["records"][0]
    return (
        f"{describe(result['conditions'], result['backend'])}; "
        f"{first['features']} inputs, {first['units']} units"
    )


def default_layers(preset):
    """The cases a preset times when `--layers` is not given: its own list,
    or every case but the Sliced RNN's, whose slices must divide the length
    (the `sliced` preset's lengths do), and the forced step loops (the
    `gpu` preset's) and XLA-compiled models (`benchmarks.lstm_levers`')."""
    plain = [
        name
        for name in CASES
        if not name.startswith("Sliced") and not name.endswith((" steps", " jit"))
    ]
    return preset.get("layers", plain)


def fits(name, steps):
    """Whether a case runs at this length: the Sliced RNN's slices must
    divide it, and no longer than the case's `max_steps`."""
    longest = CASES[name].max_steps
    if longest is not None and steps > longest:
        return False
    return not name.startswith("Sliced") or steps % (SLICES[0] * SLICES[1]) == 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="quick",
        help="KERAS_GATES_SMOKE=1 in the environment runs 'smoke' instead "
        "('sliced_smoke' for 'sliced')",
    )
    parser.add_argument(
        "--sliced",
        action="store_true",
        help="the Sliced RNN against the plain layers, T = 256 to 16384 "
        "(the preset 'sliced')",
    )
    parser.add_argument("--layers", nargs="+", choices=list(CASES))
    parser.add_argument("--rounds", type=int, help="overrides the preset's rounds")
    parser.add_argument("--units", type=int, help="overrides the preset's units")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    if args.sliced:
        args.preset = "sliced"
    if smoke():  # KERAS_GATES_SMOKE=1: the preset's tiny form
        args.preset = "sliced_smoke" if args.preset.startswith("sliced") else "smoke"
        args.rounds = args.units = None
    preset = PRESETS[args.preset]
    rounds = args.rounds or preset["rounds"]
    features = preset.get("features", FEATURES)
    units = args.units or preset.get("units", UNITS)
    layers = args.layers or default_layers(preset)
    names = list(dict.fromkeys(["keras.LSTM", "keras.GRU", *layers]))

    ceiling = gemm_gflops()
    print(
        f"keras {keras.__version__}, backend {keras.backend.backend()}, "
        f"{os.cpu_count()} CPUs; single GEMM: {ceiling:.0f} GFLOP/s"
    )
    records = []
    for batch, steps in preset["shapes"]:
        print(f"\nTiming batch {batch} x {steps} steps, {rounds} interleaved rounds")
        here = [name for name in names if fits(name, steps)]
        times = time_shape(here, batch, steps, features, units, rounds)
        shape_records = summarize(times, here, batch, steps, features, units)
        print_table(shape_records, batch, steps, ceiling)
        records.extend(shape_records)

    os.makedirs(args.out, exist_ok=True)
    measured = conditions(keras.backend.backend())
    result = {
        "preset": args.preset,
        "rounds": rounds,
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "conditions": measured,
        "gemm_gflops": ceiling,
        "target_shapes": TARGET_SHAPES,
        "records": records,
    }
    json_path = os.path.join(args.out, "benchmark.json")
    with open(json_path, "w") as f:
        json.dump(result, f, indent=1)
    png_path = os.path.join(args.out, "benchmark.png")
    plot(records, png_path, title=plot_title(result))
    print(f"\nWrote {json_path} and {png_path}")
    return result


if __name__ == "__main__":
    main()
