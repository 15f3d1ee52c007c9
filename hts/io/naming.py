"""Assigning image files to plate, well, field and time point from their names.

A naming pattern is a regular expression with named groups, searched in the file's path
relative to the source folder (so folder names such as ``TimePoint_3/`` can carry
information). Recognised groups:

``plate``
    Plate name (else the plate name given by the caller).
``well`` or ``row`` + ``column``
    Well, e.g. ``B3`` / ``B03``.
``field`` or ``site``
    Field of view within the well, 1-based (default 1).
``timepoint``
    Label of the imaging session (e.g. ``3`` in ``TimePoint_3``).
``days`` / ``hours`` / ``minutes``
    Time since treatment written in the name; the groups present add up (``00d05h30m``).
``year``, ``month``, ``mday``, ``hour``, ``minute`` (``second``)
    Acquisition timestamp written in the name.

Every file needs a well and some time information (a time point, a time since treatment or
a timestamp). Presets cover common microscopes; ``auto`` picks the preset that matches most
files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from hts.wells import WellId

__all__ = [
    "PRESETS",
    "PRESET_EXAMPLES",
    "NameFields",
    "NamingError",
    "choose_pattern",
    "expected_names",
    "parse_name",
]

_EXT = r"\.(?:tiff?|png|jpe?g)$"

#: Named naming presets for common microscope exports.
PRESETS: dict[str, str] = {
    # Sartorius Incucyte: VID123_B3_1_2026y03m02d_09h30m.tif (acquisition time) or
    # VID1335_A7_1_00d05h00m.jpg (time elapsed since the vessel's first scan)
    "incucyte": (
        r"(?:^|/)(?P<plate>[^_/]+)_(?P<well>[A-Pa-p]\d{1,2})_(?P<field>\d+)_(?:"
        r"(?P<year>\d{4})y(?P<month>\d{2})m(?P<mday>\d{2})d_(?P<hour>\d{2})h(?P<minute>\d{2})m"
        r"|(?P<days>\d+)d(?P<hours>\d{2})h(?P<minutes>\d{2})m)" + _EXT
    ),
    # Molecular Devices MetaXpress / ImageXpress: TimePoint_3/Plate1_B03_s1_w1<GUID>.tif
    "imagexpress": (
        r"(?:^|/)TimePoint_(?P<timepoint>\d+)/(?:[^/]+/)*(?P<plate>[^/]+?)_(?P<well>[A-P]\d{2})"
        r"(?:_s(?P<field>\d+))?(?:_w\d+)?(?:[A-Fa-f0-9-]{36})?" + _EXT
    ),
    # Agilent BioTek Cytation / Gen5: B3_02_1_1_Bright Field_001.tif
    "cytation": (
        r"(?:^|/)(?P<well>[A-P]\d{1,2})_\d+_\d+_(?P<field>\d+)_[^_/]+_(?P<timepoint>\d+)" + _EXT
    ),
    # Plain lab naming: PLATE1_B03_day07.tif, PLATE1_B03_d7_f2.png
    "days": (
        r"(?:^|/)(?P<plate>[^_/]+)_(?P<well>[A-Pa-p]\d{1,2})_d(?:ay)?(?P<days>\d+(?:\.\d+)?)"
        r"(?:_f(?P<field>\d+))?" + _EXT
    ),
}


#: A file name each preset reads, shown when a name does not match.
PRESET_EXAMPLES: dict[str, str] = {
    "incucyte": "VID123_B3_1_2026y03m02d_09h30m.tif or VID1335_A7_1_00d05h00m.jpg",
    "imagexpress": "TimePoint_3/Plate1_B03_s1_w1.tif",
    "cytation": "B3_02_1_1_Bright Field_001.tif",
    "days": "PLATE1_B03_day07.tif or PLATE1_B03_d7_f2.png",
}


def expected_names(pattern: str) -> str:
    """What names ``pattern`` (a preset name or a regex) expects, for error messages."""
    if pattern in PRESET_EXAMPLES:
        return f"preset {pattern} expects names like {PRESET_EXAMPLES[pattern]}"
    return f"pattern {pattern!r}"


class NamingError(ValueError):
    """A file name that does not give a well and a time point."""


@dataclass(frozen=True)
class NameFields:
    """What a file's name says about the image."""

    well: WellId
    field: int
    timepoint: str
    plate: str | None = None
    time_h: float | None = None
    acquired_at: datetime | None = None


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a preset name or a regular expression, checking it names a well."""
    regex = PRESETS.get(pattern, pattern)
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise ValueError(f"invalid naming pattern {pattern!r}: {exc}") from exc
    groups = set(compiled.groupindex)
    if "well" not in groups and not {"row", "column"} <= groups:
        raise ValueError(f"naming pattern {pattern!r} has no (?P<well>...) or row/column groups")
    return compiled


def _timestamp(groups: dict[str, str | None]) -> datetime | None:
    if groups.get("year") is None:
        return None
    return datetime(
        int(groups["year"] or 0),
        int(groups.get("month") or 1),
        int(groups.get("mday") or 1),
        int(groups.get("hour") or 0),
        int(groups.get("minute") or 0),
        int(groups.get("second") or 0),
    )


def parse_name(relpath: str, pattern: re.Pattern[str]) -> NameFields:
    """Parse a file's relative POSIX path with a compiled naming pattern.

    Raises
    ------
    NamingError
        The name does not match, or lacks a well or any time information.
    """
    match = pattern.search(relpath)
    if match is None:
        raise NamingError("file name does not match the naming pattern")
    groups = match.groupdict()
    try:
        if groups.get("well"):
            well = WellId.parse(groups["well"] or "")
        else:
            well = WellId.parse(f"{groups.get('row')}{groups.get('column')}")
    except ValueError as exc:
        raise NamingError(str(exc)) from exc
    field = int(groups.get("field") or groups.get("site") or 1)
    time_h: float | None = None
    parts = [
        float(groups[name] or 0) * hours
        for name, hours in (("days", 24.0), ("hours", 1.0), ("minutes", 1 / 60))
        if groups.get(name) is not None
    ]
    if parts:
        time_h = sum(parts)
    try:
        acquired_at = _timestamp(groups)
    except ValueError as exc:
        raise NamingError(f"invalid timestamp in name: {exc}") from exc
    if groups.get("timepoint") is not None:
        label = str(int(groups["timepoint"] or 0))
    elif time_h is not None:
        label = f"{time_h:g}h"
    elif acquired_at is not None:
        label = acquired_at.strftime("%Y-%m-%dT%H:%M")
    else:
        raise NamingError("file name gives no time point, time since treatment or timestamp")
    return NameFields(well, field, label, groups.get("plate"), time_h, acquired_at)


def choose_pattern(relpaths: Iterable[str], pattern: str = "auto") -> tuple[str, re.Pattern[str]]:
    """Resolve ``pattern`` ('auto', a preset name or a regex) to ``(name, compiled)``.

    ``auto`` picks the preset that parses the most files; ties go to the first preset.
    """
    if pattern != "auto":
        return pattern, compile_pattern(pattern)
    paths = list(relpaths)
    best, best_count = "", 0
    for name in PRESETS:
        compiled = compile_pattern(name)
        count = sum(1 for p in paths if compiled.search(p))
        if count > best_count:
            best, best_count = name, count
    if not best:
        examples = "; ".join(f"{k}: {v}" for k, v in PRESET_EXAMPLES.items())
        shown = ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "")
        raise ValueError(
            f"no naming preset matches any of the {len(paths)} image files (e.g. {shown}); "
            f"pass --pattern with a regex or a --manifest (presets read names like {examples})"
        )
    return best, compile_pattern(best)
