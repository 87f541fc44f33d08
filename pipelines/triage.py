"""``call-triage run``: the nightly triage job (DESIGN §4, §5).

archive → read → features (+ dead letters) → windows → RunInference (batched, model once
per worker process) → per-call aggregation → prank rules (per call, then per caller) →
Parquet reports staged under ``<out>/_staging/<run_id>/``, published when the pipeline
has finished, and the run summary written last.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import os
import secrets
import sys
import time
import uuid
import zoneinfo
from collections import Counter
from typing import Any, Iterable, Iterator, Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import RunInference
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from models.bundle import read_bundle_metadata
from models.precision import PRECISIONS
from pipelines import lease, reports
from pipelines.options import (CALLER_KEY_ENV, DEFAULT_TIMEZONE, EXIT_ERROR_RATE,
                               TriageOptions)
from pipelines.scoring import (
    METRICS_NAMESPACE, CallModelHandler, InferenceFailure, PrankRules, ScoredCall,
    add_repeat_caller_reason, score_call, scored_windows_counter, verdict)
from transforms.archive import check_archive_root
from transforms.beam import CALLS, ERRORS, ExtractFeatures, ReadArchive
from transforms.errors import ConfigError, InferenceError, ReportError
from transforms.progress import step_progress
from transforms.records import CallError
from transforms.spec import FeatureConfig

LOG = logging.getLogger(__name__)

#: The runner when none is given: Beam's in-memory FnApiRunner, which honours
#: --direct_num_workers and --direct_running_mode. Beam's DirectRunner would first try to
#: download its Prism runner from GitHub and run the job there (no network at run time).
LOCAL_RUNNER = "FnApiRunner"


@dataclasses.dataclass(frozen=True)
class TriageSettings:
    """Validated settings of one run (no secrets are logged or written)."""

    archive: str
    out: str
    bundle: str
    run_date: str
    timezone: str
    run_id: str
    caller_key: CallerKeySource
    include_transcripts: bool
    allow_empty: bool
    max_error_rate: float
    max_batch_size: int
    inference_precision: str
    rules: PrankRules
    emergency_threshold: float
    model_name: str
    model_version: str
    config: FeatureConfig

    @property
    def staging(self) -> str:
        return reports.staging_root(self.out, self.run_id)

    def describe(self) -> dict[str, Any]:
        """The settings as written to the summary (the key itself is left out)."""
        return {
            "archive": self.archive, "out": self.out, "model": self.bundle,
            "run_date": self.run_date, "timezone": self.timezone, "run_id": self.run_id,
            "caller_hash_key_source": self.caller_key.describe(),
            "include_transcripts": self.include_transcripts,
            "allow_empty": self.allow_empty,
            "max_error_rate": self.max_error_rate,
            "max_batch_size": self.max_batch_size,
            "inference_precision": self.inference_precision,
            "prank_rules": dataclasses.asdict(self.rules),
            "emergency_threshold": self.emergency_threshold,
        }


def parse_timezone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone ``name``; ConfigError when there is none of that name."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"timezone={name!r} is not an IANA time zone name "
                          f"(e.g. {DEFAULT_TIMEZONE})") from None


def parse_run_date(value: Optional[str], *, today: dt.date) -> str:
    """``YYYY-MM-DD`` (default: the day before ``today``, the day a nightly run after
    midnight closes); anything else is a ConfigError."""
    if value is None:
        return (today - dt.timedelta(days=1)).isoformat()
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError as error:
        raise ConfigError(f"run_date={value!r} is not a YYYY-MM-DD date") from error


@dataclasses.dataclass(frozen=True)
class CallerKeySource:
    """Where the workers read the caller-hash key: ``file`` (local or ``gs://``), or
    without one the environment variable :data:`CALLER_KEY_ENV` of each worker. It holds
    no key, so the job graph, the options and the logs never do; ``random`` marks a
    per-run key the launcher wrote to ``file`` (in the run's staging folder)."""

    file: Optional[str]
    random: bool = False

    def read(self) -> bytes:
        """The key; ConfigError when its file is unreadable or empty, or no key is set."""
        if self.file is None:
            value = os.environ.get(CALLER_KEY_ENV, "").strip()
            if not value:
                raise ConfigError(f"${CALLER_KEY_ENV} is not set on this worker; give the "
                                  f"workers the key with --caller-hash-key-file")
            return value.encode("utf-8")
        try:
            with FileSystems.open(self.file) as handle:
                key = handle.read().strip()
        except (OSError, ValueError) as error:
            raise ConfigError(f"cannot read the caller hash key file {self.file}: "
                              f"{type(error).__name__}") from None
        if not key:
            raise ConfigError(f"the caller hash key file {self.file} is empty")
        return key

    def describe(self) -> str:
        """Where the key comes from, for the summary (never the key)."""
        if self.random:
            return "random per-run key"
        return f"file {self.file}" if self.file else f"${CALLER_KEY_ENV}"


def caller_key_source(key_file: Optional[str], *, environ: dict, staging: str
                      ) -> CallerKeySource:
    """Where this run's workers will read the caller-hash key: ``key_file`` (checked
    readable now), else :data:`CALLER_KEY_ENV` when the launcher has it, else a random
    per-run key that :func:`write_random_key` puts in the staging folder."""
    if key_file:
        source = CallerKeySource(file=key_file)
        source.read()
        return source
    if environ.get(CALLER_KEY_ENV, "").strip():
        return CallerKeySource(file=None)
    LOG.warning("no caller hash key (--caller-hash-key-file or $%s): using a random key, "
                "so caller hashes cannot be linked across runs", CALLER_KEY_ENV)
    return CallerKeySource(file=FileSystems.join(staging, "_caller_key"), random=True)


def write_random_key(source: CallerKeySource) -> None:
    """Write a new random key to a random source's file (nothing for other sources)."""
    if not source.random:
        return
    if "://" not in source.file:
        os.makedirs(os.path.dirname(source.file), exist_ok=True)
    with FileSystems.create(source.file) as handle:
        handle.write(secrets.token_hex(32).encode("ascii"))


def remove_random_key(source: CallerKeySource) -> None:
    """Delete a random source's key file once the run is over (kept reports or not)."""
    if source.random and FileSystems.exists(source.file):
        FileSystems.delete([source.file])


def settings_from_options(options: PipelineOptions, *, environ: dict,
                          today: Optional[dt.date] = None) -> TriageSettings:
    """The run's settings, validated; ``today`` (in the call centre's time zone) stands for
    the clock in tests."""
    triage = options.view_as(TriageOptions)
    if not triage.archive or not triage.out:
        raise ConfigError("--archive and --out are required")
    if triage.max_batch_size < 1:
        raise ConfigError(f"max_batch_size={triage.max_batch_size} must be >= 1")
    if not 0.0 <= triage.max_error_rate <= 1.0:
        raise ConfigError(f"max_error_rate={triage.max_error_rate} must be in [0, 1]")
    if triage.caller_hash_key:
        raise ConfigError("--caller-hash-key would put the key into the job's options (and "
                          "the Dataflow console); give a file with --caller-hash-key-file "
                          f"or set ${CALLER_KEY_ENV}")
    metadata = read_bundle_metadata(triage.model)
    zone = parse_timezone(triage.timezone)
    run_date = parse_run_date(triage.run_date, today=today or dt.datetime.now(zone).date())
    run_id = f"{run_date}-{dt.datetime.now(dt.timezone.utc):%H%M%S}-{uuid.uuid4().hex[:8]}"
    out = triage.out.rstrip("/")
    return TriageSettings(
        archive=triage.archive.rstrip("/"), out=out, bundle=triage.model,
        run_date=run_date, timezone=triage.timezone, run_id=run_id,
        caller_key=caller_key_source(triage.caller_hash_key_file, environ=environ,
                                     staging=reports.staging_root(out, run_id)),
        include_transcripts=triage.include_transcripts,
        allow_empty=triage.allow_empty,
        max_error_rate=triage.max_error_rate,
        max_batch_size=triage.max_batch_size,
        inference_precision=triage.inference_precision,
        rules=PrankRules(**{f.name: getattr(triage, f.name)
                            for f in dataclasses.fields(PrankRules)}),
        emergency_threshold=float(metadata["thresholds"]["emergency"]),
        model_name=metadata["model_name"], model_version=metadata["model_version"],
        config=FeatureConfig.from_dict(metadata["feature_config"]),
    )


def _count(name: str):
    return Metrics.counter(METRICS_NAMESPACE, name)


def _counted(element: Any, name: str) -> Any:
    """Pass ``element`` through, counting it in the Beam counter ``name``."""
    _count(name).inc()
    return element


class _AggregateFn(beam.DoFn):
    """``(call, outputs)`` from RunInference → ScoredCall, or a CallError when the model
    could not score the call (``outputs`` is an InferenceFailure)."""

    def __init__(self, settings: TriageSettings):
        super().__init__()
        self._settings = settings
        self._key: Optional[bytes] = None

    def setup(self) -> None:
        self._key = self._settings.caller_key.read()

    def process(self, prediction: tuple) -> Iterator[Any]:
        call, outputs = prediction
        step_progress("scored").add()
        if isinstance(outputs, InferenceFailure):
            yield beam.pvalue.TaggedOutput(ERRORS, CallError.of(
                call.record, InferenceError(outputs.message)))
            return
        yield score_call(call, outputs, window_s=self._settings.config.window_s,
                         key=self._key, rules=self._settings.rules)


def caller_group_key(call: ScoredCall) -> tuple[str, ScoredCall]:
    """Calls of one caller share a key; calls with no caller id stay on their own."""
    return (call.caller_hash or f"call:{call.record.call_id}"), call


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
    reason_scores = [score for _, score in call.reasons]
    prank_score = max(reason_scores + [scores.prank_score or 0.0])
    flag = verdict(emergency_score=scores.emergency_score,
                   prank_score=max(reason_scores, default=0.0),
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
        "prank_score": float(prank_score),
        "prank_reasons": sorted(name for name, _ in call.reasons),
        "evidence_start_s": float(scores.evidence_start_s),
        "evidence_end_s": float(scores.evidence_end_s),
        "flag": flag,
        "model_name": settings.model_name,
        "model_version": settings.model_version,
        "scored_at": scored_at,
    }
    if settings.include_transcripts:
        row["transcript"] = call.record.transcript
    return row


class _CallRowsFn(beam.DoFn):
    """All scored calls of one caller → report rows, after the repeat-caller rule."""

    def __init__(self, settings: TriageSettings):
        super().__init__()
        self._settings = settings

    def process(self, group: tuple[str, Iterable[ScoredCall]]) -> Iterator[dict]:
        _, calls = group
        scored_at = dt.datetime.now(dt.timezone.utc)
        for call in add_repeat_caller_reason(list(calls), rules=self._settings.rules):
            row = call_row(call, settings=self._settings, scored_at=scored_at)
            _count("calls_scored").inc()
            _count(f"flagged_{row['flag']}").inc()
            yield row


def _write(rows, label: str, *, root: str, report: str, run_date: str, schema):
    return rows | label >> beam.io.WriteToParquet(
        FileSystems.join(reports.partition_dir(root, report, run_date), "part"),
        schema=schema, codec=reports.PARQUET_CODEC, file_name_suffix=".parquet",
        num_shards=reports.SHARDS)


def build_pipeline(pipeline: beam.Pipeline, *, settings: TriageSettings) -> None:
    """Wire the nightly job into ``pipeline``; reports go to ``settings.staging``."""
    staging, run_date = settings.staging, settings.run_date
    listed = pipeline | "ReadArchive" >> ReadArchive(settings.archive)
    ((listed[CALLS] | "CallIds" >> beam.Map(lambda record: record.call_id),
      listed[ERRORS] | "RejectedIds" >> beam.Map(lambda error: error.call_id))
     | "InputIds" >> beam.Flatten()
     | "CountRead" >> beam.Map(_counted, "calls_read")
     | "IdsAsJson" >> beam.Map(json.dumps)
     | "WriteInputIds" >> beam.io.WriteToText(
         FileSystems.join(staging, reports.INPUTS, "ids"), file_name_suffix=".jsonl"))
    features = listed[CALLS] | "ExtractFeatures" >> ExtractFeatures(
        settings.config, keep_transcript=settings.include_transcripts)
    aggregated = (
        features[CALLS]
        | "RunInference" >> RunInference(
            CallModelHandler(settings.bundle, max_batch_size=settings.max_batch_size,
                             precision=settings.inference_precision))
        | "Aggregate" >> beam.ParDo(_AggregateFn(settings)).with_outputs(ERRORS, main=CALLS))
    rows = (
        aggregated[CALLS]
        | "KeyByCaller" >> beam.Map(caller_group_key)
        | "GroupByCaller" >> beam.GroupByKey()
        | "CallRows" >> beam.ParDo(_CallRowsFn(settings)))
    schema = reports.calls_schema(include_transcript=settings.include_transcripts)
    common = {"root": staging, "run_date": run_date, "schema": schema}
    _write(rows, "WriteCalls", report=reports.CALLS, **common)
    for report, flag in reports.FLAGGED_REPORTS.items():
        name = report.title().replace("_", "")
        _write(rows | name >> beam.Filter(lambda row, flag=flag: row["flag"] == flag),
               f"Write{name}", report=report, **common)
    errors = ((listed[ERRORS], features[ERRORS], aggregated[ERRORS])
              | "AllErrors" >> beam.Flatten()
              | "CountErrors" >> beam.Map(_counted, "calls_failed")
              | "ErrorRows" >> beam.Map(reports.error_row))
    _write(errors, "WriteErrors", root=staging, report=reports.ERRORS, run_date=run_date,
           schema=reports.ERRORS_SCHEMA)


def read_input_ids(staging: str) -> list[str]:
    """The ids of every input row, as the pipeline staged them."""
    pattern = FileSystems.join(staging, reports.INPUTS, "ids*")
    ids = []
    for meta in FileSystems.match([pattern])[0].metadata_list:
        with FileSystems.open(meta.path) as handle:
            ids.extend(json.loads(line) for line in handle.read().decode().splitlines() if line)
    return ids


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


def finish_run(settings: TriageSettings, *, timings: dict[str, float],
               counters: dict[str, int]) -> dict[str, Any]:
    """Check the invariant on the staged reports, publish them, write the summary last.

    Raises :class:`~transforms.errors.ReportError` (reports left in staging, nothing
    published) when some input call is missing from both reports or appears twice, and
    when the archive listed no call while the night is already published, unless
    ``settings.allow_empty`` (then nothing is staged any more either).
    """
    started = time.monotonic()
    input_ids = read_input_ids(settings.staging)
    if not input_ids and not settings.allow_empty and reports.is_published(
            out=settings.out, run_date=settings.run_date):
        reports.remove_staging(settings.staging)
        raise ReportError(f"the archive {settings.archive} lists no calls; the published "
                          f"night of {settings.run_date} under {settings.out} is kept (pass "
                          f"--allow-empty to replace it with an empty night)")
    calls = reports.read_report(settings.staging, reports.CALLS, settings.run_date,
                                columns=["call_id", "flag"])
    errors = reports.read_report(settings.staging, reports.ERRORS, settings.run_date,
                                 columns=["call_id", "stage"])
    problems = reports.check_invariant(
        input_ids=input_ids, scored_ids=calls["call_id"].to_pylist(),
        error_ids=errors["call_id"].to_pylist())
    if problems:
        raise ReportError(f"input = scored + errors does not hold: {'; '.join(problems)}; "
                          f"reports left unpublished in {settings.staging}")
    reports.publish_reports(out=settings.out, staging=settings.staging,
                            run_date=settings.run_date)
    reports.remove_staging(settings.staging)
    timings = {**timings, "publish_s": round(time.monotonic() - started, 3)}
    flags = Counter(calls["flag"].to_pylist())
    summary = {
        "status": "complete",
        "run_id": settings.run_id,
        "run_date": settings.run_date,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "counts": {
            "input": len(input_ids),
            "scored": calls.num_rows,
            "errors": errors.num_rows,
            "emergencies": flags.get("emergency", 0),
            "prank_candidates": flags.get("prank_candidate", 0),
            "silent": flags.get("silent", 0),
            "normal": flags.get("normal", 0),
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
    summary["summary_path"] = reports.write_summary(
        out=settings.out, run_date=settings.run_date, summary=summary)
    return summary


def run(argv: Optional[Sequence[str]] = None, *, environ: Optional[dict] = None,
        today: Optional[dt.date] = None) -> dict[str, Any]:
    """Run the nightly job with command-line style ``argv``; returns the run summary."""
    options = PipelineOptions(list(argv or []))
    standard = options.view_as(StandardOptions)
    standard.runner = standard.runner or LOCAL_RUNNER
    settings = settings_from_options(
        options, environ=dict(os.environ if environ is None else environ), today=today)
    LOG.info("run %s: %s → %s with %s %s (runner %s)", settings.run_id, settings.archive,
             settings.out, settings.model_name, settings.model_version, standard.runner)
    started = time.monotonic()
    check_archive_root(settings.archive)
    night = lease.acquire(out=settings.out, run_date=settings.run_date, run_id=settings.run_id,
                          now=dt.datetime.now(dt.timezone.utc))
    try:
        for folder in reports.stale_staging(out=settings.out, run_date=settings.run_date,
                                            run_id=settings.run_id):
            LOG.info("removing %s, left by an earlier run of the night", folder)
            reports.remove_staging(folder)
        write_random_key(settings.caller_key)
        pipeline = beam.Pipeline(options=options)
        build_pipeline(pipeline, settings=settings)
        result = pipeline.run()
        result.wait_until_finish()
        timings = {"pipeline_s": round(time.monotonic() - started, 3)}
        summary = finish_run(settings, timings=timings, counters=counter_values(result))
    except BaseException as error:
        failure = reports.write_failure(out=settings.out, run_date=settings.run_date,
                                        run_id=settings.run_id, error=error)
        LOG.error("run %s failed (%s); recorded in %s", settings.run_id,
                  type(error).__name__, failure)
        raise
    finally:
        remove_random_key(settings.caller_key)
        lease.release(night)
    summary["timings"]["total_s"] = round(time.monotonic() - started, 3)
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """A short human summary and a ready-to-paste DuckDB query over the reports."""
    counts = summary["counts"]
    query = (f"SELECT flag, category, count(*) AS calls, round(avg(emergency_score), 3) AS "
             f"mean_score FROM read_parquet('{summary['options']['out']}/calls/*/*.parquet', "
             f"hive_partitioning = true) WHERE run_date = '{summary['run_date']}' "
             f"GROUP BY ALL ORDER BY calls DESC")
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
        "DuckDB (paste into the duckdb shell, or run with python -c below):",
        f"  {query}",
        f"  .venv/bin/python -c \"import duckdb; duckdb.sql(\\\"{query}\\\").show()\"",
    ]
    return "\n".join(lines)


def error_rate(summary: dict[str, Any]) -> float:
    """The share of the run's input calls that failed (0 for an empty run)."""
    counts = summary["counts"]
    return counts["errors"] / counts["input"] if counts["input"] else 0.0


def run_command(args: argparse.Namespace) -> int:
    summary = run(args.command_argv)
    print(format_summary(summary))
    limit = summary["options"]["max_error_rate"]
    if error_rate(summary) > limit:
        print(f"call-triage run: {summary['counts']['errors']} of {summary['counts']['input']} "
              f"calls failed ({error_rate(summary):.1%}), more than --max-error-rate "
              f"{limit:.1%}; the reports are published", file=sys.stderr)
        return EXIT_ERROR_RATE
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    print(format_summary(run(sys.argv[1:])))
