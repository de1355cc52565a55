"""Writes the benchmark figures that the README and the documentation quote,
from the results the benchmarks saved, so that a page cannot drift from
what its command measured.

    python -m benchmarks.quote          # rewrite every quoted figure
    python -m benchmarks.quote --check  # list what differs, exit 1 (a test runs this)

A page marks what is generated:

- a block, `<!-- quoted: NAME -->` ... `<!-- end quoted -->`, for a table or
  a printed output (NAME is one of `BLOCKS` below);
- a value, `<!--q SOURCE LAYER PHASE BATCHxSTEPS-->0.72<!--/q-->`: the
  layer's time as a ratio to the source's baseline (Keras' LSTM for the
  `benchmarks.run` results, `torch.nn.LSTM` for `benchmarks.peers`), to
  another with `... BATCHxSTEPS vs keras.GRU-->`, or in milliseconds with
  `... BATCHxSTEPS ms-->`. A layer's spaces are written `_`.

The results live in `benchmarks/saved/` (and the GPU runs in
`benchmarks/figures/`): copy a run's `benchmark.json` or `peers.json` there
to publish it, then run this. The studies' tables (`STUDIES`) are those
their `--out` JSON holds. It also redraws the figures of `FIGURES`.
"""

import argparse
import contextlib
import functools
import io
import json
import pathlib
import re
import sys

from benchmarks.cases import CASES
from benchmarks.cases import FAST_PATH_DEFAULTS

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = {
    "cpu-quick": "benchmarks/saved/cpu_quick.json",
    "cpu-peers": "benchmarks/saved/cpu_peers.json",
    "cpu-peers-xlstm": "benchmarks/saved/cpu_peers_xlstm.json",
    "cpu-peers-mlstm": "benchmarks/saved/cpu_peers_mlstm.json",
    "cpu-sliced": "benchmarks/saved/cpu_sliced.json",
    "cpu-mlstm": "benchmarks/saved/cpu_mlstm.json",
    "cpu-text": "benchmarks/saved/cpu_text.json",
    "gpu-jax": "benchmarks/figures/gpu_h200_jax.json",
    "gpu-peers": "benchmarks/figures/gpu_h200_cudnn_peers.json",
}
BLOCK = re.compile(
    r"(?P<open><!-- quoted: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(?P<close><!-- end quoted -->)",
    re.S,
)
VALUE = re.compile(
    r"(?P<open><!--q (?P<source>[\w-]+) (?P<layer>\S+) (?P<phase>train|infer) "
    r"(?P<batch>\d+)x(?P<steps>\d+)(?: vs (?P<vs>\S+))?(?P<ms> ms)?-->)"
    r"(?P<body>[^<]*)(?P<close><!--/q-->)"
)
# The layers of the speed guide's table, in its order: each layer's
# defaults, then the other paths forced.
SPEED_ROWS = (
    *FAST_PATH_DEFAULTS,
    "ClockworkRNN",
    "DepthGatedLSTM",
    "keras.GRU",
    "keras.SimpleRNN",
    "CoupledLSTM hoisted",
    "SRU hoisted",
    "MinGRU scan",
)
PHASES = ("train", "infer")


@functools.cache
def load(source):
    """The saved result of `source`, read once per process."""
    return json.loads((ROOT / SOURCES[source]).read_text())


def label(name):
    return CASES[name].label if name in CASES else name


def describe(result, *also):
    from benchmarks.conditions import describe

    backend = result.get("backend") or result.get("keras_backend")
    text = describe(result["conditions"], backend)
    for name, title in (("torch", "PyTorch"),):
        if name in also:
            text += f", {title} {result['conditions']['versions'][name]}"
    return text


def _records(result):
    """`{(layer, phase, batch, steps): record}`; a run of several backends
    and sizes (`benchmarks.text`) names its layers `layer@backend@units`."""
    return {
        (_name(r), r["phase"], r["batch"], r["steps"]): r for r in result["records"]
    }


def _name(record):
    if "backend" in record:
        return f"{record['layer']}@{record['backend']}@{record['units']}"
    return record["layer"]


def _shapes(result):
    return sorted(
        {(r["batch"], r["steps"]) for r in result["records"]},
        key=lambda s: (-s[0], s[1]),
    )


def _header(shapes, first="layer"):
    cells = [f"{b}×{t} {p}" for b, t in shapes for p in PHASES]
    return (
        f"| {first} | " + " | ".join(cells) + " |\n|---|" + "---:|" * len(cells) + "\n"
    )


