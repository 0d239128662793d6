"""Usage from access logs: who still uses each app, per day, with the evidence's coverage.

from ronda.agent.usage import collect_usage, UsageOptions, summarize
errors = collect_usage(host, apps, log_formats, state_dir)   # fills app.usage for every app
"""

from ronda.agent.usage.collect import ScanStats, UsageCollector, collect_usage
from ronda.agent.usage.options import UsageOptions
from ronda.agent.usage.report import summarize

__all__ = ["ScanStats", "UsageCollector", "UsageOptions", "collect_usage", "summarize"]
