"""The Parquet reports of DESIGN §4: schemas, staging and publishing, the run summary.

A run writes every report under ``<out>/_staging/<run_id>/`` first. Only when the pipeline
has finished does :func:`publish_reports` replace the night's partitions
(``<out>/<report>/run_date=YYYY-MM-DD/``) with the staged files, and the run summary is
written last. A run that dies half-way leaves the published partitions as they were.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from typing import Iterable, Mapping, Sequence

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from transforms.records import CallError

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
SUMMARIES = "summaries"
SUMMARY_FILE = "summary.json"
STAGING = "_staging"
FAILURE_MESSAGE_CHARS = 2_000
#: Compression of every Parquet report (DuckDB, pyarrow, Spark and BigQuery read it).
PARQUET_CODEC = "zstd"
#: Files per report and night: one, whatever the runner's parallelism (a night's calls
#: report is a few MB; thousands of small files slow DuckDB and BigQuery down).
SHARDS = 1
INPUTS = "_inputs"


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
    scored (``truncated``: it ends before its header says). ``transcript`` exists only when the run asked for it.
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
        pa.field("evidence_start_s", pa.float64(), nullable=False),
        pa.field("evidence_end_s", pa.float64(), nullable=False),
        pa.field("flag", pa.string(), nullable=False),
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


def partition_dir(root: str, report: str, run_date: str) -> str:
    """``<root>/<report>/run_date=<run_date>``: a Hive partition folder."""
    return FileSystems.join(root, report, f"run_date={run_date}")


def staging_root(out: str, run_id: str) -> str:
    return FileSystems.join(out, STAGING, run_id)


def _files_under(folder: str) -> list[str]:
    pattern = FileSystems.join(folder, "*")
    return sorted(meta.path for meta in FileSystems.match([pattern])[0].metadata_list)


def _delete(paths: Sequence[str]) -> None:
    if paths:
        FileSystems.delete(list(paths))


def read_report(root: str, report: str, run_date: str, *, columns: Sequence[str]) -> pa.Table:
    """The rows of one partition (only ``columns``), read with pyarrow through FileSystems."""
    tables = []
    for path in _files_under(partition_dir(root, report, run_date)):
        with FileSystems.open(path) as handle:
            tables.append(pq.read_table(handle, columns=list(columns)))
    if not tables:
        return pa.table({name: pa.array([], pa.string()) for name in columns})
    return pa.concat_tables(tables)


def check_invariant(*, input_ids: Iterable[str], scored_ids: Sequence[str],
                    error_ids: Sequence[str]) -> list[str]:
    """Problems with "every input call is in calls or errors, exactly once" ([] = holds).

    ``input_ids`` lists every input row (a duplicated manifest id appears once per row);
    each such row must be matched by exactly one row of ``calls`` or ``errors``.
    """
    expected = Counter(input_ids)
    got = Counter(scored_ids) + Counter(error_ids)
    problems = []
    missing = expected - got
    extra = got - expected
    if missing:
        problems.append(f"{sum(missing.values())} input calls in neither calls nor errors, "
                        f"e.g. {sorted(missing)[:5]}")
    if extra:
        problems.append(f"{sum(extra.values())} report rows beyond the input, "
                        f"e.g. {sorted(extra)[:5]}")
    both = set(scored_ids) & set(error_ids)
    if both:
        problems.append(f"{len(both)} calls in both calls and errors, e.g. {sorted(both)[:5]}")
    return problems


def publish_reports(*, out: str, staging: str, run_date: str) -> None:
    """Replace the night's partitions of every report by the staged ones.

    The summary of the night is removed first and written again only after publishing
    (:func:`write_summary`), so a reader never takes a half-published night for a finished one.
    """
    _delete(_files_under(partition_dir(out, SUMMARIES, run_date)))
    for report in REPORTS:
        staged = _files_under(partition_dir(staging, report, run_date))
        _delete(_files_under(partition_dir(out, report, run_date)))
        target = partition_dir(out, report, run_date)
        destinations = [FileSystems.join(target, path.rsplit("/", 1)[-1]) for path in staged]
        if not staged:
            continue
        if not FileSystems.exists(target):
            FileSystems.mkdirs(target)
        FileSystems.rename(staged, destinations)
    LOG.info("published %s partitions of run_date=%s under %s", len(REPORTS), run_date, out)


def is_published(*, out: str, run_date: str) -> bool:
    """Whether the night ``run_date`` has a published summary under ``out``."""
    return FileSystems.exists(FileSystems.join(partition_dir(out, SUMMARIES, run_date),
                                               SUMMARY_FILE))


def write_summary(*, out: str, run_date: str, summary: Mapping) -> str:
    """Write the run summary last; returns its path."""
    path = FileSystems.join(partition_dir(out, SUMMARIES, run_date), SUMMARY_FILE)
    with FileSystems.create(path) as handle:
        handle.write(json.dumps(summary, indent=2, sort_keys=True, default=str).encode())
    return path


def stale_staging(*, out: str, run_date: str, run_id: str) -> list[str]:
    """The staging folders other runs of the night ``run_date`` left under ``out`` (run ids
    start with their run date): stale once this run holds the night's lease."""
    pattern = FileSystems.join(out, STAGING, f"{run_date}-*", "**")
    prefix = FileSystems.join(out, STAGING, "")
    folders = {prefix + meta.path[len(prefix):].split("/", 1)[0]
               for meta in FileSystems.match([pattern])[0].metadata_list}
    return sorted(folder for folder in folders if not folder.endswith("/" + run_id))


def write_failure(*, out: str, run_date: str, run_id: str, error: BaseException) -> str:
    """Record that run ``run_id`` failed, beside the night's summary (the published night,
    if any, is left as it was); returns the record's path. The message is cut to
    :data:`FAILURE_MESSAGE_CHARS`."""
    path = FileSystems.join(partition_dir(out, SUMMARIES, run_date), f"failed-{run_id}.json")
    record = {"status": "failed", "run_id": run_id, "run_date": run_date,
              "failed_at": dt.datetime.now(dt.timezone.utc).isoformat(),
              "error_type": type(error).__name__,
              "message": str(error)[:FAILURE_MESSAGE_CHARS]}
    with FileSystems.create(path) as handle:
        handle.write(json.dumps(record, indent=2).encode())
    return path


def remove_staging(staging: str) -> None:
    """Delete what a run staged (after publishing): a local folder tree, or every object
    under a ``gs://`` prefix (object stores have no folders, so ``exists`` is False there)."""
    if FileSystems.exists(staging):
        FileSystems.delete([staging])
        return
    leftovers = FileSystems.match([FileSystems.join(staging, "**")])[0].metadata_list
    if leftovers:
        FileSystems.delete([meta.path for meta in leftovers])
