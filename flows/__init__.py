"""Prefect flows around hts: the nightly screen and archive reprocessing.

``hts`` itself never imports Prefect; these flows use only its public API. Deployments are
declared in ``prefect.yaml`` at the repository root; see docs/deploy.md.
"""

from flows.cluster import ClusterConfig, open_cluster
from flows.nightly import NightlySummary, nightly_screen
from flows.reprocess import ReprocessSummary, reprocess_archive

__all__ = [
    "ClusterConfig",
    "NightlySummary",
    "ReprocessSummary",
    "nightly_screen",
    "open_cluster",
    "reprocess_archive",
]
