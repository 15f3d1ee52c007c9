"""What this CPU offers the engines: its model and instruction flags (``/proc/cpuinfo``)."""

from __future__ import annotations

import functools
import platform
from pathlib import Path

__all__ = ["cpu_flags", "cpu_has_int8", "cpu_model"]


@functools.cache
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def cpu_model() -> str:
    """The CPU's model name with its family, model and stepping (``AMD EPYC (26/2/1)``).

    Virtual machines often report a bare name (``AMD EPYC``) for several generations; the
    numbers tell them apart.
    """
    info = _cpuinfo()
    name = info.get("model name") or platform.processor() or platform.machine()
    numbers = "/".join(info[k] for k in ("cpu family", "model", "stepping") if k in info)
    return f"{name} ({numbers})" if numbers else name


def cpu_flags() -> frozenset[str]:
    """The CPU's instruction flags (``/proc/cpuinfo``; empty where unknown)."""
    return frozenset(_cpuinfo().get("flags", "").split())


def cpu_has_int8() -> bool:
    """Whether the CPU has instructions that make INT8 convolutions fast (VNNI or AMX).

    OpenVINO lists ``INT8`` on every x86 CPU (it emulates it without VNNI), so the CPU's
    own flags decide: AVX-512 VNNI, AVX-VNNI or AMX INT8.
    """
    return bool(cpu_flags() & {"avx512_vnni", "avx_vnni", "amx_int8"})
