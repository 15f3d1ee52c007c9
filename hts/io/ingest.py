"""Ingest a folder of microscope images into an OME-Zarr plate: incremental and idempotent.

The coordinator (this module, in the calling process) scans the folder, assigns files to
wells and time points, compares them with what the plate already holds, and decides the
plate's shape. Dask workers then read headers and pixels in parallel and write one chunk
per image; the coordinator records provenance (source path, size, mtime, SHA-256) as tasks
finish, so a killed ingest loses at most the images in flight and a re-run resumes.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from hts.distributed.cluster import ClusterSpec, dask_client, map_bounded
from hts.io import plan
from hts.io.lock import StoreLock
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
from hts.io.report import IngestReport, Problem, ProblemKind
from hts.io.tables import WellInfo, read_manifest, read_plate_map
from hts.wells import WellId

__all__ = ["IngestOptions", "ingest"]

log = logging.getLogger(__name__)

_MAX_LOGGED = 20
#: Files per header-inspection task (headers are small; batches amortise task overhead).
_FILES_PER_INSPECTION = 32


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
    files_per_task: int = 8
    #: Files whose header claims more pixels are refused before any is decoded.
    max_image_pixels: int = 100_000_000


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- worker tasks (top-level so they pickle) ------------------------------------------------
def _inspect_task(
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


def _write_task(
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


# --- coordinator ----------------------------------------------------------------------------
def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass
class _Ingest:
    """State of one ingest run in the coordinator."""

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

    def inspect(
        self, client: Any, new: list[Candidate], to_hash: list[Candidate]
    ) -> tuple[dict[Path, ImageHeader], dict[Path, str]]:
        """Read headers of new files and hash possibly changed ones, in parallel."""
        headers: dict[Path, ImageHeader] = {}
        hashes: dict[Path, str] = {}

        def on_result(batch: Sequence[tuple[str, bool]], result: Any, error: Any) -> None:
            for i, (path_text, _) in enumerate(batch):
                path = Path(path_text)
                if error is not None:
                    self.skip(path, f"inspection failed: {error}")
                    continue
                header, digest, reason = result[i]
                if reason:
                    self.skip(path, reason)
                if header is not None:
                    headers[path] = header
                if digest is not None:
                    hashes[path] = digest

        jobs = [(str(c.path), False) for c in new] + [(str(c.path), True) for c in to_hash]
        map_bounded(
            client, _inspect_task, _chunks(jobs, _FILES_PER_INSPECTION), on_result=on_result
        )
        return headers, hashes

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


def ingest(
    source: Path | str,
    out: Path | str,
    *,
    options: IngestOptions | None = None,
    cluster: ClusterSpec | None = None,
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Ingest every image under ``source`` into the OME-Zarr plate ``out``.

    Files already in the plate are left alone; new files add their images and time
    points; bad files are reported in the returned report (also stored in the plate) and
    the rest are ingested.

    Parameters
    ----------
    source
        Folder searched recursively for TIFF, PNG and JPEG files.
    out
        Plate path (``.zarr``), created if missing.
    cluster
        Dask workers; by default a local cluster of threads (ingest is I/O-bound).
    progress
        Called with the number of files just finished.

    Raises
    ------
    StoreLocked
        Another ingest is writing the plate (its lock file ``out.lock`` names it).
    ValueError
        No image file in ``source``, or no naming preset fits them. A plate this call
        created is removed again when it ends holding no image.
    """
    options = options or IngestOptions()
    source, out = Path(source).resolve(), Path(out).resolve()
    if not source.is_dir():
        raise NotADirectoryError(f"{source}: source folder does not exist")
    with StoreLock(out):  # one writer per plate: two ingests would both add the same files
        created = not out.exists()
        try:
            report = _ingest(source, out, options, cluster, progress)
        except BaseException:
            if created:
                try:
                    _remove_if_empty(out)
                except Exception as exc:  # noqa: BLE001 - the first error is the one to show
                    log.warning("%s: could not check whether to remove it: %s", out, exc)
            raise
        if created:
            _remove_if_empty(out)
        return report


def _remove_if_empty(out: Path) -> None:
    """Remove a plate this run created if it holds no image: nothing half made is left."""
    store = PlateStore(out, mode="a")
    if any(store.image_records(w, f) for w, fields in store.fields.items() for f in fields):
        return
    shutil.rmtree(out)
    log.info("%s: no image ingested, no plate written", out)


