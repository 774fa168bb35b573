"""Choosing where the network runs: CUDA, Apple MPS or the CPU."""

from __future__ import annotations

import torch


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> list[str]:
    """Devices usable here, best first, e.g. ``["cuda:0", "cpu"]``."""
    found = [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        found.append("mps")
    found.append("cpu")
    return found


def resolve_device(requested: str = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"`` into a device.

    ``"auto"`` picks CUDA, then Apple MPS, then the CPU. Asking for a device that
    is not there raises a ``RuntimeError`` that says what is available.
    """
    req = (requested or "auto").strip().lower()
    if req == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if req == "cpu":
        return torch.device("cpu")
    if req.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(
                "A CUDA GPU was requested but none is usable here (no NVIDIA GPU, or this "
                "PyTorch was built for the CPU only). Use device 'auto' or 'cpu', or install "
                "a CUDA build of PyTorch (see the installation guide)."
            )
        dev = torch.device(req)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"GPU {dev.index} was requested but only {torch.cuda.device_count()} "
                "CUDA device(s) exist."
            )
        return dev
    if req == "mps":
        if not _mps_available():
            raise RuntimeError(
                "Apple's MPS GPU was requested but is not available (it needs an Apple "
                "silicon Mac and macOS 12.3+). Use device 'auto' or 'cpu'."
            )
        return torch.device("mps")
    raise RuntimeError(f"Unknown device {requested!r}: use 'auto', 'cpu', 'cuda' or 'mps'.")


def describe_device(device: torch.device) -> str:
    """Plain description such as ``"CPU (2 threads)"`` or ``"CUDA GPU 0: NVIDIA H100"``."""
    if device.type == "cuda":
        idx = device.index if device.index is not None else torch.cuda.current_device()
        return f"CUDA GPU {idx}: {torch.cuda.get_device_name(idx)}"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    n = torch.get_num_threads()
    return f"CPU ({n} thread{'' if n == 1 else 's'})"


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether an exception is an accelerator (or CPU allocator) out-of-memory error."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, (RuntimeError, MemoryError)) and (
        "out of memory" in text or isinstance(exc, MemoryError)
    )


def free_accelerator_memory(device: torch.device) -> None:
    """Hand cached accelerator memory back after a run."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()
