"""Small query helpers over a results store; the recipes in docs/analysis.md use them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from hts.measure.qc import QC_BITS

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

__all__ = ["flagged_images"]


def flagged_images(results: xr.Dataset, *, flags: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Every measured image with a QC flag: one row per image.

    Parameters
    ----------
    results : xarray.Dataset
        A results store (``hts.open_results``) or a selection of it.
    flags : tuple of str, optional
        Only images with any of these flags (names in ``QC_BITS``); default: any flag.

    Returns
    -------
    pandas.DataFrame
        The :func:`hts.results.export.tidy_table` rows of flagged images (with the
        contour when ``results`` has it), plus ``flags``: the set flags' names joined by ``"+"``. Sorted by
        plate, well and time point.
    """
    from hts.results.export import tidy_table

    wanted = tuple(QC_BITS) if flags is None else flags
    unknown = set(wanted) - set(QC_BITS)
    if unknown:
        raise ValueError(f"unknown QC flags {sorted(unknown)}; known: {list(QC_BITS)}")
    table = tidy_table(results, include_contour=True)
    hit = (table["status"] == "ok") & table[[f"flag_{f}" for f in wanted]].any(axis=1)
    out = table[hit].copy()
    names = np.array(list(QC_BITS), dtype=object)
    bits = out[[f"flag_{f}" for f in QC_BITS]].to_numpy(dtype=bool)
    out["flags"] = ["+".join(names[row]) for row in bits]
    return out.sort_values(["plate", "well", "timepoint"]).reset_index(drop=True)
