"""The conditions of a measurement, saved with its timings and named in its
tables and figures: the date, the CPU (model, cores, AVX-512), the GPU when
one is visible, and the versions of the frameworks that ran."""

import datetime
import importlib.metadata
import os
import platform


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return platform.processor() or platform.machine(), False
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in info.splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    return model, " avx512f" in info


def _gpu(backend):
    """The name of the first GPU the backend sees, or None."""
    try:
        if backend == "jax":
            import jax

            gpus = [d for d in jax.devices() if d.platform == "gpu"]
            return gpus[0].device_kind if gpus else None
        if backend == "torch":
            import torch

            return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                return details.get("device_name", "GPU")
    except Exception:  # noqa: BLE001 - a missing driver is "no GPU"
        return None
    return None


def conditions(backend, *others):
    """A dict of the conditions, JSON-serializable: `backend` (the Keras
    backend that ran, also asked for its GPU) and the `others` frameworks
    that took part (e.g. "torch"), with their installed versions."""
    model, avx512 = _cpu_model()
    versions = {}
    for name in ("keras", backend, *others):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return {
        "date": datetime.datetime.now(datetime.UTC).date().isoformat(),
        "cpu": model,
        "arch": platform.machine(),
        "cpus": os.cpu_count(),
        "avx512": avx512,
        "gpu": _gpu(backend),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def _vendor(model):
    """ "Intel Xeon", "AMD EPYC" and the like from a CPU's model name, or ""."""
    words = model.replace("(R)", "").replace("(TM)", "").split()
    if words[:1] in (["Intel"], ["AMD"]):
        return " ".join(words[:2])
    return ""


def describe(cond, backend=None):
    """One line for a table's caption or a figure's title, e.g. "2-core
    Intel Xeon x86-64 CPU (AVX-512), TensorFlow 2.21.0, Keras 3.15.1,
    2026-12-06"."""
    if cond.get("gpu"):
        device = cond["gpu"]
    else:
        arch = cond.get("arch", "x86_64").replace("_", "-")
        vendor = _vendor(cond.get("cpu") or "")
        device = f"{cond['cpus']}-core {vendor + ' ' if vendor else ''}{arch} CPU"
        if cond.get("avx512"):
            device += " (AVX-512)"
    names = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
    backend = backend or next((n for n in names if n in cond["versions"]), None)
    parts = [device]
    if backend in cond["versions"]:
        parts.append(f"{names[backend]} {cond['versions'][backend]}")
    if "keras" in cond["versions"]:
        parts.append(f"Keras {cond['versions']['keras']}")
    parts.append(cond["date"])
    return ", ".join(parts)


def here(backend):
    """`describe` of this machine now, running `backend`."""
    return describe(conditions(backend), backend)
