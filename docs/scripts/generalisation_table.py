"""One markdown table of mean JCD per set and category, for several models (model card).

Reads the ``per_image.csv`` that ``hts evaluate --out DIR`` writes. Each column is a model,
each ``--set NAME=DIR1,DIR2,...`` a row group (one DIR per model, in the order of
``--models``); the cell is the mean JCD, with the silent-failure share (JCD >= 0.5 with no
QC flag) in brackets where QC was recorded. Example:

    python docs/scripts/generalisation_table.py --models v5 v4 classical \
        --set "own test=eval/test_v5,eval/test_v4,eval/test_classical" \
        --set "held-out renderer=eval/ho_v5,eval/ho_v4,eval/ho_classical" \
        --set "real-dev=eval/real_v5,eval/real_v4,eval/real_classical"
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path


def _rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "per_image.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def _cell(rows: list[dict[str, str]]) -> str:
    jcd = statistics.fmean(float(r["jcd"]) for r in rows)
    if rows and "silent_failure" in rows[0] and rows[0].get("qc_bits", "-1") != "-1":
        silent = statistics.fmean(r["silent_failure"] == "True" for r in rows)
        return f"{jcd:.3f} ({silent:.2f})"
    return f"{jcd:.3f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", required=True)
    p.add_argument("--set", action="append", required=True, help="NAME=DIR1,DIR2,...")
    args = p.parse_args()
    print("| set | n | " + " | ".join(args.models) + " |")
    print("|---|---|" + "---|" * len(args.models))
    for spec in args.set:
        name, dirs = spec.split("=", 1)
        per_model = [_rows(Path(d)) for d in dirs.split(",")]
        if len(per_model) != len(args.models):
            raise SystemExit(f"{name}: {len(per_model)} folders for {len(args.models)} models")
        categories = sorted({r["category"] for r in per_model[0]} - {""})
        groups = [("all", lambda r: True)] + [
            (c, lambda r, c=c: r["category"] == c) for c in categories
        ]
        for label, keep in groups:
            cells = [_cell([r for r in rows if keep(r)]) for rows in per_model]
            n = sum(1 for r in per_model[0] if keep(r))
            title = name if label == "all" else f"{name}: {label}"
            print(f"| {title} | {n} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
