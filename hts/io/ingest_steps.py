"""The steps of an ingest that touch files and the plate: scan, name, inspect, write, record.

An ingest is incremental and idempotent. The coordinator scans the folder, assigns files to
wells and time points, compares them with what the plate already holds, and decides the
plate's shape (:class:`IngestRun`); per-file tasks read headers and pixels and write one
chunk per image (:func:`inspect_files`, :func:`write_images`); the coordinator records
provenance (source path, size, mtime, SHA-256) as tasks finish, in batches of a few seconds
(:attr:`IngestOptions.records_every_s`), so a killed ingest loses at most the images in
flight and those of the last batch, and a re-run resumes. Running those tasks in parallel,
on Dask workers, is orchestration: :func:`hts.distributed.ingest.ingest`.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from hts.io import plan
from hts.io.ingest_report import IngestReport, Problem, ProblemKind
from hts.io.naming import NameFields, NamingError, choose_pattern, expected_names, parse_name
from hts.io.omezarr import PlateStore, pixels_sha256, write_image_chunk
from hts.io.plan import Candidate, Key
from hts.io.readers import (
    IMAGE_SUFFIXES,
    ImageHeader,
    ImageReadError,
    read_header,
    read_image,
)
from hts.io.tables import WellInfo, read_manifest, read_plate_map
from hts.wells import WellId

__all__ = [
    "IngestOptions",
    "IngestRun",
    "finish_report",
    "inspect_files",
    "remove_if_empty",
    "sha256_file",
    "write_images",
]

log = logging.getLogger(__name__)

_MAX_LOGGED = 20


@dataclass(frozen=True)
class IngestOptions:
    """How to read a folder. ``pattern`` is 'auto', a preset name or a regex."""

    pattern: str = "auto"
    manifest: Path | None = None
    plate_map: Path | None = None
    pixel_size_um: float | None = None
    plate_name: str | None = None
    treated_at: datetime | None = None
    #: Hash every already-ingested file, not only those whose size or mtime changed, and
    #: check every stored image against its record (re-writing damaged ones from the source).
    verify: bool = False
    #: Files written per task; None sizes tasks to the run (:func:`files_per_task`).
    files_per_task: int | None = None
    #: Provenance records are written in batches: the coordinator keeps finished tasks'
    #: records and writes each field's in one metadata write once ``records_every_s``
    #: seconds have passed since the last write or ``records_every_tasks`` tasks have
    #: finished, and always when the ingest ends or stops on an error. An ingest killed
    #: outright loses at most that window's records; a re-run writes those images again
    #: (the same pixels into the same chunks) and records them.
    records_every_s: float = 5.0
    records_every_tasks: int = 64
    #: Files whose header claims more pixels are refused before any is decoded.
    max_image_pixels: int = 100_000_000


def files_per_task(n_files: int, n_threads: int) -> int:
    """Files per write task: at least four tasks per worker thread, so that threads stay
    busy to the end, but 8-32 files each. Dask costs about half a millisecond of
    coordinator time per task, and a task holds one image at a time, so larger tasks
    only coarsen progress and retries (a retried task rewrites the same pixels)."""
    return max(8, min(32, n_files // (4 * max(1, n_threads))))


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- worker tasks (top-level so they pickle) ------------------------------------------------
def inspect_files(
    paths: Sequence[tuple[str, bool]],
) -> list[tuple[ImageHeader | None, str | None, str]]:
    """Per file: (header or None, sha256 if asked, error reason or '')."""
    out: list[tuple[ImageHeader | None, str | None, str]] = []
    for path_text, want_hash in paths:
        path = Path(path_text)
        try:
            header = read_header(path)
            digest = sha256_file(path) if want_hash else None
            out.append((header, digest, ""))
        except ImageReadError as exc:
            out.append((None, None, exc.reason))
        except OSError as exc:
            out.append((None, None, f"cannot read file ({exc.strerror or exc})"))
    return out


def write_images(
    jobs: Sequence[tuple[str, str, int, int, int]],
    *,
    plate_path: str,
    shape: tuple[int, int],
    dtype: str,
) -> list[tuple[dict[str, Any] | None, str]]:
    """Per job (path, well, field, t, size): (provenance record or None, error reason or '')."""
    out: list[tuple[dict[str, Any] | None, str]] = []
    for path_text, well_name, field_, t, _ in jobs:
        path = Path(path_text)
        try:
            data = read_image(path)
            pixels = data.pixels
            if pixels.shape != shape:
                raise ImageReadError(
                    path,
                    f"image is {pixels.shape[1]}x{pixels.shape[0]} px, not {shape[1]}x{shape[0]}",
                )
            if pixels.dtype != np.dtype(dtype):
                raise ImageReadError(
                    path, f"pixel type {pixels.dtype} differs from the plate's {dtype}"
                )
            write_image_chunk(plate_path, WellId.parse(well_name), field_, t, pixels)
            record = {"sha256": sha256_file(path), "pixels_sha256": pixels_sha256(pixels)}
            out.append(({**record, "conversion": data.conversion}, ""))
        except ImageReadError as exc:
            out.append((None, exc.reason))
        except OSError as exc:
            out.append((None, f"cannot read file ({exc.strerror or exc})"))
    return out


# --- the coordinator's state -------------------------------------------------------------
@dataclass
class IngestRun:
    """State of one ingest run in the coordinator: the files found, the problems met.

    Its methods are the coordinator's steps that need no cluster; the per-file work
    (:func:`inspect_files`, :func:`write_images`) runs wherever the caller sends it.
    """

    source: Path
    out: Path
    options: IngestOptions
    store: PlateStore
    problems: list[Problem] = field(default_factory=list)
    relpaths: dict[Path, str] = field(default_factory=dict)
    #: files written in this run: their SHA-256
    written: dict[Path, str] = field(default_factory=dict)

    def skip(self, path: Path | str, reason: str, kind: str = ProblemKind.SKIPPED) -> None:
        self.problems.append(Problem(self.relpaths.get(Path(path), str(path)), kind, reason))

    def scan(self) -> list[Path]:
        """Image files under the source (not inside the plate itself, not hidden)."""
        images = []
        for path in sorted(self.source.rglob("*")):
            if not path.is_file() or self.out in path.parents or path.name.startswith("."):
                continue
            self.relpaths[path] = path.relative_to(self.source).as_posix()
            if path.suffix.lower() in IMAGE_SUFFIXES:
                images.append(path)
            else:
                self.skip(path, "not an image file", ProblemKind.IGNORED)
        return images

    def assign(self, images: list[Path]) -> tuple[str, dict[Path, NameFields]]:
        """File names (or the manifest) -> wells, fields, time points."""
        parsed: dict[Path, NameFields] = {}
        if self.options.manifest is not None:
            listed = read_manifest(self.options.manifest, source=self.source)
            for path in images:
                if path in listed:
                    parsed[path] = listed[path]
                else:
                    self.skip(path, "not listed in the manifest")
            for path in sorted(set(listed) - set(images)):
                self.skip(path, "listed in the manifest but not found")
            return f"manifest {self.options.manifest}", parsed
        name, compiled = choose_pattern([self.relpaths[p] for p in images], self.options.pattern)
        for path in images:
            try:
                parsed[path] = parse_name(self.relpaths[path], compiled)
            except NamingError as exc:
                self.skip(path, f"{exc} ({expected_names(name)})")
        return name, parsed

    def plate_name(self, parsed: dict[Path, NameFields]) -> str:
        named = [f.plate for f in parsed.values() if f.plate]
        name = self.options.plate_name or self.store.name
        name = name or (plan.most_common(named) if named else self.source.name)
        for path, fields in list(parsed.items()):
            if fields.plate and fields.plate != name:
                self.skip(path, f"belongs to plate {fields.plate!r}, this plate is {name!r}")
                del parsed[path]
        return name

    def existing(self) -> dict[Key, dict[str, Any]]:
        """Provenance records of the images the plate already holds, by slot."""
        if not self.store.exists:
            return {}
        labels = {tp.index: tp.label for tp in self.store.timepoints}
        return {
            (well, field_, labels[t]): record
            for well, fields in self.store.fields.items()
            for field_ in fields
            for t, record in self.store.image_records(well, field_).items()
        }

    def geometry(
        self, new: list[Candidate], headers: dict[Path, ImageHeader]
    ) -> tuple[tuple[int, int], np.dtype] | None:
        """The plate's image shape and dtype: as stored, else those of most new files, as
        long as one of them decodes (its header alone can lie). Files that do not decode
        are reported and dropped from ``headers``."""
        if self.store.image_shape is not None and self.store.dtype is not None:
            return self.store.image_shape, self.store.dtype
        kinds = Counter((headers[c.path].shape, headers[c.path].dtype) for c in new)
        for (shape, dtype), _ in kinds.most_common():
            for cand in new:
                header = headers.get(cand.path)
                if header is None or (header.shape, header.dtype) != (shape, dtype):
                    continue
                try:
                    pixels = read_image(cand.path).pixels
                except ImageReadError as exc:
                    reason = exc.reason
                except OSError as exc:
                    reason = f"cannot read file ({exc.strerror or exc})"
                else:
                    if pixels.shape == shape and pixels.dtype == dtype:
                        return shape, dtype
                    reason = f"decodes to {pixels.shape} {pixels.dtype}, its header says {shape}"
                self.skip(cand.path, reason)
                del headers[cand.path]
        return None

    def damaged(self) -> dict[Key, tuple[str, dict[str, Any]]]:
        """Stored images that are missing, undecodable or not as ingested: (why, record)."""
        from hts.io.verify import check_stored_image, stored_images

        if not self.store.exists:
            return {}
        labels = {tp.index: tp.label for tp in self.store.timepoints}
        images = list(stored_images(self.store))
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="hts-verify") as pool:
            reasons = list(pool.map(lambda im: check_stored_image(self.store, im), images))
        return {
            (im.well, im.field, labels[im.t]): (reason, im.record)
            for im, reason in zip(images, reasons, strict=True)
            if reason
        }

    def report_repairs(
        self, damaged: Mapping[Key, tuple[str, dict[str, Any]]], slots: Mapping[Key, Candidate]
    ) -> None:
        """Each damaged image: re-written from its source (a warning), or still damaged."""
        for key, (reason, record) in damaged.items():
            cand = slots.get(key)
            if cand is not None and cand.path in self.written:
                note = (
                    ""
                    if self.written[cand.path] == record.get("sha256")
                    else "; the source file changed since its first ingest, so the plate "
                    "now holds its new content"
                )
                self.skip(
                    cand.path, f"{reason}: re-written from the source{note}", ProblemKind.WARNING
                )
            else:
                self.skip(
                    str(record.get("source")),
                    f"{reason}; not repaired: no readable source file for it in {self.source}",
                    ProblemKind.DAMAGED,
                )

    def well_info(
        self, plate_name: str
    ) -> tuple[dict[WellId, WellInfo], dict[WellId, Mapping[str, Any]]]:
        """(this run's plate map, merged per-well metadata to store)."""
        plate_map = (
            read_plate_map(self.options.plate_map, plate=plate_name)
            if self.options.plate_map
            else {}
        )
        merged: dict[WellId, Mapping[str, Any]] = dict(self.store.well_info)
        merged.update({well: info.to_json() for well, info in plate_map.items()})
        return plate_map, merged


def remove_if_empty(out: Path) -> None:
    """Remove a plate this run created if it holds no image: nothing half made is left."""
    store = PlateStore(out, mode="a")
    if any(store.image_records(w, f) for w, fields in store.fields.items() for f in fields):
        return
    shutil.rmtree(out)
    log.info("%s: no image ingested, no plate written", out)


def finish_report(
    store: PlateStore, problems: list[Problem], *, n_new: int, **fields: Any
) -> IngestReport:
    """The run's report: stored in the plate (when there is one) and logged."""
    report = IngestReport(
        n_new=n_new,
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        problems=tuple(sorted(problems, key=lambda p: (p.kind, p.path))),
        **fields,
    )
    if store.exists:
        store.append_ingest_run(report.to_json())
    shown = [p for p in report.problems if p.kind != ProblemKind.IGNORED]
    for problem in shown[:_MAX_LOGGED]:
        log.warning("%s: %s (%s)", problem.path, problem.reason, problem.kind)
    if len(shown) > _MAX_LOGGED:
        log.warning("... and %d more problems: see the ingest report", len(shown) - _MAX_LOGGED)
    log.info(report.summary())
    return report
