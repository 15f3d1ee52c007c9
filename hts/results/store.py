"""The results store on Zarr: created from a plate, grown with it, filled by region writes.

Chunks are ``wells_per_chunk`` wells x 1 time point, so a worker that segments one block of
wells at one time point owns whole chunks and writes them without locks. The coordinator
creates the arrays and keeps coordinates in step with the plate; workers only call
:meth:`ResultsStore.write_block`. ``open_results`` gives the lazy xarray view.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from hts.io.omezarr import PlateStore
from hts.results.schema import VARIABLES, position_label
from hts.wells import WellId

__all__ = [
    "Position",
    "ResultsStore",
    "check_results_store",
    "default_results_path",
    "open_results",
]

RESULTS_SCHEMA_VERSION = 1
_WELL_COORDS = (
    "plate", "well_name", "row", "column", "field",
    "cell_line", "agent", "dose", "dose_unit", "arm", "replicate",
)  # fmt: skip
_TIME_COORDS = ("time_h", "day", "timepoint_label", "acquired_at")


@dataclass(frozen=True)
class Position:
    """A spheroid position: one field of view of one well."""

    label: str
    well: WellId
    field: int


def plate_positions(plate: PlateStore) -> list[Position]:
    """Positions of a plate in plate reading order (row, column, field)."""
    fields = plate.fields
    n_fields = max((len(f) for f in fields.values()), default=1)
    return [
        Position(position_label(well.name, field, n_fields), well, field)
        for well in sorted(fields)
        for field in fields[well]
    ]


def _text_array(values: list[str]) -> np.ndarray:
    # variable-length UTF-8: the string type with a Zarr v3 specification
    return np.array(values, dtype=object)


def _well_coords(plate: PlateStore, positions: list[Position]) -> dict[str, np.ndarray]:
    info = plate.well_info
    rows: dict[str, list[Any]] = {name: [] for name in _WELL_COORDS}
    for pos in positions:
        meta = info.get(pos.well, {})
        dose = meta.get("dose")
        rows["plate"].append(plate.name or "")
        rows["well_name"].append(pos.well.name)
        rows["row"].append(pos.well.row)
        rows["column"].append(pos.well.column)
        rows["field"].append(pos.field)
        rows["dose"].append(math.nan if dose is None else float(dose))
        for key in ("cell_line", "agent", "dose_unit", "arm", "replicate"):
            rows[key].append(str(meta.get(key) or ""))
    out = {k: _text_array(v) for k, v in rows.items() if k not in ("column", "field", "dose")}
    out["column"] = np.array(rows["column"], dtype=np.int16)
    out["field"] = np.array(rows["field"], dtype=np.int16)
    out["dose"] = np.array(rows["dose"], dtype=np.float64)
    return out


def _time_coords(plate: PlateStore) -> dict[str, np.ndarray]:
    tps = plate.timepoints
    time_h = np.array([np.nan if t.time_h is None else t.time_h for t in tps], dtype=np.float64)
    acquired = np.array(
        [
            np.datetime64(t.acquired_at[:19], "s") if t.acquired_at else np.datetime64("NaT", "s")
            for t in tps
        ],
        dtype="datetime64[s]",
    )
    return {
        "time_h": time_h,
        "day": time_h / 24.0,
        "timepoint_label": _text_array([t.label for t in tps]),
        "acquired_at": acquired,
    }


_COORD_ATTRS = {
    "time_h": {"units": "h", "long_name": "nominal time since treatment of the time point"},
    "day": {"units": "d", "long_name": "nominal time since treatment of the time point"},
    "dose": {"long_name": "dose (unit in dose_unit)"},
}


#: Set in the store's attributes while :meth:`ResultsStore.sync` updates it.
_SYNCING = "sync_in_progress"


def _stored_labels(root: Any, meta: Mapping[str, Any]) -> list[str]:
    """Position labels in row order, from the store's attributes (atomic, so authoritative).

    Stores written before labels were recorded there have ``fields``, written last by
    every sync: their ``well`` array is used when it agrees, else labels are rebuilt.
    """
    if "labels" in meta:
        return [str(x) for x in meta["labels"]]
    fields = [(str(w), int(f)) for w, f in meta.get("fields", [])]
    if "well" in root and root["well"].shape == (len(fields),):
        return [str(x) for x in root["well"][:]]
    per_well: dict[str, int] = {}
    for well, _ in fields:
        per_well[well] = per_well.get(well, 0) + 1
    n_fields = max(per_well.values(), default=1)
    return [position_label(well, field, n_fields) for well, field in fields]


def _write_coordinate(root: Any, name: str, dim: str, values: np.ndarray) -> None:
    """Overwrite a 1-D coordinate array in place (resized), creating it if missing."""
    text = values.dtype == object
    if name in root:
        array = root[name]
        same = array.dtype.kind == "T" if text else array.dtype == values.dtype
        if same and array.ndim == 1:
            if array.shape != values.shape:
                array.resize(values.shape)
            array[:] = values
            return
        del root[name]  # another type (an older schema): the sync mark covers the gap
    array = root.create_array(
        name,
        shape=values.shape,
        dtype=str if text else values.dtype,
        fill_value="" if text else None if values.dtype.kind in "Mf" else 0,
        dimension_names=[dim],
        attributes=_COORD_ATTRS.get(name, {}),
    )
    array[:] = values


class ResultsStore:
    """A results store on disk. Create or update it from a plate with :meth:`sync`."""

    def __init__(self, path: Path | str) -> None:
        import zarr

        self.path = Path(path)
        if not (self.path / "zarr.json").exists():
            raise FileNotFoundError(f"{self.path}: no results store here")
        self._root: Any = zarr.open_group(store=str(self.path), mode="r+", zarr_format=3)

    @classmethod
    def sync(
        cls, path: Path | str, plate: PlateStore, *, wells_per_chunk: int = 32
    ) -> ResultsStore:
        """Create the store for ``plate``, or grow it to the plate's positions and time points.

        Existing measurements are never touched; new positions and time points start
        ``PENDING``. Coordinates (plate map, time) are refreshed from the plate.

        Crash-safe: the row order is recorded first, in one atomic write of the store's
        attributes, together with a mark that an update is under way; arrays are then
        grown and coordinates overwritten in place (never deleted), and the mark is
        cleared last. A sync cut short anywhere leaves every row where it was; readers
        refuse the store until a re-run (any ``hts run``) has finished the update.
        """
        import zarr

        path = Path(path)
        positions = plate_positions(plate)
        n_t = len(plate.timepoints)
        root: Any = zarr.open_group(store=str(path), mode="a", zarr_format=3)
        stored = dict(root.attrs.asdict().get("hts_results", {}))
        if stored.get("plate") not in (None, plate.name):
            raise ValueError(
                f"{path} holds results of plate {stored['plate']!r}, not {plate.name!r}"
            )
        existing = _stored_labels(root, stored)
        labels = [p.label for p in positions]
        if labels[: len(existing)] != existing:
            # keep stored rows where they are; new positions go at the end
            labels = existing + [lab for lab in labels if lab not in set(existing)]
            by_label = {p.label: p for p in positions}
            positions = [by_label[lab] for lab in labels]
        n_w = len(positions)
        meta = {
            **stored,
            "schema_version": RESULTS_SCHEMA_VERSION,
            "plate": plate.name,
            "plate_path": str(Path(plate.path).resolve()),
            "pixel_size_um": plate.pixel_size_um,
            "labels": labels,
            "fields": [[p.well.name, p.field] for p in positions],
            _SYNCING: True,
        }
        root.attrs["hts_results"] = meta  # the switch: from here on, rows are these labels
        coord_names = " ".join((*_WELL_COORDS, *_TIME_COORDS))
        for spec in VARIABLES:
            if spec.name in root:
                array = root[spec.name]
                if array.shape != (n_w, n_t):
                    array.resize((n_w, n_t))
                _upgrade_attrs(array, spec.attrs)
            else:
                root.create_array(
                    spec.name,
                    shape=(n_w, n_t),
                    chunks=(wells_per_chunk, 1),
                    dtype=str if spec.dtype == "str" else spec.dtype,
                    fill_value=spec.fill,
                    dimension_names=["well", "timepoint"],
                    attributes={**spec.attrs, "coordinates": coord_names},
                )
        coords: dict[str, tuple[str, np.ndarray]] = {"well": ("well", _text_array(labels))}
        coords["timepoint"] = ("timepoint", np.arange(n_t, dtype=np.int32))
        coords.update({k: ("well", v) for k, v in _well_coords(plate, positions).items()})
        coords.update({k: ("timepoint", v) for k, v in _time_coords(plate).items()})
        for name, (dim, values) in coords.items():
            _write_coordinate(root, name, dim, values)
        meta.pop(_SYNCING)
        meta.update(
            wells_per_chunk=int(root["status"].chunks[0]),
            updated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        root.attrs["hts_results"] = meta
        return cls(path)

    @property
    def meta(self) -> dict[str, Any]:
        return dict(self._root.attrs.asdict()["hts_results"])

    @property
    def positions(self) -> list[Position]:
        labels = _stored_labels(self._root, self.meta)
        return [
            Position(lab, WellId.parse(w), int(f))
            for lab, (w, f) in zip(labels, self.meta["fields"], strict=True)
        ]

    @property
    def shape(self) -> tuple[int, int]:
        n_w, n_t = self._root["status"].shape
        return int(n_w), int(n_t)

    @property
    def wells_per_chunk(self) -> int:
        return int(self._root["status"].chunks[0])

    def read(self, name: str) -> np.ndarray:
        """A whole variable ``(well, timepoint)`` as numpy."""
        return np.asarray(self._root[name][:])

    def read_block(self, wells: slice, t: int, names: list[str]) -> dict[str, np.ndarray]:
        """Writable copies of ``names`` for positions ``wells`` at time point ``t``."""
        return {name: np.array(self._root[name][wells, t]) for name in names}

    def write_block(self, wells: slice, t: int, values: Mapping[str, np.ndarray]) -> None:
        """Region write: ``values[var]`` of shape ``(len(wells),)`` into time point ``t``.

        ``wells`` must be chunk-aligned (start a multiple of :attr:`wells_per_chunk`) so
        concurrent writers never share a chunk.

        ``status`` is written last: it marks the block's results as done. A write cut short
        (a killed run) leaves the old status, so a re-run redoes the block instead of
        trusting half-written measurements.
        """
        if wells.start % self.wells_per_chunk:
            raise ValueError(
                f"well block {wells} is not aligned to chunks of {self.wells_per_chunk}"
            )
        for name in sorted(values, key=lambda n: n == "status"):
            self._root[name][wells, t] = values[name]


def default_results_path(plate: Path | str) -> Path:
    """``PLATE.results.zarr`` beside ``PLATE.zarr``: where ``hts run`` writes by default."""
    plate = Path(plate)
    return plate.with_name(plate.name.removesuffix(".zarr") + ".results.zarr")


def _upgrade_attrs(array: Any, attrs: Mapping[str, Any]) -> None:
    """Give an array of an older store the schema's attributes (e.g. qc_flags' CF flags)."""
    stale = {k: v for k, v in attrs.items() if array.attrs.get(k) != v}
    if stale:
        array.attrs.update(stale)


def check_results_store(path: Path | str) -> None:
    """Raise a clear error unless ``path`` is a results store whose last update finished.

    Raises
    ------
    FileNotFoundError
        Nothing is there.
    ValueError
        It is something else (e.g. a plate), or an update of it was cut short.
    """
    import zarr

    path = Path(path)
    if not (path / "zarr.json").exists():
        raise FileNotFoundError(f"{path}: no results store here")
    attrs: dict[str, Any] = dict(
        zarr.open_group(store=str(path), mode="r", zarr_format=3).attrs.asdict()
    )
    meta = attrs.get("hts_results")
    if meta is None:
        what = (
            "an OME-Zarr plate (written by 'hts ingest'), not a results store: "
            f"segment it with 'hts run {path}' and use the results store it writes "
            f"({default_results_path(path)})"
            if "plate" in attrs.get("ome", {})
            else "not a results store written by 'hts run'"
        )
        raise ValueError(f"{path}: {what}")
    if meta.get(_SYNCING):
        raise ValueError(
            f"{path}: an update of this results store was interrupted (a killed run or a "
            "disk error); run 'hts run' on its plate again to finish it, then read it"
        )


def open_results(path: Path | str) -> Any:
    """Open a results store as a lazy ``xarray.Dataset`` (dims ``well`` x ``timepoint``)."""
    import xarray as xr

    path = Path(path)
    check_results_store(path)
    ds = xr.open_zarr(path, consolidated=False)
    # numpy's StringDType does not yet mix with NaN in xarray's where/concat: use object
    text = [name for name, var in ds.variables.items() if var.dtype.kind == "T"]
    ds = ds.assign({n: ds[n].astype(object) for n in text if n in ds.data_vars})
    ds = ds.assign_coords({n: ds[n].astype(object) for n in text if n in ds.coords})
    # coordinates are small and used for selection (where(..., drop=True) needs them eager)
    ds = ds.assign_coords({n: ds[n].load() for n in ds.coords})
    ds = ds[[spec.name for spec in VARIABLES if spec.name in ds.data_vars]]
    for spec in VARIABLES:  # stores written before an attribute was added (qc_flags' CF flags)
        if spec.name in ds.data_vars:
            stored = ds[spec.name].attrs
            stored.update({k: v for k, v in spec.attrs.items() if stored.get(k) in (None, "")})
    ds.attrs.update(ds.attrs.pop("hts_results", {}))
    return ds
