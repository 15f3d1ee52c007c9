"""Checking a whole plate against its provenance records and its source files.

Every image the plate records must be stored (its chunk present and decodable), match the
pixel checksum recorded at ingest, and come from a source file that is still there with
the SHA-256 recorded at ingest. Images ingested before pixel checksums were recorded are
counted as unverified, not as fine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hts.io.ingest_report import Problem, ProblemKind
from hts.io.ingest_steps import sha256_file
from hts.io.omezarr import DamagedImageError, PlateStore
from hts.wells import WellId

__all__ = ["PlateCheck", "StoredImage", "check_stored_image", "stored_images", "verify_plate"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredImage:
    """One image the plate's provenance records: its slot and its record."""

    well: WellId
    field: int
    t: int
    record: dict[str, Any]

    @property
    def source(self) -> str:
        return str(self.record.get("source", ""))


@dataclass(frozen=True)
class PlateCheck:
    """What :func:`verify_plate` found; ``problems`` name each file and what is wrong."""

    plate: str
    n_images: int
    n_unverified: int
    n_sources_checked: int
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """A few human-readable lines."""
        damaged = sum(1 for p in self.problems if p.kind == ProblemKind.DAMAGED)
        sources = len(self.problems) - damaged
        lines = [
            f"plate {self.plate}: {self.n_images} images recorded, {damaged} damaged; "
            f"{self.n_sources_checked} source files checked, {sources} missing or changed"
        ]
        if self.n_unverified:
            lines.append(
                f"{self.n_unverified} images have no pixel checksum (ingested by an older hts): "
                "their pixels were checked to be present and decodable, not verified"
            )
        return "\n".join(lines)


def stored_images(plate: PlateStore) -> Iterator[StoredImage]:
    """Every image the plate's provenance records, in plate order."""
    for well, fields in sorted(plate.fields.items()):
        for field_ in fields:
            for t, record in sorted(plate.image_records(well, field_).items()):
                yield StoredImage(well, field_, t, record)


def check_stored_image(plate: PlateStore, image: StoredImage) -> str:
    """Why the stored pixels of ``image`` are not as ingested, or '' when they are."""
    try:
        plate.read_image(image.well, image.field, image.t, verify=True)
    except DamagedImageError as exc:
        return str(exc)
    return ""


def _check_source(image: StoredImage, roots: list[Path]) -> str:
    """Why the source file of ``image`` is not as ingested, or '' when it is."""
    candidates = [root / image.source for root in roots]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        where = " or ".join(str(root) for root in roots) or "no source folder known"
        return f"source file not found (looked in {where})"
    try:
        digest = sha256_file(found)
    except OSError as exc:
        return f"source file {found} cannot be read ({exc.strerror or exc})"
    if digest != image.record.get("sha256"):
        return f"source file {found} changed since it was ingested (SHA-256 differs)"
    return ""


def _source_roots(plate: PlateStore, source: Path | str | None) -> list[Path]:
    if source is not None:
        return [Path(source)]
    roots: list[Path] = []
    for run in reversed(plate.ingest_runs):  # newest first
        root = Path(str(run.get("source", "")))
        if run.get("source") and root not in roots:
            roots.append(root)
    return roots


def verify_plate(
    plate_path: Path | str,
    *,
    source: Path | str | None = None,
    check_sources: bool = True,
    threads: int = 4,
    progress: Callable[[int], None] | None = None,
) -> PlateCheck:
    """Check every recorded image of a plate: stored pixels, and the source files.

    Parameters
    ----------
    plate_path
        OME-Zarr plate written by ``hts ingest``.
    source
        Folder the images were ingested from (default: the folders of the plate's ingest
        runs, newest first).
    check_sources
        Also hash each source file and compare it with the SHA-256 recorded at ingest.
    threads
        Images checked at once.
    progress
        Called with the number of images just checked.
    """
    plate = PlateStore(plate_path)
    images = list(stored_images(plate))
    roots = _source_roots(plate, source)

    def check(image: StoredImage) -> list[Problem]:
        out = []
        reason = check_stored_image(plate, image)
        if reason:
            out.append(Problem(image.source, ProblemKind.DAMAGED, reason))
        if check_sources:
            reason = _check_source(image, roots)
            if reason:
                out.append(Problem(image.source, ProblemKind.SOURCE, reason))
        return out

    problems: list[Problem] = []
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="hts-verify") as pool:
        for found in pool.map(check, images):
            problems += found
            if progress is not None:
                progress(1)
    report = PlateCheck(
        plate=plate.name or plate.path.name,
        n_images=len(images),
        n_unverified=sum(1 for im in images if "pixels_sha256" not in im.record),
        n_sources_checked=len(images) if check_sources else 0,
        problems=tuple(sorted(problems, key=lambda p: (p.kind, p.path))),
    )
    for problem in report.problems:
        log.warning("%s: %s (%s)", problem.path, problem.reason, problem.kind)
    return report
