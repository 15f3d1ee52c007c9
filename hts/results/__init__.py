"""The results store: per-spheroid measurements over time, on Zarr, opened with xarray."""

from hts.results.schema import MEASUREMENTS, VARIABLES, Status
from hts.results.store import Position, ResultsStore, default_results_path, open_results

__all__ = [
    "MEASUREMENTS",
    "VARIABLES",
    "Position",
    "ResultsStore",
    "Status",
    "default_results_path",
    "open_results",
]
