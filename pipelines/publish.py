"""Staging and publishing a night's reports, and the run summary.

A run writes every report under ``<out>/_staging/<run_id>/`` first. Only when the pipeline
has finished, and every input call is in ``calls`` or ``errors`` exactly once, does
:func:`publish_reports` replace the night's partitions
(``<out>/<report>/run_date=YYYY-MM-DD/``) with the staged files; the run summary is
written last. A run that dies half-way leaves the published partitions as they were.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
import time
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from apache_beam.io.filesystems import FileSystems

from pipelines import reports
from pipelines.reports import REPORTS, files_under, partition_dir
from pipelines.summary import run_summary
from transforms.errors import ReportError

if TYPE_CHECKING:
    from pipelines.settings import TriageSettings

LOG = logging.getLogger(__name__)

SUMMARIES = "summaries"
SUMMARY_FILE = "summary.json"
STAGING = "_staging"
#: Where the pipeline stages the ids of every input row, for the invariant check.
INPUTS = "_inputs"
FAILURE_MESSAGE_CHARS = 2_000


def staging_root(out: str, run_id: str) -> str:
    """Where run ``run_id`` stages its reports under ``out``."""
    return FileSystems.join(out, STAGING, run_id)


def _delete(paths: Sequence[str]) -> None:
    if paths:
        FileSystems.delete(list(paths))


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
    _delete(files_under(partition_dir(out, SUMMARIES, run_date)))
    _delete(files_under(partition_dir(out, reports.HTML_REPORT, run_date)))  # now stale
    for report in REPORTS:
        staged = files_under(partition_dir(staging, report, run_date))
        _delete(files_under(partition_dir(out, report, run_date)))
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


def read_input_ids(staging: str) -> list[str]:
    """The ids of every input row, as the pipeline staged them."""
    pattern = FileSystems.join(staging, INPUTS, "ids*")
    ids = []
    for meta in FileSystems.match([pattern])[0].metadata_list:
        with FileSystems.open(meta.path) as handle:
            ids.extend(json.loads(line) for line in handle.read().decode().splitlines() if line)
    return ids


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
    if not input_ids and not settings.allow_empty and is_published(
            out=settings.out, run_date=settings.run_date):
        remove_staging(settings.staging)
        raise ReportError(f"the archive {settings.archive} lists no calls; the published "
                          f"night of {settings.run_date} under {settings.out} is kept (pass "
                          f"--allow-empty to replace it with an empty night)")
    calls = reports.read_report(settings.staging, reports.CALLS, settings.run_date,
                                columns=["call_id", "flag"])
    errors = reports.read_report(settings.staging, reports.ERRORS, settings.run_date,
                                 columns=["call_id", "stage"])
    problems = check_invariant(
        input_ids=input_ids, scored_ids=calls["call_id"].to_pylist(),
        error_ids=errors["call_id"].to_pylist())
    if problems:
        raise ReportError(f"input = scored + errors does not hold: {'; '.join(problems)}; "
                          f"reports left unpublished in {settings.staging}")
    publish_reports(out=settings.out, staging=settings.staging, run_date=settings.run_date)
    remove_staging(settings.staging)
    timings = {**timings, "publish_s": round(time.monotonic() - started, 3)}
    summary = run_summary(settings, input_ids=input_ids, calls=calls, errors=errors,
                          timings=timings, counters=counters)
    summary["summary_path"] = write_summary(
        out=settings.out, run_date=settings.run_date, summary=summary)
    return summary
