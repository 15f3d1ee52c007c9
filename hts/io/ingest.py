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
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from hts.distributed.cluster import ClusterSpec, dask_client, map_bounded
from hts.io.naming import NameFields, NamingError, choose_pattern, parse_name
from hts.io.omezarr import PlateStore, TimepointInfo, write_image_chunk
from hts.io.readers import IMAGE_SUFFIXES, ImageHeader, ImageReadError, read_header, read_image
from hts.io.report import IngestReport, Problem, ProblemKind
from hts.io.tables import WellInfo, read_manifest, read_plate_map
from hts.wells import WellId

__all__ = ["IngestOptions", "ingest"]

log = logging.getLogger(__name__)

Key = tuple[WellId, int, str]  # well, field, time point label
_PIXEL_SIZE_RTOL = 0.01
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
    #: Hash every already-ingested file, not only those whose size or mtime changed.
    verify: bool = False
    files_per_task: int = 8


@dataclass(frozen=True)
class _Candidate:
    path: Path
    relpath: str
    fields: NameFields
    size: int
    mtime_ns: int


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- worker tasks (top-level so they pickle) ------------------------------------------------
def _inspect_task(paths: Sequence[tuple[str, bool]]) -> list[tuple[ImageHeader | None, str | None, str]]:
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
    for path_text, well_name, field, t, _ in jobs:
        path = Path(path_text)
        try:
            data = read_image(path)
            pixels = data.pixels
            if pixels.shape != shape:
                raise ImageReadError(path, f"image is {pixels.shape[1]}x{pixels.shape[0]} px; plate images are {shape[1]}x{shape[0]}")
            if pixels.dtype != np.dtype(dtype):
                raise ImageReadError(path, f"pixel type {pixels.dtype} differs from the plate's {dtype}")
            write_image_chunk(plate_path, WellId.parse(well_name), field, t, pixels)
            out.append(({"sha256": sha256_file(path), "conversion": data.conversion}, ""))
        except ImageReadError as exc:
            out.append((None, exc.reason))
        except OSError as exc:
            out.append((None, f"cannot read file ({exc.strerror or exc})"))
    return out


# --- coordinator ----------------------------------------------------------------------------
def _scan(source: Path, exclude: Path) -> tuple[list[Path], list[Path]]:
    images, others = [], []
    for path in sorted(source.rglob("*")):
        if not path.is_file() or exclude in path.parents or path.name.startswith("."):
            continue
        (images if path.suffix.lower() in IMAGE_SUFFIXES else others).append(path)
    return images, others


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _most_common(values: list[Any]) -> Any:
    return Counter(values).most_common(1)[0][0]


