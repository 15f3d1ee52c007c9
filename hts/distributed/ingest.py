"""Run an ingest on Dask workers: a folder of microscope images into an OME-Zarr plate.

The steps that touch files and the plate live in :mod:`hts.io.ingest_steps`; this module
holds the plate's lock, starts the cluster and hands the per-file tasks out in batches,
recording the provenance of finished tasks every few seconds (``IngestOptions.records_every_s``).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from hts.distributed.cluster import ClusterSpec, dask_client, map_bounded
from hts.io import plan
from hts.io.ingest_report import IngestReport, ProblemKind
from hts.io.ingest_steps import (
    IngestOptions,
    IngestRun,
    files_per_task,
    finish_report,
    inspect_files,
    remove_if_empty,
    write_images,
)
from hts.io.lock import StoreLock
from hts.io.omezarr import PlateStore
from hts.io.plan import Candidate
from hts.io.readers import IMAGE_SUFFIXES, ImageHeader
from hts.io.tables import WellInfo
from hts.wells import WellId

__all__ = ["ingest"]

log = logging.getLogger(__name__)

#: Files per header-inspection task (headers are small; batches amortise task overhead).
_FILES_PER_INSPECTION = 32


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
                    remove_if_empty(out)
                except Exception as exc:  # noqa: BLE001 - the first error is the one to show
                    log.warning("%s: could not check whether to remove it: %s", out, exc)
            raise
        if created:
            remove_if_empty(out)
        return report


def _ingest(
    source: Path,
    out: Path,
    options: IngestOptions,
    cluster: ClusterSpec | None,
    progress: Callable[[int], None] | None,
) -> IngestReport:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    run = IngestRun(source, out, options, PlateStore(out, mode="a"))
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
        return finish_report(
            run.store, run.problems, n_new=n_new, plate=plate_name, source=str(source),
            pattern=pattern_name, started_at=started, n_files=len(images), n_unchanged=n_unchanged,
        )  # fmt: skip

    with dask_client(
        cluster or ClusterSpec(n_workers=1, threads_per_worker=4, processes=False)
    ) as client:
        headers, hashes = _inspect(run, client, new, to_hash)
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
    run: IngestRun,
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
    pending = _PendingRecords(
        run.store, every_s=run.options.records_every_s, every_tasks=run.options.records_every_tasks
    )

    def on_result(batch: Sequence[tuple[str, str, int, int, int]], result: Any, error: Any) -> None:
        nonlocal written
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
            pending.add(WellId.parse(well_name), field_, t, record)
            run.written[cand.path] = str(record["sha256"])
            written += 1
        pending.task_done()
        if progress is not None:
            progress(len(batch))

    per_task = run.options.files_per_task or files_per_task(
        len(jobs), sum(client.nthreads().values())
    )
    try:
        map_bounded(
            client, write_images, _chunks(jobs, per_task), on_result=on_result,
            plate_path=str(run.out), shape=shape, dtype=dtype.name,
        )  # fmt: skip
    except BaseException:
        # stopped (an error, Ctrl-C): keep what finished, so a re-run need not redo it
        try:
            pending.flush()
        except Exception as exc:  # noqa: BLE001 - the first error is the one to show
            log.warning("%s: could not record %d finished images: %s", run.out, len(pending), exc)
        raise
    pending.flush()
    return written


class _PendingRecords:
    """Finished images' provenance records, kept per field and written in batches.

    Each write of a field's records rewrites that field group's whole metadata document,
    so writing per task cost more coordinator time than the task itself; a batch is one
    write per field it touches (see :attr:`IngestOptions.records_every_s`).
    """

    def __init__(self, store: PlateStore, *, every_s: float, every_tasks: int) -> None:
        self._store = store
        self._every_s = every_s
        self._every_tasks = max(1, every_tasks)
        self._records: dict[tuple[WellId, int], dict[int, dict[str, Any]]] = {}
        self._tasks = 0
        self._since = time.monotonic()

    def __len__(self) -> int:
        return sum(len(r) for r in self._records.values())

    def add(self, well: WellId, field_: int, t: int, record: dict[str, Any]) -> None:
        self._records.setdefault((well, field_), {})[t] = record

    def task_done(self) -> None:
        """One more task finished: write the batch if its window is full."""
        self._tasks += 1
        if self._tasks >= self._every_tasks or time.monotonic() - self._since >= self._every_s:
            self.flush()

    def flush(self) -> None:
        """Write every kept record: one metadata write per field."""
        while self._records:
            (well, field_), records = next(iter(self._records.items()))
            self._store.add_image_records(well, field_, records)
            del self._records[(well, field_)]  # only once stored: a failed write is retried
        self._tasks, self._since = 0, time.monotonic()


def _inspect(
    run: IngestRun, client: Any, new: list[Candidate], to_hash: list[Candidate]
) -> tuple[dict[Path, ImageHeader], dict[Path, str]]:
    """Read headers of new files and hash possibly changed ones, in parallel."""
    headers: dict[Path, ImageHeader] = {}
    hashes: dict[Path, str] = {}

    def on_result(batch: Sequence[tuple[str, bool]], result: Any, error: Any) -> None:
        for i, (path_text, _) in enumerate(batch):
            path = Path(path_text)
            if error is not None:
                run.skip(path, f"inspection failed: {error}")
                continue
            header, digest, reason = result[i]
            if reason:
                run.skip(path, reason)
            if header is not None:
                headers[path] = header
            if digest is not None:
                hashes[path] = digest

    jobs = [(str(c.path), False) for c in new] + [(str(c.path), True) for c in to_hash]
    map_bounded(client, inspect_files, _chunks(jobs, _FILES_PER_INSPECTION), on_result=on_result)
    return headers, hashes


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
