"""Planning an ingest: pure decisions about which files go where, without touching disk.

Each function takes what the coordinator has gathered (names, stats, headers, the plate's
current state) and returns decisions plus :class:`~hts.io.ingest_report.Problem` records for the
files it turned away.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from hts.io.ingest_report import Problem, ProblemKind
from hts.io.naming import NameFields
from hts.io.omezarr import TimepointInfo
from hts.io.readers import ImageHeader
from hts.wells import WellId

__all__ = [
    "Candidate",
    "Key",
    "check_header",
    "check_size",
    "compare_with_plate",
    "extend_timepoints",
    "group_by_slot",
    "most_common",
    "time_since_treatment_h",
]

Key = tuple[WellId, int, str]  # well, field, time point label
#: Relative tolerance when comparing a file's pixel size with the plate's.
PIXEL_SIZE_RTOL = 0.01


@dataclass(frozen=True)
class Candidate:
    """An image file assigned to a slot (well, field, time point), with its stat."""

    path: Path
    relpath: str
    fields: NameFields
    size: int
    mtime_ns: int

    @property
    def key(self) -> Key:
        return (self.fields.well, self.fields.field, self.fields.timepoint)


def most_common(values: list[Any]) -> Any:
    return Counter(values).most_common(1)[0][0]


def group_by_slot(candidates: list[Candidate]) -> tuple[dict[Key, Candidate], list[Problem]]:
    """One candidate per slot; every file of a slot claimed twice is turned away."""
    by_key: dict[Key, list[Candidate]] = defaultdict(list)
    for cand in candidates:
        by_key[cand.key].append(cand)
    out: dict[Key, Candidate] = {}
    problems: list[Problem] = []
    for key, cands in by_key.items():
        if len(cands) == 1:
            out[key] = cands[0]
            continue
        names = ", ".join(c.relpath for c in cands)
        reason = f"several files for well {key[0]} field {key[1]} time point {key[2]}: {names}"
        problems += [Problem(c.relpath, ProblemKind.SKIPPED, reason) for c in cands]
    return out, problems


def compare_with_plate(
    candidates: Mapping[Key, Candidate],
    existing: Mapping[Key, Mapping[str, Any]],
    *,
    verify: bool,
) -> tuple[list[Candidate], list[Candidate], int]:
    """Split candidates into (new, to hash, unchanged count).

    A file already ingested from the same path with the same size and mtime is taken as
    unchanged without reading it (as rsync does), unless ``verify``; any other file for a
    filled slot must be hashed to tell "identical" from "changed".
    """
    new: list[Candidate] = []
    to_hash: list[Candidate] = []
    unchanged = 0
    for key, cand in candidates.items():
        record = existing.get(key)
        if record is None:
            new.append(cand)
        elif (
            not verify
            and record.get("source") == cand.relpath
            and record.get("size") == cand.size
            and record.get("mtime_ns") == cand.mtime_ns
        ):
            unchanged += 1
        else:
            to_hash.append(cand)
    return new, to_hash, unchanged


def changed_reason(cand: Candidate, record: Mapping[str, Any]) -> str:
    if record.get("source") == cand.relpath:
        return (
            "content changed since it was ingested (SHA-256 differs); the ingested version is kept"
        )
    return (
        f"differs from {record.get('source')!r}, already ingested for this well, field and "
        "time point"
    )


def check_size(header: ImageHeader, *, max_pixels: int) -> str:
    """Why a file's header claims an absurd image size, or '' when it does not."""
    height, width = header.shape
    if height * width <= max_pixels:
        return ""
    return (
        f"header claims {width}x{height} px ({height * width / 1e6:.0f} megapixels), more "
        f"than the limit of {max_pixels / 1e6:g} megapixels (--max-image-pixels): not read"
    )


def check_header(
    header: ImageHeader,
    *,
    shape: tuple[int, int],
    dtype: np.dtype,
    pixel_size_um: float | None,
    pixel_size_given: bool,
) -> str:
    """Why a file's header does not fit the plate, or '' when it does."""
    if header.shape != shape:
        return (
            f"image is {header.shape[1]}x{header.shape[0]} px; "
            f"plate images are {shape[1]}x{shape[0]}"
        )
    if header.dtype != dtype:
        return f"pixel type {header.dtype} differs from the plate's {dtype}"
    if pixel_size_um is None and header.pixel_size_um is None:
        return "no pixel size in the file's metadata; pass --pixel-size-um"
    if (
        not pixel_size_given
        and pixel_size_um is not None
        and header.pixel_size_um is not None
        and abs(header.pixel_size_um - pixel_size_um) > PIXEL_SIZE_RTOL * pixel_size_um
    ):
        return (
            f"pixel size {header.pixel_size_um:.4g} um differs from the plate's "
            f"{pixel_size_um:.4g} um"
        )
    return ""


def plate_pixel_size(
    stored: float | None, given: float | None, headers: list[ImageHeader]
) -> float | None:
    """The plate's pixel size: given on the command line, else stored, else most files'."""
    if given is not None:
        if stored is not None and abs(stored - given) > PIXEL_SIZE_RTOL * stored:
            raise ValueError(f"--pixel-size-um {given} differs from the plate's {stored} um")
        return given
    if stored is not None:
        return stored
    known = [h.pixel_size_um for h in headers if h.pixel_size_um is not None]
    return most_common(known) if known else None


def time_since_treatment_h(
    fields: NameFields, acquired: datetime | None, treated: datetime | None
) -> float | None:
    """Hours since treatment: from the name if it says, else acquisition - treatment time."""
    if fields.time_h is not None:
        return fields.time_h
    if acquired is not None and treated is not None:
        return (acquired - treated).total_seconds() / 3600.0
    return None


def extend_timepoints(
    existing: list[TimepointInfo],
    timed: list[tuple[str, float | None, datetime | None]],
) -> list[TimepointInfo]:
    """Keep existing time points' indices; append new labels ordered by time.

    ``timed`` holds ``(label, time since treatment h, acquired at)`` per new image; a time
    point's time is the median over its images, its timestamp the earliest.
    """
    known = {tp.label for tp in existing}
    times: dict[str, list[float]] = defaultdict(list)
    stamps: dict[str, list[datetime]] = defaultdict(list)
    for label, time_h, acquired in timed:
        if time_h is not None:
            times[label].append(time_h)
        if acquired is not None:
            stamps[label].append(acquired)

    def median(label: str) -> float | None:
        return statistics.median(times[label]) if times[label] else None

    def first(label: str) -> str | None:
        return min(stamps[label]).isoformat() if stamps[label] else None

    def order(label: str) -> tuple[float, str, str]:
        t = median(label)
        return (float("inf") if t is None else t, first(label) or "", label.zfill(12))

    out = list(existing)
    for label in sorted({label for label, _, _ in timed} - known, key=order):
        out.append(TimepointInfo(len(out), label, median(label), first(label)))
    # a time point stored without a time may get one now
    return [replace(tp, time_h=median(tp.label)) if tp.time_h is None else tp for tp in out]