def speed_table():
    """Each layer's time against Keras' LSTM at the two shapes of the
    speed guide, on the CPU."""
    result = load("cpu-quick")
    records = _records(result)
    shapes = [tuple(s) for s in result["target_shapes"]]
    text = _header(shapes)
    ms = [
        f"{1e3 * records['keras.LSTM', p, b, t]['median_s']:.0f} ms"
        for b, t in shapes
        for p in PHASES
    ]
    text += "| `keras.layers.LSTM` | " + " | ".join(ms) + " |\n"
    for name in SPEED_ROWS:
        cells = [
            f"{records[name, p, b, t]['ratio_keras.LSTM']:.2f}"
            for b, t in shapes
            for p in PHASES
        ]
        text += f"| `{label(name)}` | " + " | ".join(cells) + " |\n"
    return text + (
        f"\n*Time per call relative to `keras.layers.LSTM` (its row: milliseconds); lower "
        f"is faster. 128 inputs, 256 units, medians of {result['rounds']} interleaved rounds; "
        f"{describe(result)}.*\n"
    )


def run_output():
    """What `python -m benchmarks.run --preset quick` printed."""
    from benchmarks import run

    result = load("cpu-quick")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        print(
            f"keras {result['keras']}, backend {result['backend']}, "
            f"{result['conditions']['cpus']} CPUs; single GEMM: {result['gemm_gflops']:.0f} GFLOP/s"
        )
        for batch, steps in result.get("shapes") or _shapes_in_order(result):
            here = [
                r
                for r in result["records"]
                if (r["batch"], r["steps"]) == (batch, steps)
            ]
            run.print_table(here, batch, steps, result["gemm_gflops"])
    return f"```text\n{printed.getvalue().strip()}\n```\n\n*{describe(result)}.*\n"


def _shapes_in_order(result):
    return list(dict.fromkeys((r["batch"], r["steps"]) for r in result["records"]))


def peers_table(source="cpu-peers"):
    """Milliseconds and the ratio to `torch.nn.LSTM`, on the CPU."""
    result = load(source)
    return _ms_table(result, "ratio_torch.nn.LSTM") + (
        f"\n*Milliseconds per call (ratio to `torch.nn.LSTM`; lower is faster). 128 inputs, "
        f"256 units, medians of {result['rounds']} rounds, each framework in a process of "
        f"its own; {describe(result, 'torch')}.*\n"
    )


@functools.cache
def mlstm_peers_table():
    """The mLSTM's forms against the official mlstm-kernels' native kernels:
    milliseconds, and each form's ratio to its official kernel."""
    result = load("cpu-peers-mlstm")
    records = _records(result)
    shapes = _shapes_in_order(result)
    text = _header(shapes)
    for name in dict.fromkeys(r["layer"] for r in result["records"]):
        cells = []
        for b, t in shapes:
            for p in PHASES:
                rec = records.get((name, p, b, t))
                if rec is None:
                    cells.append("")
                    continue
                ratio = [v for k, v in rec.items() if k.startswith("ratio_mlstm")]
                cell = f"{1e3 * rec['median_s']:.1f}"
                cells.append(cell + (f" ({ratio[0]:.2f})" if ratio else ""))
        text += f"| `{label(name)}` | " + " | ".join(cells) + " |\n"
    return text + (
        f"\n*Milliseconds per call (ratio to the official kernel of the same form; lower is "
        f"faster). 128 inputs, 256 units, 4 heads, chunks of 64; medians of {result['rounds']} "
        f"rounds, each framework in a process of its own; {describe(result, 'torch')}. "
        f"{result['note']}*\n"
    )


def _ms_table(result, ratio_key=None, names=None, combined=False):
    """Milliseconds per layer (rows) and shape and phase (columns); with
    `combined`, one column per shape holding "train / infer", for tables
    of many shapes."""
    records = _records(result)
    shapes = _shapes_in_order(result)
    names = names or list(dict.fromkeys(r["layer"] for r in result["records"]))
    if combined:
        cells = [f"{b}×{t}" for b, t in shapes]
        text = "| layer | " + " | ".join(cells) + " |\n|---|" + "---:|" * len(cells)
        text += "\n"
    else:
        text = _header(shapes)
    for name in names:
        cells = []
        for b, t in shapes:
            phases = []
            for p in PHASES:
                rec = records.get((name, p, b, t))
                if rec is None:
                    phases.append("")
                    continue
                cell = f"{1e3 * rec['median_s']:.1f}"
                if (
                    ratio_key
                    and ratio_key in rec
                    and name != ratio_key[len("ratio_") :]
                ):
                    cell += f" ({rec[ratio_key]:.2f})"
                phases.append(cell)
            if combined:
                cells.append(" / ".join(phases) if any(phases) else "")
            else:
                cells += phases
        text += f"| `{label(name)}` | " + " | ".join(cells) + " |\n"
    return text


