"""Ingest reports: what happened to every file, in words a scientist can act on."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["IngestReport", "Problem", "ProblemKind"]


class ProblemKind:
    """Kinds of problem, from worst to mildest."""

    #: The file was not ingested (unreadable, truncated, bad name, wrong shape, duplicate ...).
    SKIPPED = "skipped"
    #: Already ingested, but its content changed since; the ingested version is kept.
    CHANGED = "changed"
    #: The plate's stored image is missing, undecodable or differs from what was ingested.
    DAMAGED = "damaged"
    #: The source file of an ingested image is gone or changed (``hts verify``).
    SOURCE = "source"
    #: Ingested, but something is off (e.g. its well is not in the plate map).
    WARNING = "warning"
    #: Not an image file; left alone.
    IGNORED = "ignored"


@dataclass(frozen=True)
class Problem:
    """One file and what went wrong with it."""

    path: str
    kind: str
    reason: str


@dataclass(frozen=True)
class IngestReport:
    """Summary of one ingest run, stored in the plate's attributes."""

    plate: str
    source: str
    pattern: str
    started_at: str
    finished_at: str
    n_files: int
    n_new: int
    n_unchanged: int
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    def count(self, kind: str) -> int:
        return sum(1 for p in self.problems if p.kind == kind)

    @property
    def n_skipped(self) -> int:
        return self.count(ProblemKind.SKIPPED)

    @property
    def n_changed(self) -> int:
        return self.count(ProblemKind.CHANGED)

    @property
    def complete(self) -> bool:
        """True when every image file is in the plate as it is on disk now."""
        return self.n_skipped == 0 and self.n_changed == 0 and not self.count(ProblemKind.DAMAGED)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["problems"] = [asdict(p) for p in self.problems]
        data["counts"] = dict(Counter(p.kind for p in self.problems))
        return data

    def summary(self) -> str:
        """A few human-readable lines."""
        lines = [
            f"plate {self.plate}: {self.n_files} files seen, {self.n_new} new images ingested, "
            f"{self.n_unchanged} already ingested",
        ]
        counts = Counter(p.kind for p in self.problems)
        if counts:
            lines.append(", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())))
        return "\n".join(lines)
