"""What every benchmark script shares: the command line, the machine line and its own
section of docs/benchmarks.md.

Each script owns the part of docs/benchmarks.md between its marker comments
(`<!-- NAME:start -->` … `<!-- NAME:end -->`), replaces it on every run and leaves the rest.
"""
from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import torch

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def bench_args(description: str, repeats: int = 31) -> tuple[argparse.Namespace, torch.device]:
    """The common command line (--device, --threads, --repeats of interleaved rounds,
    --no-write), parsed, with torch's thread count set."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--no-write", action="store_true", help="print the section, leave docs/ alone")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    return args, torch.device(args.device)


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def machine(device: torch.device = torch.device("cpu")) -> str:
    """The GPU's name, or the CPU model and its logical CPU count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
             if line.startswith("model name")] if cpuinfo.exists() else []
    return f"{names[0] if names else platform.machine()}, {os.cpu_count()} logical CPUs"


def load_average() -> str:
    """The 1-minute load average as the run starts: on a shared machine absolute times move
    with it, the side-by-side ratios much less."""
    return f"load average {os.getloadavg()[0]:.1f} at the start" if hasattr(os, "getloadavg") else "load unknown"


def write_section(name: str, section: str) -> None:
    """Replace the section between `name`'s markers (or append it); `section` includes them."""
    start, end = markers(name)
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)


def publish(name: str, section: str, write: bool) -> None:
    """Print the section; unless `--no-write`, put it in docs/benchmarks.md too."""
    print(section)
    if write:
        write_section(name, section)