def gpu_table():
    """Milliseconds of every layer and path on the GPU (JAX)."""
    result = load("gpu-jax")
    return _ms_table(result, combined=True) + (
        f"\n*Milliseconds per call, train / infer; medians of {result['rounds']} interleaved rounds; "
        f"128 inputs, 256 units; {describe(result)}.*\n"
    )


def gpu_peers_table():
    """The same GPU's cuDNN LSTM and GRU (PyTorch) beside the LSTM family, in
    a second run."""
    result = load("gpu-peers")
    return _ms_table(result, "ratio_torch.nn.LSTM") + (
        f"\n*Milliseconds per call (ratio to cuDNN's `torch.nn.LSTM`); medians of "
        f"{result['rounds']} rounds; {describe(result, 'torch')}.*\n"
    )


def mlstm_table():
    """The mLSTM's forms beside the LSTM and MinGRU's scan, by length."""
    result = load("cpu-mlstm")
    return _ms_table(result, combined=True) + (
        f"\n*Milliseconds per call, train / infer (batch × steps); batch 16, 32 inputs, 64 units, "
        f"4 heads, chunks of 64; the parallel form up to 2,048 steps; medians of "
        f"{result['rounds']} interleaved rounds; {describe(result)}.*\n"
    )


def mlstm_memory_table():
    """Peak memory of a training step of the mLSTM's forms, by length."""
    result = json.loads((ROOT / "benchmarks/saved/cpu_mlstm_memory.json").read_text())
    rows = result["rows"]
    lengths = sorted({row["steps"] for row in rows})
    text = "| form | " + " | ".join(f"{t:,} steps" for t in lengths) + " |\n"
    text += "|---|" + "---:|" * len(lengths) + "\n"
    for form in dict.fromkeys(row["form"] for row in rows):
        mib = {row["steps"]: row["peak_mib"] for row in rows if row["form"] == form}
        cells = [f"{mib[t]:,.0f}" if t in mib else "" for t in lengths]
        text += f'| `MLSTM(form="{form}")` | ' + " | ".join(cells) + " |\n"
    conditions = result["conditions"]
    return text + (
        f"\n*MiB of peak resident memory of one training step above that of a 64-step "
        f"step, each in a fresh process; batch {result['batch']}, {result['features']} inputs, "
        f"{result['units']} units, 4 heads, chunks of 64; {conditions['cpus']}-core "
        f"{conditions['cpu']} CPU, TensorFlow {conditions['versions']['tensorflow']}, "
        f"{conditions['date']}. The parallel form stops at 4,096 steps: at 16,384 its "
        f"decay matrices alone would take about 17 GB.*\n"
    )


def sliced_table():
    """The Sliced RNN against the plain layer, by sequence length."""
    result = load("cpu-sliced")
    return _ms_table(result, combined=True) + (
        f"\n*Milliseconds per call, train / infer (batch × steps); batch 16, 32 inputs, 64 units; medians of "
        f"{result['rounds']} interleaved rounds; {describe(result)}.*\n"
    )


def text_table():
    """The masked text workload: each backend's layers at each size, in
    milliseconds and as a ratio to keras LSTM on the same backend."""
    result = load("cpu-text")
    units = list(dict.fromkeys(r["units"] for r in result["records"]))
    columns = [(u, p) for u in units for p in PHASES]
    cells = [f"{u} units {p}" for u, p in columns]
    text = "| backend | layer | " + " | ".join(cells) + " |\n"
    text += "|---|---|" + "---:|" * len(cells) + "\n"
    records = {
        (r["backend"], r["layer"], r["units"], r["phase"]): r for r in result["records"]
    }
    rows = list(dict.fromkeys((r["backend"], r["layer"]) for r in result["records"]))
    for backend, name in rows:
        row = []
        for u, p in columns:
            r = records.get((backend, name, u, p))
            cell = "" if r is None else f"{1e3 * r['median_s']:.0f}"
            if r is not None and name != "keras.LSTM" and "ratio_keras.LSTM" in r:
                cell += f" ({r['ratio_keras.LSTM']:.2f})"
            row.append(cell)
        where = "PyTorch" if backend == "pytorch" else backend
        text += f"| {where} | `{label(name)}` | " + " | ".join(row) + " |\n"
    return text + (
        f"\n*Milliseconds per call (ratio to `keras.layers.LSTM` on the same backend; "
        f"PyTorch's to TensorFlow's); batches of {result['batch']} reviews padded to "
        f"{result['length']} tokens ({result['lengths']}, these batches' median {result['median_length']:.0f} tokens), "
        f"`Embedding(20000, 128, mask_zero=True)`, the layer, a sigmoid, Adam; medians of "
        f"{result['rounds']} interleaved rounds, each framework in a process of its own; "
        f"{_text_conditions(result)}.*\n"
    )


