"""Times the keras-gates layers against what a user would pick instead in
PyTorch: `torch.nn.LSTM` and `torch.nn.GRU` (their fused CPU kernels), the
official `sru.SRU` and mingru-pytorch's `minGRU`, side by side in one run.

Each framework runs in a worker process of its own (TensorFlow's and
PyTorch's thread pools never compete), and the two take turns: round r
times every Keras case, then every PyTorch case (the order alternating
from round to round), after one untimed warm-up round. A train step is a
forward pass, an MSE loss on the last output, the backward pass and an SGD
update (`train_on_batch` with `model.compile()` as is, on the Keras side);
inference is a forward pass (`predict_on_batch`; `torch.no_grad()`).
Reported: medians, and each layer's ratio to `torch.nn.LSTM` and to its own
peer. Needs the `peers` extra.

    python -m benchmarks.peers                     # 64x100 and 16x1000
    python -m benchmarks.peers --layers PeepholeLSTM CoupledLSTM --rounds 9
    python -m benchmarks.peers --preset gpu --keras-backend jax --torch-device cuda

Writes `peers.json` (every timing) into `--out`.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from benchmarks.cases import FEATURES
from benchmarks.cases import TARGET_SHAPES
from benchmarks.cases import UNITS
from benchmarks.conditions import conditions
from benchmarks.smoke import smoke

PHASES = ("train", "infer")
# Seconds between one worker's turn and the next: the threads of the worker
# that just ran (OpenMP's, Eigen's) spin for a while before they sleep.
HANDOVER_PAUSE_S = 0.5
KERAS_LAYERS = [
    "keras.LSTM",
    "keras.GRU",
    "PeepholeLSTM",
    "CoupledLSTM",
    "MinimalGRU",
    "SRU",
    "MinGRU",
]
TORCH_LAYERS = ["torch.nn.LSTM", "torch.nn.GRU", "sru.SRU", "minGRU_pytorch"]
# Each keras-gates layer's nearest PyTorch peer (besides torch.nn.LSTM).
PEER = {
    "keras.GRU": "torch.nn.GRU",
    "MinimalGRU": "torch.nn.GRU",
    "SRU": "sru.SRU",
    "MinGRU": "minGRU_pytorch",
}
PRESETS = {
    "quick": {"shapes": TARGET_SHAPES, "rounds": 7},
    # On a GPU, against cuDNN's LSTM and GRU through PyTorch (`--torch-device
    # cuda`), at the `gpu` preset's lengths of `benchmarks.run`.
    "gpu": {"shapes": [(64, 100), (64, 1000), (64, 4096)], "rounds": 3},
    "smoke": {"shapes": [(4, 8)], "rounds": 2, "features": 8, "units": 16},
}


# --------------------------------------------------------------- the workers


def _keras_worker(layers, batch, steps, features, units):
    from benchmarks.run import warm_models

    x, y, models = warm_models(layers, batch, steps, features, units)
    return {
        name: (lambda m=m: m.train_on_batch(x, y), lambda m=m: m.predict_on_batch(x))
        for name, m in models.items()
    }


def _torch_module(name, features, units):
    import torch

    if name == "torch.nn.LSTM":
        return torch.nn.LSTM(features, units, batch_first=True), "batch"
    if name == "torch.nn.GRU":
        return torch.nn.GRU(features, units, batch_first=True), "batch"
    if name == "sru.SRU":
        import sru

        return sru.SRU(features, units, num_layers=1), "time"
    if name == "minGRU_pytorch":
        from minGRU_pytorch import minGRU

        # `units` hidden units, projected back to `features` as the package
        # does whenever its expansion factor is not 1.
        return minGRU(features, expansion_factor=units / features), "batch"
    raise ValueError(f"Unknown PyTorch layer {name!r}")


def _torch_worker(layers, batch, steps, features, units, device="cpu"):
    import torch

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(batch, steps, features)).astype("float32"))
    x = x.to(device)
    synchronize = torch.cuda.synchronize if device == "cuda" else lambda: None
    steps_fns = {}
    for name in layers:
        torch.manual_seed(0)
        module, layout = _torch_module(name, features, units)
        module = module.to(device)
        inputs = x.transpose(0, 1).contiguous() if layout == "time" else x

        def last(module=module, inputs=inputs, layout=layout):
            out = module(inputs)
            out = out[0] if isinstance(out, tuple) else out
            return out[-1] if layout == "time" else out[:, -1]

        target = torch.zeros_like(last().detach())
        optimizer = torch.optim.SGD(module.parameters(), lr=0.01)

        def train(last=last, target=target, optimizer=optimizer):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(last(), target)
            loss.backward()
            optimizer.step()
            synchronize()

        def infer(last=last):
            with torch.no_grad():
                last()
            synchronize()

        train()
        infer()
        steps_fns[name] = (train, infer)
    return steps_fns


def worker(framework, layers, batch, steps, features, units, torch_device):
    """Builds the cases, then times one round per line read from stdin and
    writes its timings as one JSON line."""
    errors = {}
    if framework == "keras":
        cases = _keras_worker(layers, batch, steps, features, units)
    elif framework == "levers":  # benchmarks.lstm_levers
        from benchmarks.lstm_levers import lever_cases

        cases, errors = lever_cases(layers, batch, steps, features, units)
    else:
        cases = _torch_worker(layers, batch, steps, features, units, torch_device)
    print(json.dumps({"ready": True, "errors": errors}), flush=True)
    for _ in sys.stdin:
        times = {}
        for name, (train, infer) in cases.items():
            for phase, fn in zip(PHASES, (train, infer), strict=True):
                start = time.perf_counter()
                fn()
                times[f"{name}|{phase}"] = time.perf_counter() - start
        print(json.dumps(times), flush=True)


# ---------------------------------------------------------------- the driver


def _start(framework, layers, shape, features, units, options):
    batch, steps = shape
    keras_backend, torch_device = options
    command = [
        sys.executable,
        "-m",
        "benchmarks.peers",
        "--worker",
        framework,
        "--shape",
        str(batch),
        str(steps),
        "--features",
        str(features),
        "--units",
        str(units),
        "--torch-device",
        torch_device,
        "--layers",
        *layers,
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND=keras_backend)
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    return process, _read(process)["errors"]


def _read(process):
    while True:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {process.args[4]} stopped")
        if line.startswith("{"):
            return json.loads(line)


def time_groups(groups, shape, features, units, rounds, options=("tensorflow", "cpu")):
    """Times `groups`, `[(framework, its cases)]`, one worker process each,
    taking turns: `({"case|phase": [seconds]}, {case: check error})`."""
    started = [
        _start(framework, layers, shape, features, units, options)
        for framework, layers in groups
        if layers
    ]
    workers = [process for process, _ in started]
    errors = {k: v for _, errs in started for k, v in errs.items()}
    times = {}
    try:
        for r in range(-1, rounds):
            order = workers if r % 2 == 0 else workers[::-1]
            for process in order:
                time.sleep(HANDOVER_PAUSE_S)
                process.stdin.write("go\n")
                process.stdin.flush()
                for key, value in _read(process).items():
                    if r >= 0:
                        times.setdefault(key, []).append(value)
    finally:
        for process in workers:
            process.stdin.close()
            process.wait()
    return times, errors


def summarize(times, batch, steps):
    medians = {key: float(np.median(value)) for key, value in times.items()}
    records = []
    for key, median in medians.items():
        name, phase = key.split("|")
        record = {
            "layer": name,
            "phase": phase,
            "batch": batch,
            "steps": steps,
            "median_s": median,
            "times_s": times[key],
        }
        for base in ("torch.nn.LSTM", PEER.get(name)):
            if base and f"{base}|{phase}" in medians:
                record[f"ratio_{base}"] = median / medians[f"{base}|{phase}"]
        records.append(record)
    return records


def print_table(records, shapes):
    """Rows: layers; columns: ms (ratio to torch.nn.LSTM) per shape and
    phase; last, the ratio to the layer's own peer where it has one."""
    columns = [(b, t, p) for b, t in shapes for p in PHASES]
    cell = {(r["layer"], r["batch"], r["steps"], r["phase"]): r for r in records}
    names = list(dict.fromkeys(r["layer"] for r in records))
    width = max(len(n) for n in names) + 2
    header = f"{'layer':<{width}}" + "".join(
        f"{f'{b}x{t} {p} ms':>22}" for b, t, p in columns
    )
    print(header + "   own peer")
    for name in names:
        row = f"{name:<{width}}"
        peer_ratios = []
        for b, t, p in columns:
            rec = cell.get((name, b, t, p))
            if rec is None:
                row += f"{'-':>22}"
                continue
            ratio = rec.get("ratio_torch.nn.LSTM")
            text = f"{1e3 * rec['median_s']:.1f}"
            if ratio is not None and name != "torch.nn.LSTM":
                text += f" ({ratio:.2f}x)"
            row += f"{text:>22}"
            if PEER.get(name) and f"ratio_{PEER[name]}" in rec:
                peer_ratios.append(rec[f"ratio_{PEER[name]}"])
        if peer_ratios:
            row += f"   {min(peer_ratios):.2f}-{max(peer_ratios):.2f}x {PEER[name]}"
        print(row)


