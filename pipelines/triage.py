"""``call-triage run``: the nightly triage job (docs/architecture.md).

archive → read → features (+ dead letters) → RunInference (batched, model once per worker
process) → per-call aggregation and prank rules (+ dead letters) → per-caller rules →
Parquet reports staged under ``<out>/_staging/<run_id>/``, published when the pipeline
has finished (:mod:`pipelines.publish`), the run summary written last, and then the
night's HTML report (:mod:`pipelines.night_report`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
from typing import Any, Iterable, Iterator, Optional, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import RunInference
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from models.serving import CallModelHandler
from pipelines import lease, night_report, publish, reports
from pipelines.options import EXIT_ERROR_RATE
from pipelines.scoring import ScoredCall, add_caller_reasons, score_call
from pipelines.settings import (TriageSettings, remove_random_key, settings_from_options,
                                write_random_key)
from pipelines.summary import counter_values, error_rate, format_summary
from transforms.archive import check_archive_root
from transforms.beam import CALLS, ERRORS, ExtractFeatures, ReadArchive
from transforms.errors import CallTriageError, InferenceError
from transforms.progress import METRICS_NAMESPACE, step_progress
from transforms.records import CallError

LOG = logging.getLogger(__name__)

#: The runner when none is given: Beam's in-memory FnApiRunner, which honours
#: --direct_num_workers and --direct_running_mode. Beam's DirectRunner would first try to
#: download its Prism runner from GitHub and run the job there (no network at run time).
LOCAL_RUNNER = "FnApiRunner"


def _count(name: str):
    return Metrics.counter(METRICS_NAMESPACE, name)


def _counted(element: Any, name: str) -> Any:
    """Pass ``element`` through, counting it in the Beam counter ``name``."""
    _count(name).inc()
    return element


class _AggregateFn(beam.DoFn):
    """``(call, outputs)`` from RunInference → ScoredCall (:func:`score_call`). Its
    InferenceError (NaN/Inf outputs) goes to the dead letters of Beam's exception
    handling (:func:`failed_call_error`)."""

    def __init__(self, settings: TriageSettings):
        super().__init__()
        self._settings = settings
        self._key: Optional[bytes] = None

    def setup(self) -> None:
        self._key = self._settings.caller_key.read()

    def process(self, prediction: tuple) -> Iterator[ScoredCall]:
        call, outputs = prediction
        step_progress("scored").add()
        yield score_call(call, outputs, window_s=self._settings.config.window_s,
                         key=self._key, rules=self._settings.rules)


def failed_call_error(dead_letter: tuple) -> CallError:
    """A dead letter of Beam's exception handling around :class:`_AggregateFn`,
    ``((call, outputs), (exception type, its repr, traceback lines))``, as the call's
    errors-report row; the message is the exception's own (the traceback's last line)."""
    (call, _), (error_type, _, traceback_lines) = dead_letter
    message = traceback_lines[-1].rstrip("\n").split(": ", 1)[-1]
    return CallError(call_id=call.record.call_id, source_uri=call.record.source_uri,
                     stage=error_type.stage, error_type=error_type.__name__, message=message)


def caller_group_key(call: ScoredCall) -> tuple[str, ScoredCall]:
    """Calls of one caller share a key; calls with no caller id stay on their own."""
    return (call.caller_hash or f"call:{call.record.call_id}"), call


class _CallRowsFn(beam.DoFn):
    """All scored calls of one caller → report rows, after the repeat-caller rule."""

    def __init__(self, settings: TriageSettings):
        super().__init__()
        self._settings = settings

    def process(self, group: tuple[str, Iterable[ScoredCall]]) -> Iterator[dict]:
        _, calls = group
        scored_at = dt.datetime.now(dt.timezone.utc)
        for call in add_caller_reasons(list(calls), rules=self._settings.rules):
            row = reports.call_row(call, settings=self._settings, scored_at=scored_at)
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
         FileSystems.join(staging, publish.INPUTS, "ids"), file_name_suffix=".jsonl"))
    features = listed[CALLS] | "ExtractFeatures" >> ExtractFeatures(
        settings.config, keep_transcript=settings.include_transcripts)
    aggregated = (
        features[CALLS]
        | "RunInference" >> RunInference(
            CallModelHandler(settings.bundle, config=settings.config,
                             max_batch_size=settings.max_batch_size,
                             precision=settings.inference_precision))
        | "Aggregate" >> beam.ParDo(_AggregateFn(settings)).with_exception_handling(
            main_tag=CALLS, dead_letter_tag=ERRORS, exc_class=InferenceError))
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
    failed_scoring = aggregated[ERRORS] | "FailedScoring" >> beam.Map(failed_call_error)
    errors = ((listed[ERRORS], features[ERRORS], failed_scoring)
              | "AllErrors" >> beam.Flatten()
              | "CountErrors" >> beam.Map(_counted, "calls_failed")
              | "ErrorRows" >> beam.Map(reports.error_row))
    _write(errors, "WriteErrors", root=staging, report=reports.ERRORS, run_date=run_date,
           schema=reports.ERRORS_SCHEMA)


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
        for folder in publish.stale_staging(out=settings.out, run_date=settings.run_date,
                                            run_id=settings.run_id):
            LOG.info("removing %s, left by an earlier run of the night", folder)
            publish.remove_staging(folder)
        write_random_key(settings.caller_key)
        pipeline = beam.Pipeline(options=options)
        build_pipeline(pipeline, settings=settings)
        result = pipeline.run()
        result.wait_until_finish()
        timings = {"pipeline_s": round(time.monotonic() - started, 3)}
        summary = publish.finish_run(settings, timings=timings, counters=counter_values(result))
    except BaseException as error:
        failure = publish.write_failure(out=settings.out, run_date=settings.run_date,
                                        run_id=settings.run_id, error=error)
        LOG.error("run %s failed (%s); recorded in %s", settings.run_id,
                  type(error).__name__, failure)
        raise
    finally:
        remove_random_key(settings.caller_key)
        lease.release(night)
    if settings.report:
        summary["report_path"] = _write_report(settings)
    summary["timings"]["total_s"] = round(time.monotonic() - started, 3)
    return summary


def _write_report(settings: TriageSettings) -> Optional[str]:
    """The night's HTML report, written once the night is published; its path, or None
    (logged) when the report cannot be written: the published night stays as it is."""
    try:
        return night_report.write_report(settings.out, settings.run_date,
                                         include_audio_clips=settings.include_audio_clips)
    except CallTriageError as error:
        LOG.error("the night is published but its report was not written: %s: %s",
                  type(error).__name__, error)
        return None


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
