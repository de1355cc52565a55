"""Interleaved timing in worker processes: each group of cases (Keras,
PyTorch, plain TensorFlow) runs in a process of its own, so that the
frameworks' thread pools never compete, and the processes take turns: round
r times every case of one group, then of the next (the order alternating
from round to round), after one untimed warm-up round.

A group is named by its builder, `"module:function"`, which the worker
imports: `function(layers, batch, steps, features, units, device)` returns
`({name: (train, infer)}, {name: check error})`. This module imports none of
them: `benchmarks.peers` and `benchmarks.lstm_levers` name their builders.
"""

import argparse
import importlib
import json
import os
import subprocess
import sys
import time

import numpy as np

PHASES = ("train", "infer")
# Seconds between one worker's turn and the next: the threads of the worker
# that just ran (OpenMP's, Eigen's) spin for a while before they sleep.
HANDOVER_PAUSE_S = 0.5


def worker(builder, layers, batch, steps, features, units, device):
    """Builds the cases, then times one round per line read from stdin and
    writes its timings as one JSON line."""
    module, function = builder.split(":")
    build = getattr(importlib.import_module(module), function)
    cases, errors = build(layers, batch, steps, features, units, device)
    print(json.dumps({"ready": True, "errors": errors}), flush=True)
    for _ in sys.stdin:
        times = {}
        for name, (train, infer) in cases.items():
            for phase, fn in zip(PHASES, (train, infer), strict=True):
                start = time.perf_counter()
                fn()
                times[f"{name}|{phase}"] = time.perf_counter() - start
        print(json.dumps(times), flush=True)


def _start(builder, layers, shape, features, units, options):
    batch, steps = shape
    keras_backend, device = options
    command = [
        sys.executable,
        "-m",
        "benchmarks.workers",
        builder,
        "--shape",
        str(batch),
        str(steps),
        "--features",
        str(features),
        "--units",
        str(units),
        "--device",
        device,
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
            raise RuntimeError(f"worker {process.args[3]} stopped")
        if line.startswith("{"):
            return json.loads(line)


def time_groups(
    groups,
    shape,
    features,
    units,
    rounds,
    options=("tensorflow", "cpu"),
    labels=None,
):
    """Times `groups`, `[(builder, its cases)]`, one worker process each,
    taking turns: `({"case|phase": [seconds]}, {case: check error})`.

    `labels`, one per group, `(label, Keras backend)`: the group's worker
    runs on that backend and its cases are named `"label :: case"` (the
    same cases on several backends in one run)."""
    labels = labels or [None] * len(groups)
    started, names = [], []
    for (builder, layers), label in zip(groups, labels, strict=True):
        if not layers:
            continue
        group_options = options if label is None else (label[1], options[1])
        started.append(_start(builder, layers, shape, features, units, group_options))
        names.append("" if label is None else f"{label[0]} :: ")
    workers = [process for process, _ in started]
    errors = {k: v for _, errs in started for k, v in errs.items()}
    prefix = {id(process): name for process, name in zip(workers, names, strict=True)}
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
                        key = prefix[id(process)] + key
                        times.setdefault(key, []).append(value)
    finally:
        for process in workers:
            process.stdin.close()
            process.wait()
    return times, errors


def summarize(times, batch, steps, peer=None):
    """One record per case and phase: the median, every time, and the
    ratios to `torch.nn.LSTM` and to the case's own peer (`peer`, `{case:
    peer case}`) where they ran."""
    peer = peer or {}
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
        for base in ("torch.nn.LSTM", peer.get(name)):
            if base and f"{base}|{phase}" in medians:
                record[f"ratio_{base}"] = median / medians[f"{base}|{phase}"]
        records.append(record)
    return records


def print_table(records, shapes, peer=None):
    """Rows: cases; columns: ms (ratio to torch.nn.LSTM) per shape and
    phase; last, the ratio to the case's own peer where it has one."""
    peer = peer or {}
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
            if peer.get(name) and f"ratio_{peer[name]}" in rec:
                peer_ratios.append(rec[f"ratio_{peer[name]}"])
        if peer_ratios:
            row += f"   {min(peer_ratios):.2f}-{max(peer_ratios):.2f}x {peer[name]}"
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
    parser = argparse.ArgumentParser(description="one worker process (internal)")
    parser.add_argument("builder", help="module:function")
    parser.add_argument("--shape", nargs=2, type=int, required=True)
    parser.add_argument("--features", type=int, required=True)
    parser.add_argument("--units", type=int, required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--layers", nargs="+", required=True)
    args = parser.parse_args(argv)
    return worker(
        args.builder,
        args.layers,
        *args.shape,
        args.features,
        args.units,
        args.device,
    )


if __name__ == "__main__":
    main()
