"""CSV tables a lab supplies with its images: the plate map and the file manifest.

Plate map: one row per well, column ``well`` required; ``plate`` optional (a map that covers
several plates is filtered by plate name); known columns ``cell_line``, ``agent``, ``dose``,
``dose_unit``, ``arm``, ``replicate``, ``treated_at`` (ISO 8601); any other column is kept as
text, unless its name looks like a misspelt known one (``doze``): that is an error.

Manifest: one row per image file, replacing the naming pattern. Columns ``path`` (relative to
the source folder, or absolute) and ``well`` required; ``plate``, ``field``, ``timepoint``,
``days``, ``hours``, ``minutes``, ``acquired_at`` optional, with the meanings of the naming
pattern's groups (days, hours and minutes add up).
"""

from __future__ import annotations

import csv
import difflib
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from hts.io.naming import NameFields
from hts.wells import WellId

__all__ = ["TableError", "WellInfo", "read_manifest", "read_plate_map"]

_KNOWN = ("cell_line", "agent", "dose", "dose_unit", "arm", "replicate", "treated_at")
_MANIFEST_COLUMNS = (
    "path", "well", "plate", "field", "timepoint", "days", "hours", "minutes", "acquired_at",
)  # fmt: skip


class TableError(ValueError):
    """A plate map or manifest that cannot be used; the message names file, row and column."""


@dataclass(frozen=True)
class WellInfo:
    """Per-well experimental metadata from the plate map."""

    cell_line: str = ""
    agent: str = ""
    dose: float = math.nan
    dose_unit: str = ""
    arm: str = ""
    replicate: str = ""
    treated_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {k: getattr(self, k) for k in _KNOWN}
        out["dose"] = None if math.isnan(self.dose) else self.dose
        out["treated_at"] = self.treated_at.isoformat() if self.treated_at else None
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: dict[str, object]) -> WellInfo:
        extra = {k: str(v) for k, v in data.items() if k not in _KNOWN}
        dose = data.get("dose")
        treated = data.get("treated_at")
        return cls(
            cell_line=str(data.get("cell_line") or ""),
            agent=str(data.get("agent") or ""),
            dose=math.nan if dose is None else float(dose),  # type: ignore[arg-type]
            dose_unit=str(data.get("dose_unit") or ""),
            arm=str(data.get("arm") or ""),
            replicate=str(data.get("replicate") or ""),
            treated_at=datetime.fromisoformat(str(treated)) if treated else None,
            extra=extra,
        )


def _check_columns(path: Path, columns: list[str], known: tuple[str, ...]) -> None:
    """Refuse a column that looks like a misspelt known one (``doze``): it would be lost."""
    for column in columns:
        if column in known or not column:
            continue
        close = difflib.get_close_matches(column.lower(), known, n=1, cutoff=0.75)
        if close:
            raise TableError(
                f"{path}: column {column!r} is not one hts reads; did you mean {close[0]!r}? "
                f"(columns read: {', '.join(known)}; rename it, or give a column of your own "
                "a name unlike these)"
            )


def _rows(
    path: Path, required: tuple[str, ...], known: tuple[str, ...]
) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in required if c not in columns]
            if missing:
                raise TableError(f"{path}: missing column(s) {', '.join(missing)}; found {columns}")
            _check_columns(path, columns, known)
            return [
                (i, {(k or "").strip(): (v or "").strip() for k, v in row.items()})
                for i, row in enumerate(reader, start=2)
            ]
    except OSError as exc:
        raise TableError(f"{path}: cannot read ({exc})") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise TableError(f"{path}: not a readable CSV file ({exc})") from exc


def _datetime(path: Path, line: int, column: str, text: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise TableError(
            f"{path}, line {line}, column {column}: not an ISO 8601 time: {text!r}"
        ) from exc


def _float(path: Path, line: int, column: str, text: str) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError as exc:
        raise TableError(f"{path}, line {line}, column {column}: not a number: {text!r}") from exc


def _well(path: Path, line: int, text: str) -> WellId:
    try:
        return WellId.parse(text)
    except ValueError as exc:
        raise TableError(f"{path}, line {line}, column well: {exc}") from exc


def read_plate_map(path: Path | str, *, plate: str | None = None) -> dict[WellId, WellInfo]:
    """Read a plate map CSV into per-well metadata, keeping only ``plate``'s rows if given."""
    path = Path(path)
    out: dict[WellId, WellInfo] = {}
    for line, row in _rows(path, ("well",), ("well", "plate", *_KNOWN)):
        if plate is not None and row.get("plate") and row["plate"] != plate:
            continue
        well = _well(path, line, row["well"])
        if well in out:
            raise TableError(f"{path}, line {line}: well {well} listed twice")
        dose = _float(path, line, "dose", row.get("dose", ""))
        out[well] = WellInfo(
            cell_line=row.get("cell_line", ""),
            agent=row.get("agent", ""),
            dose=math.nan if dose is None else dose,
            dose_unit=row.get("dose_unit", ""),
            arm=row.get("arm", ""),
            replicate=row.get("replicate", ""),
            treated_at=_datetime(path, line, "treated_at", row.get("treated_at", "")),
            extra={k: v for k, v in row.items() if k not in (*_KNOWN, "well", "plate") and k},
        )
    return out


def read_manifest(path: Path | str, *, source: Path) -> dict[Path, NameFields]:
    """Read a manifest CSV into ``{absolute file path: name fields}``."""
    path = Path(path)
    out: dict[Path, NameFields] = {}
    for line, row in _rows(path, ("path", "well"), _MANIFEST_COLUMNS):
        file = Path(row["path"])
        file = (file if file.is_absolute() else source / file).resolve()
        if file in out:
            raise TableError(f"{path}, line {line}: file {row['path']} listed twice")
        parts = [
            value * hours_per
            for column, hours_per in (("days", 24.0), ("hours", 1.0), ("minutes", 1 / 60))
            if (value := _float(path, line, column, row.get(column, ""))) is not None
        ]
        time_h = sum(parts) if parts else None
        acquired = _datetime(path, line, "acquired_at", row.get("acquired_at", ""))
        label = row.get("timepoint", "")
        if not label:
            if time_h is not None:
                label = f"{time_h:g}h"
            elif acquired is not None:
                label = acquired.strftime("%Y-%m-%dT%H:%M")
            else:
                raise TableError(
                    f"{path}, line {line}: no timepoint, days, hours, minutes or acquired_at "
                    f"for {row['path']}"
                )
        field_text = row.get("field", "")
        out[file] = NameFields(
            well=_well(path, line, row["well"]),
            field=int(_float(path, line, "field", field_text) or 1),
            timepoint=label,
            plate=row.get("plate") or None,
            time_h=time_h,
            acquired_at=acquired,
        )
    return out
