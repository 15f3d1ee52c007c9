"""A tidy table of a results store: one row per image, as CSV or Parquet (I/O at the edge)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hts.measure.qc import QC_BITS
from hts.results.schema import MEASUREMENTS, Status

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

__all__ = ["TABLE_FORMATS", "source_files", "tidy_table", "write_table"]

log = logging.getLogger(__name__)

#: File suffixes :func:`write_table` can write.
TABLE_FORMATS: tuple[str, ...] = (".csv", ".parquet")

_IDENTIFIERS = ("plate", "well", "well_name", "row", "column", "field")
_METADATA = ("cell_line", "agent", "dose", "dose_unit", "arm", "replicate")
_TIME = ("timepoint", "timepoint_label", "time_h", "day", "acquired_at", "time_since_treatment_h")
_PER_IMAGE = ("n_objects", "qc_flags", "model_id", "processing_version", "error")


def source_files(results: xr.Dataset, plate_path: Path | str | None = None) -> np.ndarray:
    """The file each image slot was ingested from, as the plate's provenance records it
    (relative to the folder ingested, or as the manifest gave it).

    Parameters
    ----------
    results : xarray.Dataset
        A results store (``hts.open_results``) or a selection of it (whole time axis).
    plate_path : Path or str, optional
        The plate; default: the one the results store names.

    Returns
    -------
    (well, timepoint) object array of str
        ``""`` where no image was ingested, or where the plate cannot be found.
    """
    from hts.io.omezarr import PlateStore
    from hts.wells import WellId

    n_w, n_t = results.sizes["well"], results.sizes["timepoint"]
    out = np.full((n_w, n_t), "", dtype=object)
    path = Path(plate_path or str(results.attrs.get("plate_path", "")))
    if not (path / "zarr.json").is_file():
        log.warning("plate %s not found: the table's source_file column is empty", path)
        return out
    plate = PlateStore(path)
    timepoints = [int(t) for t in np.asarray(results["timepoint"].values)]
    for i, (name, field) in enumerate(
        zip(results["well_name"].values, results["field"].values, strict=True)
    ):
        records = plate.image_records(WellId.parse(str(name)), int(field))
        for j, t in enumerate(timepoints):
            source = records.get(t, {}).get("source")
            out[i, j] = "" if source is None else str(source)
    return out


def tidy_table(
    results: xr.Dataset,
    *,
    include_contour: bool = False,
    plate_path: Path | str | None = None,
) -> pd.DataFrame:
    """One row per image slot (well x time point) with identifiers, metadata and results.

    Parameters
    ----------
    results : xarray.Dataset
        A results store (``hts.open_results``) or a selection of it.
    include_contour : bool
        Also the contour text (long; QC overlays need it, analyses rarely do).
    plate_path : Path or str, optional
        The plate, for the ``source_file`` column; default: the one the store names.

    Returns
    -------
    pandas.DataFrame
        Columns: identifiers (plate, well, well_name, row, column, field), ``source_file``
        (the image file ingested, see `source_files`), plate-map metadata, time (timepoint,
        timepoint_label, time_h, day, acquired_at, time_since_treatment_h), ``status``
        (name), the measurements, ``n_objects``, ``qc_flags`` (bits) and one boolean
        ``flag_<name>`` column per QC flag, ``model_id``, ``processing_version`` and
        ``error``. Rows in store order: well, then time point.
    """
    import pandas as pd

    ds = results.load()
    n_w, n_t = ds.sizes["well"], ds.sizes["timepoint"]
    columns: dict[str, np.ndarray] = {}

    def per_well(name: str) -> np.ndarray:
        return np.repeat(np.asarray(ds[name].values), n_t)

    def per_time(name: str) -> np.ndarray:
        return np.tile(np.asarray(ds[name].values), n_w)

    for name in _IDENTIFIERS:
        if name in ds.coords:
            columns[name] = per_well(name)
    columns["source_file"] = source_files(ds, plate_path).reshape(-1)
    for name in _METADATA:
        if name in ds.coords:
            columns[name] = per_well(name)
    for name in _TIME:
        if name in ds.data_vars:
            columns[name] = ds[name].values.reshape(-1)
        elif name in ds.coords:
            columns[name] = per_time(name)
    status = ds["status"].values.reshape(-1)
    names = {int(s): s.name.lower() for s in Status}
    columns["status"] = np.array([names.get(int(s), str(s)) for s in status], dtype=object)
    for spec in MEASUREMENTS:
        if spec.name in ds.data_vars:
            columns[spec.name] = ds[spec.name].values.reshape(-1)
    for name in _PER_IMAGE:
        if name in ds.data_vars:
            columns[name] = ds[name].values.reshape(-1)
    bits = ds["qc_flags"].values.reshape(-1).astype(np.int64)
    for flag, bit in QC_BITS.items():
        columns[f"flag_{flag}"] = (bits >> bit & 1).astype(bool)
    if include_contour and "contour" in ds.data_vars:
        columns["contour"] = ds["contour"].values.reshape(-1)
    frame = pd.DataFrame(columns)
    for name in ("plate", "well", "well_name", "row", "source_file", "cell_line", "agent",
                 "dose_unit", "arm", "replicate", "timepoint_label", "model_id", "error", "status",
                 "contour"):  # fmt: skip
        if name in frame:
            frame[name] = frame[name].astype(str)
    return frame


def write_table(
    results_path: Path | str,
    out: Path | str,
    *,
    include_contour: bool = False,
    plate_path: Path | str | None = None,
) -> Path:
    """Write the tidy table of the results store at ``results_path`` to ``out``.

    The format follows ``out``'s suffix (:data:`TABLE_FORMATS`); Parquet needs pyarrow.
    ``plate_path``: the plate, for the ``source_file`` column (default: the one the store
    names).

    Returns
    -------
    Path
        ``out``.
    """
    from hts.results.store import open_results

    out = Path(out)
    if out.suffix.lower() not in TABLE_FORMATS:
        raise ValueError(f"{out}: unknown table format; use one of {', '.join(TABLE_FORMATS)}")
    frame = tidy_table(
        open_results(results_path), include_contour=include_contour, plate_path=plate_path
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)
    log.info("wrote %d rows to %s", len(frame), out)
    return out