def _time_h(fields: NameFields, acquired: datetime | None, treated: datetime | None) -> float | None:
    if fields.time_h is not None:
        return fields.time_h
    if acquired is not None and treated is not None:
        return (acquired - treated).total_seconds() / 3600.0
    return None


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
    """
    options = options or IngestOptions()
    source, out = Path(source).resolve(), Path(out).resolve()
    if not source.is_dir():
        raise NotADirectoryError(f"{source}: source folder does not exist")
    started = datetime.now(UTC).isoformat(timespec="seconds")
    problems: list[Problem] = []
    image_files, other_files = _scan(source, out)
    problems += [Problem(str(p.relative_to(source)), ProblemKind.IGNORED, "not an image file") for p in other_files]

    # 1. names -> wells, fields, time points
    relpaths = {p: p.relative_to(source).as_posix() for p in image_files}
    parsed: dict[Path, NameFields] = {}
    if options.manifest is not None:
        pattern_name = f"manifest {options.manifest}"
        listed = read_manifest(options.manifest, source=source)
        for path in image_files:
            if path in listed:
                parsed[path] = listed[path]
            else:
                problems.append(Problem(relpaths[path], ProblemKind.SKIPPED, "not listed in the manifest"))
        for path in sorted(set(listed) - set(image_files)):
            problems.append(Problem(str(path), ProblemKind.SKIPPED, "listed in the manifest but not found"))
    else:
        pattern_name, compiled = choose_pattern(relpaths.values(), options.pattern)
        for path in image_files:
            try:
                parsed[path] = parse_name(relpaths[path], compiled)
            except NamingError as exc:
                problems.append(Problem(relpaths[path], ProblemKind.SKIPPED, f"{exc} ({pattern_name})"))

    store = PlateStore(out, mode="a")
    named_plates = [f.plate for f in parsed.values() if f.plate]
    plate_name = options.plate_name or store.name or (_most_common(named_plates) if named_plates else source.name)
    for path, fields in list(parsed.items()):
        if fields.plate and fields.plate != plate_name:
            problems.append(Problem(relpaths[path], ProblemKind.SKIPPED, f"belongs to plate {fields.plate!r}, this plate is {plate_name!r}"))
            del parsed[path]

    candidates: dict[Key, _Candidate] = {}
    by_key: dict[Key, list[Path]] = defaultdict(list)
    for path, fields in parsed.items():
        by_key[(fields.well, fields.field, fields.timepoint)].append(path)
    for key, paths in by_key.items():
        if len(paths) > 1:
            names = ", ".join(relpaths[p] for p in paths)
            for p in paths:
                problems.append(Problem(relpaths[p], ProblemKind.SKIPPED, f"several files for well {key[0]} field {key[1]} time point {key[2]}: {names}"))
            continue
        stat = paths[0].stat()
        candidates[key] = _Candidate(paths[0], relpaths[paths[0]], parsed[paths[0]], stat.st_size, stat.st_mtime_ns)

    # 2. compare with what the plate holds
    labels = {tp.label: tp.index for tp in store.timepoints} if store.exists else {}
    existing: dict[Key, dict[str, Any]] = {}
    if store.exists:
        index_to_label = {v: k for k, v in labels.items()}
        for well, fields_ in store.fields.items():
            for field in fields_:
                for t, record in store.image_records(well, field).items():
                    existing[(well, field, index_to_label[t])] = record
    new: list[_Candidate] = []
    to_hash: list[tuple[Key, _Candidate]] = []
    n_unchanged = 0
    for key, cand in candidates.items():
        record = existing.get(key)
        if record is None:
            new.append(cand)
        elif (
            not options.verify
            and record.get("source") == cand.relpath
            and record.get("size") == cand.size
            and record.get("mtime_ns") == cand.mtime_ns
        ):
            n_unchanged += 1
        else:
            to_hash.append((key, cand))

    # 3. inspect new files (headers) and hash possibly changed ones, in parallel
    cluster = cluster or ClusterSpec(processes=False, threads_per_worker=4, n_workers=1)
    headers: dict[Path, ImageHeader] = {}
    hashes: dict[Path, str] = {}
    jobs = [(str(c.path), False) for c in new] + [(str(c.path), True) for _, c in to_hash]
    n_done = 0
    with dask_client(cluster) as client:

        def on_inspected(batch: Sequence[tuple[str, bool]], result: Any, error: BaseException | None) -> None:
            for i, (path_text, _) in enumerate(batch):
                path = Path(path_text)
                if error is not None:
                    problems.append(Problem(relpaths[path], ProblemKind.SKIPPED, f"inspection failed: {error}"))
                    continue
                header, digest, reason = result[i]
                if reason:
                    problems.append(Problem(relpaths[path], ProblemKind.SKIPPED, reason))
                if header is not None:
                    headers[path] = header
                if digest is not None:
                    hashes[path] = digest

        map_bounded(client, _inspect_task, _chunks(jobs, 32), on_result=on_inspected)

        for key, cand in to_hash:
            record = existing[key]
            if cand.path not in hashes:
                continue  # unreadable now: already reported
            if hashes[cand.path] == record.get("sha256"):
                n_unchanged += 1
                continue
            if record.get("source") == cand.relpath:
                reason = "content changed since it was ingested (SHA-256 differs); the ingested version is kept"
            else:
                reason = f"differs from {record.get('source')!r}, already ingested for this well, field and time point"
            problems.append(Problem(cand.relpath, ProblemKind.CHANGED, reason))

        new = [c for c in new if c.path in headers]
        report_args = dict(plate=plate_name, source=str(source), pattern=pattern_name, started_at=started, n_files=len(image_files), n_unchanged=n_unchanged)
        if not new:
            return _finish(store, problems, n_new=0, **report_args)

        # 4. decide shape, dtype, pixel size; check each new file against them
        shape = store.image_shape or _most_common([headers[c.path].shape for c in new])
        dtype = store.dtype or _most_common([headers[c.path].dtype for c in new])
        pixel_size = _pixel_size(store, options, [headers[c.path] for c in new])
        accepted: list[_Candidate] = []
        for cand in new:
            header = headers[cand.path]
            if header.shape != shape:
                reason = f"image is {header.shape[1]}x{header.shape[0]} px; plate images are {shape[1]}x{shape[0]}"
            elif header.dtype != dtype:
                reason = f"pixel type {header.dtype} differs from the plate's {dtype}"
            elif pixel_size is None and header.pixel_size_um is None:
                reason = "no pixel size in the file's metadata; pass --pixel-size-um"
            elif (
                options.pixel_size_um is None
                and pixel_size is not None
                and header.pixel_size_um is not None
                and abs(header.pixel_size_um - pixel_size) > _PIXEL_SIZE_RTOL * pixel_size
            ):
                reason = f"pixel size {header.pixel_size_um:.4g} um differs from the plate's {pixel_size:.4g} um"
            else:
                accepted.append(cand)
                continue
            problems.append(Problem(cand.relpath, ProblemKind.SKIPPED, reason))
        if pixel_size is None:
            pixel_size = _most_common([headers[c.path].pixel_size_um for c in accepted]) if accepted else None
        if not accepted or pixel_size is None:
            return _finish(store, problems, n_new=0, **report_args)

        # 5. plate map, time points, plate structure
        plate_map = read_plate_map(options.plate_map, plate=plate_name) if options.plate_map else {}
        well_info: dict[WellId, Mapping[str, Any]] = dict(store.well_info)
        for well, info in plate_map.items():
            well_info[well] = info.to_json()
        timed: list[tuple[_Candidate, float | None, datetime | None]] = []
        for cand in accepted:
            acquired = cand.fields.acquired_at or headers[cand.path].acquired_at
            info = plate_map.get(cand.fields.well)
            if options.plate_map and info is None and cand.fields.well not in well_info:
                problems.append(Problem(cand.relpath, ProblemKind.WARNING, f"well {cand.fields.well} is not in the plate map: no treatment metadata"))
            stored = WellInfo.from_json(dict(well_info[cand.fields.well])) if cand.fields.well in well_info else None
            treated = (stored.treated_at if stored else None) or options.treated_at
            timed.append((cand, _time_h(cand.fields, acquired, treated), acquired))
        timepoints = _extend_timepoints(store.timepoints if store.exists else [], timed)
        index = {tp.label: tp.index for tp in timepoints}
        fields_map: dict[WellId, set[int]] = defaultdict(set)
        for well, fs in (store.fields if store.exists else {}).items():
            fields_map[well].update(fs)
        for cand in accepted:
            fields_map[cand.fields.well].add(cand.fields.field)
        store.set_plate(
            name=plate_name,
            image_shape=shape,
            dtype=dtype,
            pixel_size_um=float(pixel_size),
            timepoints=timepoints,
            fields=fields_map,
            well_info=well_info,
        )

        # 6. write pixels in parallel; record provenance as tasks finish
        meta = {c.path: (t_h, acq) for c, t_h, acq in timed}
        by_path = {str(c.path): c for c in accepted}
        write_jobs = [(str(c.path), c.fields.well.name, c.fields.field, index[c.fields.timepoint], c.size) for c in accepted]
        written = 0
        ingested_at = datetime.now(UTC).isoformat(timespec="seconds")

        def on_written(batch: Sequence[tuple[str, str, int, int, int]], result: Any, error: BaseException | None) -> None:
            nonlocal written, n_done
            records: dict[tuple[WellId, int], dict[int, dict[str, Any]]] = defaultdict(dict)
            for i, (path_text, well_name, field, t, _) in enumerate(batch):
                cand = by_path[path_text]
                record, reason = (None, f"write failed: {error}") if error is not None else result[i]
                if record is None:
                    problems.append(Problem(cand.relpath, ProblemKind.SKIPPED, reason))
                    continue
                time_h, acquired = meta[cand.path]
                record.update(
                    source=cand.relpath, size=cand.size, mtime_ns=cand.mtime_ns,
                    time_h=time_h, acquired_at=acquired.isoformat() if acquired else None,
                    source_dtype=np.dtype(dtype).name, ingested_at=ingested_at,
                )  # fmt: skip
                records[(WellId.parse(well_name), field)][t] = record
                written += 1
            for (well, field), recs in records.items():
                store.add_image_records(well, field, recs)
            n_done += len(batch)
            if progress is not None:
                progress(len(batch))

        map_bounded(
            client,
            _write_task,
            _chunks(write_jobs, options.files_per_task),
            on_result=on_written,
            plate_path=str(out),
            shape=shape,
            dtype=np.dtype(dtype).name,
        )
    return _finish(store, problems, n_new=written, **report_args)


def _pixel_size(store: PlateStore, options: IngestOptions, headers: list[ImageHeader]) -> float | None:
    if options.pixel_size_um is not None:
        if store.pixel_size_um is not None and abs(store.pixel_size_um - options.pixel_size_um) > _PIXEL_SIZE_RTOL * store.pixel_size_um:
            raise ValueError(f"--pixel-size-um {options.pixel_size_um} differs from the plate's {store.pixel_size_um} um")
        return options.pixel_size_um
    if store.pixel_size_um is not None:
        return store.pixel_size_um
    known = [h.pixel_size_um for h in headers if h.pixel_size_um is not None]
    return _most_common(known) if known else None


def _extend_timepoints(
    existing: list[TimepointInfo], timed: list[tuple[_Candidate, float | None, datetime | None]]
) -> list[TimepointInfo]:
    """Keep existing time points' indices; append new labels ordered by time."""
    known = {tp.label for tp in existing}
    times: dict[str, list[float]] = defaultdict(list)
    stamps: dict[str, list[datetime]] = defaultdict(list)
    for cand, time_h, acquired in timed:
        if time_h is not None:
            times[cand.fields.timepoint].append(time_h)
        if acquired is not None:
            stamps[cand.fields.timepoint].append(acquired)
    labels = {cand.fields.timepoint for cand, _, _ in timed} - known

    def order(label: str) -> tuple[float, str, str]:
        t = statistics.median(times[label]) if times[label] else float("inf")
        first = min(stamps[label]).isoformat() if stamps[label] else ""
        return (t, first, label.zfill(12))

    out = list(existing)
    for label in sorted(labels, key=order):
        time_h = statistics.median(times[label]) if times[label] else None
        first = min(stamps[label]).isoformat() if stamps[label] else None
        out.append(TimepointInfo(len(out), label, time_h, first))
    # a time point seen before without times may get them now
    return [
        replace(tp, time_h=statistics.median(times[tp.label])) if tp.time_h is None and times[tp.label] else tp
        for tp in out
    ]


def _finish(store: PlateStore, problems: list[Problem], *, n_new: int, **fields: Any) -> IngestReport:
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
