"""The reports (docs/reports.md): their names, their Parquet schemas and how a scored
call or a failed one becomes a row. A new column goes in its schema and its row here.

Staging and publishing the reports are in :mod:`pipelines.publish`.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from typing import TYPE_CHECKING, Any, Optional, Sequence

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from pipelines.rules import reported_prank_score, verdict
from pipelines.scoring import ScoredCall
from transforms.errors import ConfigError
from transforms.records import CallError

if TYPE_CHECKING:
    from pipelines.settings import TriageSettings

LOG = logging.getLogger(__name__)

CALLS = "calls"
EMERGENCIES = "emergencies"
PRANK_CANDIDATES = "prank_candidates"
SILENT = "silent"
ERRORS = "errors"
REPORTS = (CALLS, EMERGENCIES, PRANK_CANDIDATES, SILENT, ERRORS)
#: The flagged subsets of ``calls``: report → the flag its rows carry.
FLAGGED_REPORTS = {EMERGENCIES: "emergency", PRANK_CANDIDATES: "prank_candidate",
                   SILENT: "silent"}
#: Compression of every Parquet report (DuckDB, pyarrow, Spark and BigQuery read it).
PARQUET_CODEC = "zstd"
#: Files per report and night: one, whatever the runner's parallelism (a night's calls
#: report is a few MB; thousands of small files slow DuckDB and BigQuery down).
SHARDS = 1
#: The night's HTML report (pipelines.night_report), beside the Parquet reports.
HTML_REPORT = "report"


ERRORS_SCHEMA = pa.schema([
    pa.field("call_id", pa.string(), nullable=False),
    pa.field("source_uri", pa.string(), nullable=False),
    pa.field("stage", pa.string(), nullable=False),
    pa.field("error_type", pa.string(), nullable=False),
    pa.field("message", pa.string(), nullable=False),
])


def calls_schema(*, include_transcript: bool = False) -> pa.Schema:
    """The ``calls`` report (and its flagged subsets): one row per scored call.

    Scores are probabilities in [0, 1]; times in seconds from the call's start; ``text_score``
    is null for a call with no transcript, ``audio_score``/``text_score`` null for models
    without those heads. ``speech_s``: seconds of speech the speech detector heard
    (:mod:`transforms.speech`); ``audio_warnings``: what is wrong with the file but still
    scored (``truncated``: it ends before its header says). ``prank_reason_scores[i]`` is
    the score of ``prank_reasons[i]``; ``emergency_threshold`` the one the flag was judged
    by. ``transcript`` exists only when the run asked for it.
    """
    fields = [
        pa.field("call_id", pa.string(), nullable=False),
        pa.field("audio_uri", pa.string(), nullable=False),
        pa.field("started_at", pa.timestamp("us", tz="UTC")),
        pa.field("line", pa.string()),
        pa.field("caller_hash", pa.string()),
        pa.field("duration_s", pa.float64(), nullable=False),
        pa.field("sample_rate_hz", pa.int32(), nullable=False),
        pa.field("speech_s", pa.float64()),
        pa.field("audio_warnings", pa.list_(pa.string()), nullable=False),
        pa.field("emergency_score", pa.float64(), nullable=False),
        pa.field("audio_score", pa.float64()),
        pa.field("text_score", pa.float64()),
        pa.field("category", pa.string(), nullable=False),
        pa.field("category_score", pa.float64(), nullable=False),
        pa.field("prank_score", pa.float64(), nullable=False),
        pa.field("prank_reasons", pa.list_(pa.string()), nullable=False),
        pa.field("prank_reason_scores", pa.list_(pa.float64()), nullable=False),
        pa.field("evidence_start_s", pa.float64(), nullable=False),
        pa.field("evidence_end_s", pa.float64(), nullable=False),
        pa.field("flag", pa.string(), nullable=False),
        pa.field("emergency_threshold", pa.float64(), nullable=False),
        pa.field("model_name", pa.string(), nullable=False),
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("scored_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
    if include_transcript:
        fields.append(pa.field("transcript", pa.string()))
    return pa.schema(fields)


def error_row(error: CallError) -> dict:
    """A :class:`CallError` as a row of :data:`ERRORS_SCHEMA`."""
    return {
        "call_id": error.call_id, "source_uri": error.source_uri, "stage": error.stage,
        "error_type": error.error_type, "message": error.message,
    }


def checked_run_date(value: str) -> str:
    """A night's date as its partitions name it (``YYYY-MM-DD``); ConfigError otherwise."""
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise ConfigError(f"run_date={value!r} is not a YYYY-MM-DD date") from None


