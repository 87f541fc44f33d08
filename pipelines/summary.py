"""The run summary: what a finished night's ``summary.json`` holds, and the short text
``call-triage run`` prints."""

from __future__ import annotations

import datetime as dt
import os
import shlex
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any, Sequence

import apache_beam as beam
import pyarrow as pa

from models.precision import PRECISIONS, scored_windows_counter
from transforms.progress import METRICS_NAMESPACE

if TYPE_CHECKING:
    from pipelines.settings import TriageSettings

#: Each flag's count in the summary's ``counts``.
FLAG_COUNTS = {"emergency": "emergencies", "prank_candidate": "prank_candidates",
               "silent": "silent", "normal": "normal"}


def run_summary(settings: TriageSettings, *, input_ids: Sequence[str], calls: pa.Table,
                errors: pa.Table, timings: dict[str, float], counters: dict[str, int]
                ) -> dict[str, Any]:
    """The summary of a run whose reports hold ``calls`` (columns ``call_id``, ``flag``)
    and ``errors`` (``call_id``, ``stage``) for ``input_ids``."""
    flags = Counter(calls["flag"].to_pylist())
    return {
        "status": "complete",
        "run_id": settings.run_id,
        "run_date": settings.run_date,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "counts": {
            "input": len(input_ids),
            "scored": calls.num_rows,
            "errors": errors.num_rows,
            **{key: flags.get(flag, 0) for flag, key in FLAG_COUNTS.items()},
            "errors_by_stage": dict(sorted(Counter(errors["stage"].to_pylist()).items())),
        },
        "invariant": {"statement": "input = scored + errors", "holds": True},
        "timings": timings,
        "model": {"name": settings.model_name, "version": settings.model_version,
                  "bundle": settings.bundle,
                  "emergency_threshold": settings.emergency_threshold,
                  "windows_by_precision": windows_by_precision(counters)},
        "options": settings.describe(),
        "counters": counters,
    }


def counter_values(result: beam.runners.runner.PipelineResult) -> dict[str, int]:
    """The job's Beam counters of our namespace (committed values where the runner has them)."""
    values: dict[str, int] = {}
    for counter in result.metrics().query()["counters"]:
        if counter.key.metric.namespace == METRICS_NAMESPACE:
            value = counter.committed if counter.committed is not None else counter.attempted
            values[counter.key.metric.name] = values.get(counter.key.metric.name, 0) + value
    return values


def windows_by_precision(counters: dict[str, int]) -> dict[str, int]:
    """Windows the model scored in each precision, from the job's counters (with
    ``--inference_precision auto`` each worker chooses its own)."""
    return {precision: counters[scored_windows_counter(precision)] for precision in PRECISIONS
            if counters.get(scored_windows_counter(precision))}


def duckdb_query(summary: dict[str, Any]) -> str:
    """A DuckDB query of the night's calls by flag and category, with the absolute path of
    the reports (local or ``gs://``)."""
    out = summary["options"]["out"]
    root = out if "://" in out else os.path.abspath(out)
    return (f"SELECT flag, category, count(*) AS calls, round(avg(emergency_score), 3) AS "
            f"mean_score FROM read_parquet('{root}/calls/*/*.parquet', hive_partitioning = "
            f"true) WHERE run_date = '{summary['run_date']}' GROUP BY ALL ORDER BY calls DESC")


def format_summary(summary: dict[str, Any]) -> str:
    """A short human summary, the DuckDB query over the reports as SQL and as a command
    that runs it from any folder (this Python has duckdb), and last the report's path."""
    counts = summary["counts"]
    query = duckdb_query(summary)
    python_call = f"import duckdb; duckdb.sql({query!r}).show()"
    lines = [
        f"run {summary['run_id']} ({summary['model']['name']} {summary['model']['version']})",
        f"  calls:            {counts['input']}",
        f"  scored:           {counts['scored']}",
        f"  emergencies:      {counts['emergencies']}",
        f"  prank candidates: {counts['prank_candidates']}",
        f"  silent:           {counts['silent']}",
        f"  errors:           {counts['errors']} {counts['errors_by_stage'] or ''}".rstrip(),
        "  model windows:    " + (", ".join(
            f"{n} in {precision}" for precision, n in
            summary['model']['windows_by_precision'].items()) or "none"),
        f"  time:             {summary['timings']['total_s']:.1f} s",
        f"  summary:          {summary['summary_path']}",
        "",
        "DuckDB SQL (in the duckdb shell, or run as below):",
        f"  {query}",
        f"  {shlex.quote(sys.executable)} -c {shlex.quote(python_call)}",
        "",
        f"report: {_report_line(summary)}",
    ]
    return "\n".join(lines)


def _report_line(summary: dict[str, Any]) -> str:
    if summary.get("report_path"):
        return summary["report_path"]
    if summary["options"]["report"]:
        return "not written (see the log)"
    return "not written (--no-report)"


def error_rate(summary: dict[str, Any]) -> float:
    """The share of the run's input calls that failed (0 for an empty run)."""
    counts = summary["counts"]
    return counts["errors"] / counts["input"] if counts["input"] else 0.0
