"""Which CPU a latency figure was measured on: model, cores and the SIMD that sets INT8 speed.

    cpu = this_cpu()       # CpuInfo(model="Intel(R) Xeon(R) ...", cores=2, simd=("avx2", ...))
    cpu.describe()         # "Intel(R) Xeon(R) Processor @ 2.80GHz, 2 cores, AVX2 AVX512F ..."

INT8 pays only where the CPU has fast integer vector paths (docs/ARCHITECTURE.md, "Measured
facts"): on an AVX2-only EPYC the demo detector's INT8 model ran 1.3x slower than FP32, on
AVX-512 0.62x, and on a Pi NEON dot products make it pay. So every latency figure carries
this, and a figure taken on a workstation says it is not the Pi's.
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CPUINFO = Path("/proc/cpuinfo")
DEVICE_TREE_MODEL = Path("/proc/device-tree/model")  # "Raspberry Pi 5 Model B Rev 1.0"

# Lines that name the CPU or board, best first.
NAME_KEYS = ("model name", "model", "hardware")

# The flags that decide integer (and float) kernel speed, as /proc/cpuinfo spells them.
SIMD_FLAGS = (
    "sse4_2", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8",
    "neon", "asimd", "asimddp", "i8mm", "sve",
)  # fmt: skip


@dataclass(frozen=True)
class CpuInfo:
    model: str
    """The CPU (or board) name, e.g. "Intel(R) Xeon(R) Processor @ 2.80GHz"."""
    machine: str
    """The architecture, e.g. "x86_64" or "aarch64"."""
    cores: int
    """Cores this process may run on."""
    simd: tuple[str, ...]
    """Which SIMD_FLAGS the CPU has, lower case as /proc/cpuinfo lists them."""

    @property
    def is_raspberry_pi(self) -> bool:
        return self.model.startswith("Raspberry Pi")

    def describe(self) -> str:
        simd = " ".join(flag.upper() for flag in self.simd) or "no SIMD flags read"
        return f"{self.model}, {self.cores} cores, {self.machine}, {simd}"

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> CpuInfo:
        """Back from to_json(), as pisight.json and `pisight bench --json` record it."""
        return cls(document["model"], document["machine"], document["cores"],
                   tuple(document["simd"]))  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "machine": self.machine, "cores": self.cores,
                "simd": list(self.simd)}  # fmt: skip


def parse_cpuinfo(text: str) -> tuple[str | None, set[str]]:
    """(name, flags) from /proc/cpuinfo: x86 "model name"/"flags", ARM "Model"/"Features".

    x86 also has a numeric "model" line (the family's model number), so names are taken
    by priority and numbers are not names.
    """
    names: dict[str, str] = {}
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key in NAME_KEYS and value and not value.isdigit():
            names.setdefault(key, value)
        elif key in ("flags", "features"):
            flags |= set(value.split())
    return next((names[key] for key in NAME_KEYS if key in names), None), flags


def measured_on(cpu: CpuInfo) -> str:
    """One line for a latency figure: where it was measured, and that it is not a Pi's."""
    line = f"latency measured on {cpu.describe()}"
    if not cpu.is_raspberry_pi:
        line += "; not a Raspberry Pi: run `pisight bench` on the Pi for its own figure"
    return line


@functools.cache
def this_cpu() -> CpuInfo:
    """The CPU this process runs on (read once)."""
    try:
        model, flags = parse_cpuinfo(CPUINFO.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        model, flags = None, set()
    try:  # a Pi names its board here; its cpuinfo has no model name on 64-bit kernels
        board = DEVICE_TREE_MODEL.read_text(encoding="utf-8", errors="replace").strip("\0\n ")
    except OSError:
        board = ""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return CpuInfo(
        model=board or model or platform.processor() or "unknown CPU",
        machine=platform.machine(),
        cores=cores or 1,
        simd=tuple(flag for flag in SIMD_FLAGS if flag in flags),
    )