def write_json(result, folder, name):
    """Writes `result` to `folder/name` and returns it."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    print(f"\nWrote {path}")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="quick",
        help="KERAS_GATES_SMOKE=1 in the environment runs 'smoke' instead",
    )
    parser.add_argument("--layers", nargs="+", help="Keras-side cases")
    parser.add_argument("--torch-layers", nargs="*", default=TORCH_LAYERS)
    parser.add_argument("--rounds", type=int)
    parser.add_argument(
        "--keras-backend", default="tensorflow", help="the Keras side's backend"
    )
    parser.add_argument(
        "--torch-device", default="cpu", help="cpu, or cuda for cuDNN's kernels"
    )
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument(
        "--worker", choices=("keras", "torch", "levers"), help=argparse.SUPPRESS
    )
    parser.add_argument("--shape", nargs=2, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--features", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--units", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(
            args.worker,
            args.layers,
            *args.shape,
            args.features,
            args.units,
            args.torch_device,
        )
    if smoke():  # KERAS_GATES_SMOKE=1: the tiny form
        args.preset, args.rounds = "smoke", None

    preset = PRESETS[args.preset]
    rounds = args.rounds or preset["rounds"]
    features = preset.get("features", FEATURES)
    units = preset.get("units", UNITS)
    keras_layers = args.layers or KERAS_LAYERS
    torch_layers = list(args.torch_layers)
    import torch

    print(
        f"torch {torch.__version__} on {args.torch_device} "
        f"({torch.get_num_threads()} threads), keras on {args.keras_backend}, "
        f"{os.cpu_count()} CPUs; {rounds} interleaved rounds"
    )
    records = []
    for batch, steps in preset["shapes"]:
        print(f"Timing batch {batch} x {steps} steps x {features} -> {units}")
        options = (args.keras_backend, args.torch_device)
        shape = (batch, steps)
        groups = [("keras", keras_layers), ("torch", torch_layers)]
        times, _ = time_groups(groups, shape, features, units, rounds, options)
        records.extend(summarize(times, batch, steps))
    print()
    print_table(records, preset["shapes"])
    result = {
        "preset": args.preset,
        "rounds": rounds,
        "keras_backend": args.keras_backend,
        "torch_device": args.torch_device,
        "torch": torch.__version__,
        "features": features,
        "units": units,
        "conditions": conditions(args.keras_backend, "torch"),
        "records": records,
    }
    return write_json(result, args.out, "peers.json")


if __name__ == "__main__":
    main()
