"""Well identifiers and plate formats (96, 384, 1536 wells)."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PLATE_FORMATS", "WellId", "plate_format_for", "row_name"]

#: Standard plate formats: number of wells -> (rows, columns).
PLATE_FORMATS: dict[int, tuple[int, int]] = {
    6: (2, 3),
    12: (3, 4),
    24: (4, 6),
    48: (6, 8),
    96: (8, 12),
    384: (16, 24),
    1536: (32, 48),
}

_MAX_ROWS, _MAX_COLUMNS = max(PLATE_FORMATS.values())
_WELL_RE = re.compile(r"^\s*([A-Za-z]{1,2})\s*0*(\d{1,2})\s*$")


def row_name(row_index: int) -> str:
    """Row letter(s) for a 0-based row index: 0 -> 'A', 25 -> 'Z', 26 -> 'AA'."""
    if row_index < 0:
        raise ValueError(f"row index must be >= 0, got {row_index}")
    if row_index < 26:
        return chr(ord("A") + row_index)
    return "A" + chr(ord("A") + row_index - 26)


def _row_index(name: str) -> int:
    name = name.upper()
    if len(name) == 1:
        return ord(name) - ord("A")
    if name[0] != "A":
        raise ValueError(f"row {name!r} is beyond a 1536-well plate")
    return 26 + ord(name[1]) - ord("A")


@dataclass(frozen=True, order=True)
class WellId:
    """A well on a plate: 0-based row index and 1-based column number."""

    row_index: int
    column: int

    def __post_init__(self) -> None:
        if self.row_index < 0 or self.column < 1:
            raise ValueError(f"invalid well row_index={self.row_index} column={self.column}")

    @classmethod
    def parse(cls, text: str) -> WellId:
        """Parse 'B3', 'B03' or 'b 3' into a well id; raise ValueError otherwise.

        The well must lie on a standard plate (at most 1536 wells: rows A-AF, columns 1-48).
        """
        match = _WELL_RE.match(text)
        if match is None:
            raise ValueError(f"not a well name: {text!r} (expected e.g. 'B3' or 'B03')")
        well = cls(_row_index(match.group(1)), int(match.group(2)))
        if well.row_index >= _MAX_ROWS or well.column > _MAX_COLUMNS:
            raise ValueError(
                f"well {text.strip()!r} is outside every plate format (the largest, 1536 "
                f"wells, has rows A-{row_name(_MAX_ROWS - 1)} and columns 1-{_MAX_COLUMNS})"
            )
        return well

    @property
    def row(self) -> str:
        return row_name(self.row_index)

    @property
    def name(self) -> str:
        """Zero-padded name, e.g. 'B03': sorts the way plates are read."""
        return f"{self.row}{self.column:02d}"

    def __str__(self) -> str:
        return self.name


def plate_format_for(wells: list[WellId]) -> tuple[int, int]:
    """Smallest standard plate format (rows, columns) that holds all ``wells``."""
    max_row = max((w.row_index for w in wells), default=0) + 1
    max_col = max((w.column for w in wells), default=1)
    for rows, cols in sorted(PLATE_FORMATS.values()):
        if max_row <= rows and max_col <= cols:
            return rows, cols
    raise ValueError(f"wells span {max_row} rows x {max_col} columns: larger than 1536 wells")
