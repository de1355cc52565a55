"""Times the keras-gates layers against what a user would pick instead in
PyTorch: `torch.nn.LSTM` and `torch.nn.GRU` (their fused CPU kernels), the
official `sru.SRU`, mingru-pytorch's `minGRU` and the official xLSTM's
sLSTM (its `vanilla` backend, the one that runs without CUDA, after a
bias-free input projection, as `SLSTM`'s kernel), side by side in one run.

Each framework runs in a worker process of its own and the two take turns
(`benchmarks.workers`): round r times every Keras case, then every PyTorch
case, the order alternating from round to round, after one untimed warm-up
round. A train step is a
forward pass, an MSE loss on the last output, the backward pass and an SGD
update (`train_on_batch` with `model.compile()` as is, on the Keras side);
inference is a forward pass (`predict_on_batch`; `torch.no_grad()`).
Reported: medians, and each layer's ratio to `torch.nn.LSTM` and to its own
peer. Needs the `peers` extra.

    python -m benchmarks.peers                     # 64x100 and 16x1000
    python -m benchmarks.peers --layers PeepholeLSTM CoupledLSTM --rounds 9
    python -m benchmarks.peers --layers keras.LSTM SLSTM "MinGRU scan" "MinLSTM scan" --torch-layers torch.nn.LSTM xlstm.sLSTM --rounds 5
    python -m benchmarks.peers --preset mlstm --layers "MLSTM chunkwise" "MLSTM recurrent" --torch-layers mlstm_kernels.chunkwise mlstm_kernels.recurrent
    python -m benchmarks.peers --preset gpu --keras-backend jax --torch-device cuda

Writes `peers.json` (every timing) into `--out`.
"""

import argparse
import os

import numpy as np

from benchmarks.cases import FEATURES
from benchmarks.cases import TARGET_SHAPES
from benchmarks.cases import UNITS
from benchmarks.conditions import conditions
from benchmarks.smoke import smoke
from benchmarks.workers import print_table
from benchmarks.workers import summarize
from benchmarks.workers import time_groups
from benchmarks.workers import write_json

KERAS_LAYERS = [
    "keras.LSTM",
    "keras.GRU",
    "PeepholeLSTM",
    "CoupledLSTM",
    "MinimalGRU",
    "SRU",
    "MinGRU",
    "SLSTM",
]
TORCH_LAYERS = [
    "torch.nn.LSTM",
    "torch.nn.GRU",
    "sru.SRU",
    "minGRU_pytorch",
    "xlstm.sLSTM",
]
# The official mlstm-kernels' native kernels (`--preset mlstm`), each after
# the input product of `MLSTM(units)` and before its output gate.
MLSTM_KERNELS = ("parallel", "chunkwise", "recurrent")
# Each keras-gates layer's nearest PyTorch peer (besides torch.nn.LSTM).
PEER = {
    "keras.GRU": "torch.nn.GRU",
    "MinimalGRU": "torch.nn.GRU",
    "SRU": "sru.SRU",
    "MinGRU": "minGRU_pytorch",
    "SLSTM": "xlstm.sLSTM",
    **{f"MLSTM {form}": f"mlstm_kernels.{form}" for form in MLSTM_KERNELS},
}
PRESETS = {
    "quick": {"shapes": TARGET_SHAPES, "rounds": 7},
    # On a GPU, against cuDNN's LSTM and GRU through PyTorch (`--torch-device
    # cuda`), at the `gpu` preset's lengths of `benchmarks.run`.
    "gpu": {"shapes": [(64, 100), (64, 1000), (64, 4096)], "rounds": 3},
    "smoke": {"shapes": [(4, 8)], "rounds": 2, "features": 8, "units": 16},
    # The mLSTM's forms against the official native kernels.
    "mlstm": {"shapes": [(16, 1024), (16, 4096)], "rounds": 3},
}


# --------------------------------------------------------------- the workers


# Builders of `benchmarks.workers`' worker processes.
KERAS = "benchmarks.peers:keras_cases"
TORCH = "benchmarks.peers:torch_cases"


