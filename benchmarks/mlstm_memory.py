"""Peak memory of the mLSTM's forms against sequence length: one training
step (forward, backward, update) of `MLSTM(units)` at each length, each in a
fresh process, its peak resident memory above that of the same process
after a step at 64 steps. The chunkwise form's memory grows linearly with
the length; the parallel form's with its square.

    python -m benchmarks.mlstm_memory                      # 1k, 4k, 16k steps
    python -m benchmarks.mlstm_memory --out benchmarks/saved/cpu_mlstm_memory.json

Writes the measurements as JSON (`--out`).
"""

import argparse
import json
import os
import resource
import subprocess
import sys

from benchmarks.conditions import conditions
from benchmarks.smoke import smoke

LENGTHS = (1024, 4096, 16384)
# The parallel form holds (steps x steps) per head and row: 16,384 steps
# would take about 17 GB of it for 4 rows alone.
PARALLEL_LONGEST = 4096


def _peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(form, steps, batch, features, units):
    """One training step at 64 steps, then at `steps`: the peak above the
    first's, in MiB (run in a fresh process: peaks never come down)."""
    import keras
    import numpy as np

    import keras_gates as kg

    model = keras.Sequential(
        [
            keras.Input((None, features)),
            kg.MLSTM(units, form=form),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)
    y = np.zeros((batch, 1), "float32")
    model.train_on_batch(rng.normal(size=(batch, 64, features)).astype("float32"), y)
    before = _peak_mib()
    x = rng.normal(size=(batch, steps, features)).astype("float32")
    model.train_on_batch(x, y)
    return _peak_mib() - before


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--units", type=int, default=256)
    parser.add_argument("--out", default="benchmarks/results/mlstm_memory.json")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # form steps
    args = parser.parse_args(argv)
    if args.one:
        form, steps = args.one[0], int(args.one[1])
        print(measure(form, steps, args.batch, args.features, args.units))
        return None
    lengths = (128, 256) if smoke() else LENGTHS
    rows = []
    for form in ("chunkwise", "parallel"):
        for steps in lengths:
            if form == "parallel" and steps > PARALLEL_LONGEST:
                continue
            command = [sys.executable, "-m", "benchmarks.mlstm_memory"]
            command += ["--one", form, str(steps), "--batch", str(args.batch)]
            command += ["--features", str(args.features), "--units", str(args.units)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            mib = float(done.stdout.strip().splitlines()[-1])
            rows.append({"form": form, "steps": steps, "peak_mib": mib})
            print(f"{form:>10} {steps:>6} steps: {mib:8.0f} MiB above a 64-step step")
    result = {
        "batch": args.batch,
        "features": args.features,
        "units": args.units,
        "conditions": conditions("tensorflow"),
        "rows": rows,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
