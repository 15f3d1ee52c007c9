"""The results store: per-spheroid measurements over time, on Zarr, opened with xarray."""

from hts.results.key_figures import ArmFigures, PlateFigures, ResultsFigures, results_figures
from hts.results.schema import MEASUREMENTS, VARIABLES, Status
from hts.results.store import Position, ResultsStore, default_results_path, open_results

__all__ = [
    "MEASUREMENTS",
    "VARIABLES",
    "ArmFigures",
    "PlateFigures",
    "Position",
    "ResultsFigures",
    "ResultsStore",
    "Status",
    "default_results_path",
    "open_results",
    "results_figures",
]
