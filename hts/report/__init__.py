"""The HTML report of a results store: growth curves, endpoints, QC (matplotlib: lazy)."""

from hts.report.html import render_html, write_report

__all__ = ["render_html", "write_report"]