def _text_conditions(result):
    versions = result["conditions"]["versions"]
    also = [
        f"{title} {versions[name]}"
        for name, title in (("jax", "JAX"), ("torch", "PyTorch"))
        if name in versions
    ]
    return ", ".join([describe(result), *also])


# The studies' tables: each study writes its own into its `--out` JSON.
STUDIES = {
    "study-clockwork": "benchmarks/saved/clockwork_generation.json",
    "study-variants": "benchmarks/saved/variant_study.json",
    "study-depth-gated": "benchmarks/saved/depth_gated_study.json",
    "study-state-tracking": "benchmarks/saved/state_tracking.json",
    "study-recall": "benchmarks/saved/recall.json",
}


def study_table(name):
    """The tables a study printed, and the conditions it ran under."""
    result = json.loads((ROOT / STUDIES[name]).read_text())
    minutes = result["seconds"] / 60
    return result["markdown"] + (
        f"\n*{result['conditions']}; {minutes:.0f} minutes of run time in all.*\n"
    )


BLOCKS = {
    **{name: functools.partial(study_table, name) for name in STUDIES},
    "cpu-speed": speed_table,
    "cpu-run-output": run_output,
    "cpu-peers": peers_table,
    "cpu-peers-xlstm": functools.partial(peers_table, "cpu-peers-xlstm"),
    "cpu-peers-mlstm": mlstm_peers_table,
    "gpu-speed": gpu_table,
    "gpu-peers": gpu_peers_table,
    "cpu-sliced": sliced_table,
    "cpu-mlstm": mlstm_table,
    "cpu-mlstm-memory": mlstm_memory_table,
    "cpu-text": text_table,
}


def value(match):
    result = load(match["source"])
    name = match["layer"].replace("_", " ")
    key = (name, match["phase"], int(match["batch"]), int(match["steps"]))
    record = _records(result)[key]
    if match["ms"]:
        return f"{1e3 * record['median_s']:.0f}"
    baseline = match["vs"] or (
        "torch.nn.LSTM" if "keras_backend" in result else "keras.LSTM"
    )
    if "ratio_" + baseline in record:
        return f"{record['ratio_' + baseline]:.2f}"
    records = _records(result)
    other = records.get((baseline, *key[1:]))
    if other is None:  # a case name with spaces, written with underscores
        other = records[(baseline.replace("_", " "), *key[1:])]
    return f"{record['median_s'] / other['median_s']:.2f}"


# The figures drawn from saved results (`--check` does not compare them).
FIGURES = {
    "benchmarks/figures/sliced.png": "cpu-sliced",
    "benchmarks/figures/mlstm_forms.png": "cpu-mlstm",
    "benchmarks/figures/gpu_h200_jax.png": "gpu-jax",
}


def draw_figures():
    from benchmarks import run

    for path, source in FIGURES.items():
        result = load(source)
        run.plot(result["records"], ROOT / path, title=run.plot_title(result))


def pages():
    yield ROOT / "README.md"
    yield ROOT / "benchmarks" / "README.md"
    yield from sorted((ROOT / "docs").rglob("*.md"))


def quoted(text):
    """`text` with every quoted figure written anew. A value's marker must
    not open a line: Markdown would read it as the start of an HTML block
    and end the paragraph there."""
    for line in text.splitlines():
        if line.lstrip().startswith("<!--q "):
            raise ValueError(f"a quoted value opens a line: {line.strip()[:60]!r}")
    text = BLOCK.sub(lambda m: m["open"] + BLOCKS[m["name"]]() + m["close"], text)
    return VALUE.sub(lambda m: m["open"] + value(m) + m["close"], text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 on a difference"
    )
    args = parser.parse_args(argv)
    stale = []
    for page in pages():
        text = page.read_text()
        new = quoted(text)
        if new != text:
            stale.append(page.relative_to(ROOT))
            if not args.check:
                page.write_text(new)
    if not args.check:
        draw_figures()
    verb = "differ from the saved results" if args.check else "rewritten"
    for page in stale:
        print(f"{page}: {verb}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