def _ingest(
    source: Path,
    out: Path,
    options: IngestOptions,
    cluster: ClusterSpec | None,
    progress: Callable[[int], None] | None,
) -> IngestReport:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    run = _Ingest(source, out, options, PlateStore(out, mode="a"))
    images = run.scan()
    if not images and options.manifest is None:
        suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
        raise ValueError(
            f"{source}: no image files found (looked for {suffixes} in it and its subfolders; "
            f"{len(run.problems)} other files left alone)"
        )
    pattern_name, parsed = run.assign(images)
    plate_name = run.plate_name(parsed)
    candidates = []
    for path, fields in parsed.items():
        stat = path.stat()
        candidates.append(
            Candidate(path, run.relpaths[path], fields, stat.st_size, stat.st_mtime_ns)
        )
    slots, duplicates = plan.group_by_slot(candidates)
    run.problems += duplicates
    existing = run.existing()
    # --verify also checks the stored pixels; damaged images are re-written from the source
    damaged = run.damaged() if options.verify else {}
    for key in damaged:
        existing.pop(key)
    new, to_hash, n_unchanged = plan.compare_with_plate(slots, existing, verify=options.verify)

    def finish(n_new: int) -> IngestReport:
        run.report_repairs(damaged, slots)
        return _finish(
            run.store, run.problems, n_new=n_new, plate=plate_name, source=str(source),
            pattern=pattern_name, started_at=started, n_files=len(images), n_unchanged=n_unchanged,
        )  # fmt: skip

    with dask_client(
        cluster or ClusterSpec(n_workers=1, threads_per_worker=4, processes=False)
    ) as client:
        headers, hashes = run.inspect(client, new, to_hash)
        for cand in to_hash:
            if cand.path not in hashes:
                continue  # unreadable now: already reported
            record = existing[cand.key]
            if hashes[cand.path] == record.get("sha256"):
                n_unchanged += 1
            else:
                run.skip(cand.path, plan.changed_reason(cand, record), ProblemKind.CHANGED)
        new = [c for c in new if c.path in headers]
        for cand in new:
            reason = plan.check_size(headers[cand.path], max_pixels=options.max_image_pixels)
            if reason:
                run.skip(cand.path, reason)
                del headers[cand.path]
        new = [c for c in new if c.path in headers]
        geometry = run.geometry(new, headers)
        if geometry is None:
            return finish(0)
        shape, dtype = geometry
        new = [c for c in new if c.path in headers]
        pixel_size = plan.plate_pixel_size(
            run.store.pixel_size_um, options.pixel_size_um, [headers[c.path] for c in new]
        )
        accepted = []
        for cand in new:
            reason = plan.check_header(
                headers[cand.path], shape=shape, dtype=dtype, pixel_size_um=pixel_size,
                pixel_size_given=options.pixel_size_um is not None,
            )  # fmt: skip
            if reason:
                run.skip(cand.path, reason)
            else:
                accepted.append(cand)
        if pixel_size is None and accepted:
            pixel_size = plan.most_common([headers[c.path].pixel_size_um for c in accepted])
        if not accepted or pixel_size is None:
            return finish(0)

        # time points and per-well metadata, then the plate's structure
        plate_map, well_info = run.well_info(plate_name)
        timing: dict[Path, tuple[float | None, datetime | None]] = {}
        for cand in accepted:
            well = cand.fields.well
            if options.plate_map and well not in plate_map and well not in well_info:
                run.skip(
                    cand.path,
                    f"well {well} is not in the plate map: no treatment metadata",
                    ProblemKind.WARNING,
                )
            stored = WellInfo.from_json(dict(well_info[well])) if well in well_info else None
            treated = (stored.treated_at if stored else None) or options.treated_at
            acquired = cand.fields.acquired_at or headers[cand.path].acquired_at
            timing[cand.path] = (
                plan.time_since_treatment_h(cand.fields, acquired, treated),
                acquired,
            )
        timepoints = plan.extend_timepoints(
            run.store.timepoints,
            [(c.fields.timepoint, *timing[c.path]) for c in accepted],
        )
        fields_map: dict[WellId, set[int]] = defaultdict(set)
        for well, stored_fields in run.store.fields.items():
            fields_map[well].update(stored_fields)
        for cand in accepted:
            fields_map[cand.fields.well].add(cand.fields.field)
        for well in sorted(set(plate_map) - set(fields_map)):
            run.skip(
                str(options.plate_map),
                f"the plate map lists well {well}, but no image of it was found",
                ProblemKind.WARNING,
            )
        run.store.set_plate(
            name=plate_name, image_shape=shape, dtype=dtype, pixel_size_um=float(pixel_size),
            timepoints=timepoints, fields=fields_map, well_info=well_info,
        )  # fmt: skip
        index = {tp.label: tp.index for tp in timepoints}
        n_new = _write(
            run,
            client,
            accepted,
            index,
            timing,
            shape=shape,
            dtype=np.dtype(dtype),
            progress=progress,
        )
    return finish(n_new)


def _write(
    run: _Ingest,
    client: Any,
    accepted: list[Candidate],
    index: Mapping[str, int],
    timing: Mapping[Path, tuple[float | None, datetime | None]],
    *,
    shape: tuple[int, int],
    dtype: np.dtype,
    progress: Callable[[int], None] | None,
) -> int:
    """Write pixels in parallel; record provenance as each task finishes. Returns images written."""
    by_path = {str(c.path): c for c in accepted}
    jobs = [
        (str(c.path), c.fields.well.name, c.fields.field, index[c.fields.timepoint], c.size)
        for c in accepted
    ]
    ingested_at = datetime.now(UTC).isoformat(timespec="seconds")
    written = 0

    def on_result(batch: Sequence[tuple[str, str, int, int, int]], result: Any, error: Any) -> None:
        nonlocal written
        records: dict[tuple[WellId, int], dict[int, dict[str, Any]]] = defaultdict(dict)
        for i, (path_text, well_name, field_, t, _) in enumerate(batch):
            cand = by_path[path_text]
            record, reason = (None, f"write failed: {error}") if error is not None else result[i]
            if record is None:
                run.skip(cand.path, reason)
                continue
            time_h, acquired = timing[cand.path]
            record.update(
                source=cand.relpath, size=cand.size, mtime_ns=cand.mtime_ns, time_h=time_h,
                acquired_at=acquired.isoformat() if acquired else None,
                source_dtype=dtype.name, ingested_at=ingested_at,
            )  # fmt: skip
            records[(WellId.parse(well_name), field_)][t] = record
            run.written[cand.path] = str(record["sha256"])
            written += 1
        for (well, field_), recs in records.items():
            run.store.add_image_records(well, field_, recs)
        if progress is not None:
            progress(len(batch))

    map_bounded(
        client, _write_task, _chunks(jobs, run.options.files_per_task), on_result=on_result,
        plate_path=str(run.out), shape=shape, dtype=dtype.name,
    )  # fmt: skip
    return written


def _finish(
    store: PlateStore, problems: list[Problem], *, n_new: int, **fields: Any
) -> IngestReport:
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