def partition_dir(root: str, report: str, run_date: str) -> str:
    """``<root>/<report>/run_date=<run_date>``: a Hive partition folder."""
    return FileSystems.join(root, report, f"run_date={run_date}")


def files_under(folder: str) -> list[str]:
    """The files directly in ``folder`` (local or ``gs://``), sorted."""
    pattern = FileSystems.join(folder, "*")
    return sorted(meta.path for meta in FileSystems.match([pattern])[0].metadata_list)


def read_report(root: str, report: str, run_date: str, *, columns: Sequence[str]) -> pa.Table:
    """The rows of one partition (only ``columns``), read with pyarrow through FileSystems."""
    tables = []
    for path in files_under(partition_dir(root, report, run_date)):
        with FileSystems.open(path) as handle:
            tables.append(pq.read_table(handle, columns=list(columns)))
    if not tables:
        return pa.table({name: pa.array([], pa.string()) for name in columns})
    return pa.concat_tables(tables)


def parse_started_at(value: Optional[str], *, timezone: dt.tzinfo) -> Optional[dt.datetime]:
    """ISO 8601 → aware UTC datetime; a value without an offset is the call centre's local
    time (``timezone``). None if absent or not ISO 8601 (logged without the value)."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        LOG.warning("a started_at of %d characters is not ISO 8601; written as null",
                    len(value))
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone)
    return parsed.astimezone(dt.timezone.utc)


def call_row(call: ScoredCall, *, settings: TriageSettings, scored_at: dt.datetime
             ) -> dict[str, Any]:
    """One row of the ``calls`` report (:func:`pipelines.reports.calls_schema`); with
    ``settings.include_transcripts``, the transcript the features step kept in the
    call's record (``ExtractFeatures(keep_transcript=True)``, so it is read once)."""
    scores = call.scores
    reasons = sorted(call.reasons)
    flag = verdict(emergency_score=scores.emergency_score, reasons=call.reasons,
                   emergency_threshold=settings.emergency_threshold, rules=settings.rules,
                   silent=call.silent)
    row = {
        "call_id": call.record.call_id,
        "audio_uri": call.record.audio_uri,
        "started_at": parse_started_at(call.record.started_at,
                                       timezone=zoneinfo.ZoneInfo(settings.timezone)),
        "line": call.record.line,
        "caller_hash": call.caller_hash,
        "duration_s": float(call.duration_s),
        "sample_rate_hz": int(call.sample_rate_hz),
        "speech_s": call.speech_s,
        "audio_warnings": list(call.audio_warnings),
        "emergency_score": float(scores.emergency_score),
        "audio_score": None if scores.audio_score is None else float(scores.audio_score),
        "text_score": None if scores.text_score is None else float(scores.text_score),
        "category": scores.category,
        "category_score": float(scores.category_score),
        "prank_score": float(reported_prank_score(reasons=call.reasons,
                                                  model_prank_score=scores.prank_score)),
        "prank_reasons": [name for name, _ in reasons],
        "prank_reason_scores": [float(score) for _, score in reasons],
        "evidence_start_s": float(scores.evidence_start_s),
        "evidence_end_s": float(scores.evidence_end_s),
        "flag": flag,
        "emergency_threshold": float(settings.emergency_threshold),
        "model_name": settings.model_name,
        "model_version": settings.model_version,
        "scored_at": scored_at,
    }
    if settings.include_transcripts:
        row["transcript"] = call.record.transcript
    return row