def keras_cases(layers, batch, steps, features, units, device=None):
    """`({name: (train, infer)}, {})` of the Keras layers `layers`."""
    from benchmarks.run import warm_models

    x, y, models = warm_models(layers, batch, steps, features, units)
    cases = {
        name: (lambda m=m: m.train_on_batch(x, y), lambda m=m: m.predict_on_batch(x))
        for name, m in models.items()
    }
    return cases, {}


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
    if name == "xlstm.sLSTM":
        return _official_slstm(features, units), "batch"
    if name.startswith("mlstm_kernels."):
        return _official_mlstm(name.split(".")[1], features, units), "batch"
    raise ValueError(f"Unknown PyTorch layer {name!r}")


def _official_slstm(features, units, num_heads=4):
    """The official sLSTM cell (vanilla backend) after a bias-free input
    projection: what `keras_gates.SLSTM(units)` computes."""
    import torch
    from xlstm.blocks.slstm.cell import sLSTMCell
    from xlstm.blocks.slstm.cell import sLSTMCellConfig

    class OfficialSLSTM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.projection = torch.nn.Linear(features, 4 * units, bias=False)
            config = sLSTMCellConfig(
                hidden_size=units,
                num_heads=num_heads,
                backend="vanilla",
                output_shape="BSH",
                recurrent_weight_init="standard",
            )
            self.cell = sLSTMCell(config)

        def forward(self, x):
            return self.cell(self.projection(x))[0]

    return OfficialSLSTM()


def _official_mlstm(form, features, units, num_heads=4, chunk_size=64):
    """An official mlstm-kernels native kernel between the input product and
    the output gate of `keras_gates.MLSTM(units)`: the same work."""
    import torch
    from mlstm_kernels.torch.chunkwise.native import mlstm_chunkwise__native_autograd
    from mlstm_kernels.torch.parallel.native import mlstm_parallel__native_autograd
    from mlstm_kernels.torch.recurrent import mlstm_recurrent_sequence__native_fw

    kernel = {
        "parallel": mlstm_parallel__native_autograd,
        "chunkwise": mlstm_chunkwise__native_autograd,
        "recurrent": mlstm_recurrent_sequence__native_fw,
    }[form]

    class OfficialMLSTM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.projection = torch.nn.Linear(features, 4 * units + 2 * num_heads)

        def forward(self, x):
            batch, steps, _ = x.shape
            q, k, v, o, gates = self.projection(x).split(
                [units] * 4 + [2 * num_heads], dim=-1
            )

            def heads(t):
                return t.reshape(batch, steps, num_heads, -1).transpose(1, 2)

            i, f = gates.transpose(1, 2).split(num_heads, dim=1)
            h = kernel(heads(q), heads(k), heads(v), i, f, chunk_size=chunk_size)
            h = h.transpose(1, 2).reshape(batch, steps, units)
            return torch.sigmoid(o) * h

    return OfficialMLSTM()


def torch_cases(layers, batch, steps, features, units, device="cpu"):
    """`({name: (train, infer)}, {})` of the PyTorch modules `layers`."""
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
    return steps_fns, {}


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
        "--shapes", nargs="+", help="BATCHxSTEPS shapes instead of the preset's"
    )
    parser.add_argument(
        "--keras-backend", default="tensorflow", help="the Keras side's backend"
    )
    parser.add_argument(
        "--torch-device", default="cpu", help="cpu, or cuda for cuDNN's kernels"
    )
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    if smoke():  # KERAS_GATES_SMOKE=1: the tiny form
        args.preset, args.rounds = "smoke", None

    preset = dict(PRESETS[args.preset])
    if args.shapes:
        preset["shapes"] = [tuple(int(n) for n in s.split("x")) for s in args.shapes]
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
        groups = [(KERAS, keras_layers), (TORCH, torch_layers)]
        times, _ = time_groups(groups, shape, features, units, rounds, options)
        records.extend(summarize(times, batch, steps, PEER))
    print()
    print_table(records, preset["shapes"], PEER)
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
