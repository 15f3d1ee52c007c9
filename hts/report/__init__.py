"""The HTML report of a results store: growth curves, endpoints, QC (matplotlib: lazy)."""

from hts.report.html import RenderedReport, render_html, render_report, write_report

__all__ = ["RenderedReport", "render_html", "render_report", "write_report"]
