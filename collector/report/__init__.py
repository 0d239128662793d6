"""The HTML report for decision makers: one self-contained page, no external assets."""

from ronda.collector.report.data import build_report
from ronda.collector.report.html import render_html

__all__ = ["build_report", "render_html"]
