"""``call-triage review``: the analysts' review loop (docs/review.md).

``review export`` writes a published night's review queue, a CSV of its flagged calls
with their scores and evidence and empty verdict columns. ``review import`` reads the
queue the analysts filled in, checks every verdict against the taxonomy and the night's
``calls`` report (all or nothing), and stores the verdicts beside the reports under
``<out>/reviews/run_date=<D>/``, where ``call-triage train --reviewed`` finds them as
labels (:func:`models.dataset.reviewed_nights`).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import logging
import zoneinfo
from collections import Counter
from typing import Any, Mapping, Optional, Sequence

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from models.dataset import REVIEW_FILE, REVIEW_LABELS_FILE, REVIEWS
from pipelines import reports
from pipelines.night_report import load_night, night_of
from transforms import spec
from transforms.archive import decode_transcript
from transforms.errors import ConfigError, TranscriptError

LOG = logging.getLogger(__name__)

QUEUE_FILE = "queue.csv"
VERDICTS_FILE = "verdicts.parquet"
#: What an analyst may say a call was: the training labels (``spec.LABELS``) and
#: ``silent`` (nobody spoke), which is not a label.
VERDICTS = (*spec.LABELS, "silent")
#: The categories each verdict takes (docs/review.md, docs/taxonomy.md): the slugs
#: allowed, whether one is needed, and how to say so.
VERDICT_CATEGORIES = {
    "emergency": (spec.LABEL_CATEGORIES["emergency"], True, "an emergency category"),
    "normal": (spec.LABEL_CATEGORIES["normal"], False, "a normal category or none"),
    "prank": (spec.LABEL_CATEGORIES["prank"], False, "the emergency category it claims, or none"),
    "silent": ((), False, "no category"),
}
#: The queue's groups of calls, in order, and the score each group is sorted by (highest
#: first); ``normal`` only with ``--include-normal``.
QUEUE_ORDER = (("emergency", "emergency_score"), ("prank_candidate", "prank_score"),
               ("silent", "emergency_score"), ("normal", "emergency_score"))
#: The queue's columns: the call as the ``calls`` report has it, then the analysts'.
QUEUE_COLUMNS = ("call_id", "flag", "started_at", "line", "emergency_score", "audio_score",
                 "text_score", "prank_score", "prank_reasons", "category", "category_score",
                 "evidence_start_s", "evidence_end_s", "audio_uri")
REVIEW_COLUMNS = ("verdict", "verdict_category", "note")
#: What the export reads of the ``calls`` report (never transcripts or caller hashes).
SOURCE_COLUMNS = (*QUEUE_COLUMNS, "prank_reason_scores")
#: Problems named one by one when a file is refused; the rest are counted.
MAX_PROBLEMS = 20
_MAX_QUOTED = 40

VERDICTS_SCHEMA = pa.schema([
    pa.field("call_id", pa.string(), nullable=False),
    pa.field("audio_uri", pa.string(), nullable=False),
    pa.field("flag", pa.string(), nullable=False),
    pa.field("verdict", pa.string(), nullable=False),
    pa.field("category", pa.string()),
    pa.field("note", pa.string()),
    pa.field("reviewed_at", pa.timestamp("us", tz="UTC"), nullable=False),
])


def review_dir(out: str, run_date: str) -> str:
    """``<out>/reviews/run_date=<run_date>``: where a night's queue and verdicts live."""
    return reports.partition_dir(out, REVIEWS, run_date)


# --- export ----------------------------------------------------------------------------

def queue_calls(calls: Sequence[Mapping[str, Any]], *, include_normal: bool = False
                ) -> list[Mapping[str, Any]]:
    """The ``calls`` rows of the queue, in its order (:data:`QUEUE_ORDER`; ties by call
    id): emergencies, prank candidates, silent calls and, with ``include_normal``, normal
    calls."""
    queue = []
    for flag, score in QUEUE_ORDER:
        if flag != "normal" or include_normal:
            queue += sorted((row for row in calls if row["flag"] == flag),
                            key=lambda row: (-row[score], row["call_id"]))
    return queue


def _number(value: Optional[float], digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def queue_cells(row: Mapping[str, Any], *, zone: dt.tzinfo) -> list[str]:
    """One call of the ``calls`` report as the queue's cells (:data:`QUEUE_COLUMNS` then
    empty :data:`REVIEW_COLUMNS`): scores to 3 decimals, evidence times to 0.1 s,
    ``started_at`` in the local time of ``zone`` with its offset, prank reasons as
    ``"name score; …"``."""
    started = row["started_at"]
    reasons = "; ".join(f"{name} {score:.2f}" for name, score
                        in zip(row["prank_reasons"], row["prank_reason_scores"]))
    return [row["call_id"], row["flag"],
            "" if started is None else started.astimezone(zone).isoformat(
                sep=" ", timespec="seconds"),
            row["line"] or "", _number(row["emergency_score"], 3),
            _number(row["audio_score"], 3), _number(row["text_score"], 3),
            _number(row["prank_score"], 3), reasons, row["category"],
            _number(row["category_score"], 3), _number(row["evidence_start_s"], 1),
            _number(row["evidence_end_s"], 1), row["audio_uri"],
            *[""] * len(REVIEW_COLUMNS)]


def queue_csv(calls: Sequence[Mapping[str, Any]], *, zone: dt.tzinfo) -> bytes:
    """The queue file of ``calls`` (already in queue order): CSV, UTF-8 with a BOM (so
    that Excel reads Korean as UTF-8), a header of :data:`QUEUE_COLUMNS` and
    :data:`REVIEW_COLUMNS`."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow([*QUEUE_COLUMNS, *REVIEW_COLUMNS])
    writer.writerows(queue_cells(row, zone=zone) for row in calls)
    return ("\ufeff" + text.getvalue()).encode("utf-8")


def _write(path: str, data: bytes, *, mime_type: str) -> None:
    with FileSystems.create(path, mime_type=mime_type) as handle:
        handle.write(data)


def export_queue(out: str, run_date: str, *, to: Optional[str] = None,
                 include_normal: bool = False, overwrite: bool = False) -> tuple[str, int]:
    """Write the review queue of the published night ``run_date`` under ``out`` to ``to``
    (default ``<out>/reviews/run_date=<D>/queue.csv``); returns its path and the number of
    calls in it. Raises ReportError when the night is not published, ConfigError when the
    file exists (it may hold an analyst's edits) and ``overwrite`` is not set."""
    night = load_night(out, run_date, columns=SOURCE_COLUMNS)
    path = to or FileSystems.join(review_dir(out, run_date), QUEUE_FILE)
    if FileSystems.exists(path) and not overwrite:
        raise ConfigError(f"{path} exists (it may hold analysts' verdicts); give "
                          f"--overwrite to replace it, or --to another file")
    calls = queue_calls(night.calls, include_normal=include_normal)
    zone = zoneinfo.ZoneInfo(night.summary["options"]["timezone"])
    _write(path, queue_csv(calls, zone=zone), mime_type="text/csv")
    return path, len(calls)


# --- import ----------------------------------------------------------------------------

def read_review_file(path: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header (stripped) and the rows of a filled-in queue (local or ``gs://``; UTF-8
    with or without a BOM, else CP949 as Excel saves "CSV" on Korean Windows). Each row
    comes with its line as a spreadsheet numbers it (the header is line 1; a cell over
    several lines counts once). ConfigError when the file cannot be read or parsed or
    lacks ``call_id`` or ``verdict``."""
    try:
        with FileSystems.open(path) as handle:
            text = decode_transcript(handle.read(), name=path)
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except TranscriptError:
        raise ConfigError(f"the review file {path} is neither UTF-8 nor CP949 text") from None
    except (OSError, csv.Error) as error:
        raise ConfigError(f"cannot read the review file {path}: {error}") from error
    header = [name.strip() for name in records[0]] if records else []
    missing = [name for name in ("call_id", "verdict") if name not in header]
    if missing:
        raise ConfigError(f"the review file {path} lacks the column(s) {missing}; "
                          f"export a queue with `call-triage review export`")
    return header, list(enumerate(records[1:], start=2))


def _quoted(value: str) -> str:
    """A short value as the analyst typed it, cut to :data:`_MAX_QUOTED` characters."""
    return repr(value if len(value) <= _MAX_QUOTED else value[:_MAX_QUOTED] + "…")


def category_problem(verdict: str, category: str) -> Optional[str]:
    """What is wrong with ``category`` ('' for none) for ``verdict`` (one of
    :data:`VERDICTS`; :data:`VERDICT_CATEGORIES`), or None."""
    allowed, required, takes = VERDICT_CATEGORIES[verdict]
    if not category:
        return f"{verdict} verdicts take {takes}; verdict_category is empty" if required \
            else None
    if category not in spec.CATEGORIES:
        return f"verdict_category {_quoted(category)} is not a category of the taxonomy"
    if category not in allowed:
        return f"{verdict} verdicts take {takes}, not {category!r}"
    return None


def row_problems(cells: Mapping[str, str], *, calls: Mapping[str, Mapping[str, Any]],
                 run_date: str) -> list[str]:
    """What is wrong with one row that has a verdict (``cells``: column → stripped text,
    ``verdict`` and ``verdict_category`` lower-cased), against the night's ``calls`` (call
    id → its ``calls`` row). Never quotes a note."""
    call_id, verdict = cells["call_id"], cells["verdict"]
    problems = []
    if not call_id:
        problems.append("a verdict without a call_id")
    elif call_id not in calls:
        problems.append(f"call {_quoted(call_id)} is not a call of the night {run_date}")
    elif cells.get("audio_uri") and cells["audio_uri"] != calls[call_id]["audio_uri"]:
        problems.append(f"call {_quoted(call_id)} has another audio_uri in the night "
                        f"{run_date}'s calls report")
    if verdict not in VERDICTS:
        problems.append(f"verdict {_quoted(verdict)} is not one of {', '.join(VERDICTS)}")
    else:
        problem = category_problem(verdict, cells.get("verdict_category", ""))
        problems += [problem] if problem else []
    return problems


def parse_verdicts(header: Sequence[str], rows: Sequence[tuple[int, Sequence[str]]], *,
                   calls: Mapping[str, Mapping[str, Any]], run_date: str,
                   reviewed_at: dt.datetime) -> tuple[list[dict[str, Any]], int, list[str]]:
    """The verdict rows (:data:`VERDICTS_SCHEMA`) of a filled-in queue, how many rows had
    no verdict (skipped), and every problem as ``"line N: …"``. Rows with no cell filled
    in are ignored; the queue's other columns are the report's and are not read."""
    verdicts, skipped, problems = [], 0, []
    seen: dict[str, int] = {}
    for line, values in rows:
        if len(values) > len(header):
            problems.append(f"line {line}: more cells than the header has columns")
            continue
        cells = {name: "" for name in header}
        cells.update((name, value.strip()) for name, value in zip(header, values))
        if not any(cells.values()):
            continue
        for name in ("verdict", "verdict_category"):
            cells[name] = cells.get(name, "").lower()
        call_id = cells["call_id"]
        if call_id in seen:
            problems.append(f"line {line}: call {_quoted(call_id)} is also on line "
                            f"{seen[call_id]}")
        elif call_id:
            seen[call_id] = line
        if not cells["verdict"]:
            skipped += 1
            if cells.get("verdict_category"):
                problems.append(f"line {line}: a verdict_category without a verdict")
            continue
        found = row_problems(cells, calls=calls, run_date=run_date)
        problems += [f"line {line}: {problem}" for problem in found]
        if not found:
            report = calls[call_id]
            verdicts.append({
                "call_id": call_id, "audio_uri": report["audio_uri"], "flag": report["flag"],
                "verdict": cells["verdict"], "category": cells["verdict_category"] or None,
                "note": cells.get("note") or None, "reviewed_at": reviewed_at})
    return verdicts, skipped, problems


def refusal(path: str, problems: Sequence[str]) -> str:
    """The message refusing the file ``path`` for ``problems``: the first
    :data:`MAX_PROBLEMS` of them, and the rules."""
    lines = [f"{path}: {len(problems)} problem(s); nothing was stored", *problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        lines.append(f"... and {len(problems) - MAX_PROBLEMS} more")
    lines += [f"verdict: {', '.join(VERDICTS)}, or empty to skip the call; "
              + "; ".join(f"{verdict} verdicts take {takes}" for verdict, (_, _, takes)
                          in VERDICT_CATEGORIES.items())
              + f"; emergency categories: {', '.join(spec.EMERGENCY_CATEGORIES)}; normal "
                f"categories: {', '.join(spec.NORMAL_CATEGORIES)} (docs/review.md)"]
    if any("is not a call of the night" in problem for problem in problems):
        lines.append("a queue of another night? name it with --run-date")
    return "\n  ".join(lines)


def read_verdicts(out: str, run_date: str) -> list[dict[str, Any]]:
    """The night's stored verdicts (:data:`VERDICTS_SCHEMA` rows), [] when there are none."""
    path = FileSystems.join(review_dir(out, run_date), VERDICTS_FILE)
    if not FileSystems.exists(path):
        return []
    with FileSystems.open(path) as handle:
        return pq.read_table(handle).to_pylist()


def merge_verdicts(stored: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]
                   ) -> list[Mapping[str, Any]]:
    """``stored`` verdicts with ``new`` ones replacing those of the same call, by call id."""
    merged = {row["call_id"]: row for row in stored}
    merged.update((row["call_id"], row) for row in new)
    return [merged[call_id] for call_id in sorted(merged)]


def labels_csv(verdicts: Sequence[Mapping[str, Any]]) -> bytes:
    """The verdicts that are training labels (not ``silent``) as a label file
    (:func:`models.dataset.read_labels`): UTF-8 CSV ``call_id,label,category``."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["call_id", "label", "category"])
    writer.writerows([row["call_id"], row["verdict"], row["category"] or ""]
                     for row in verdicts if row["verdict"] in spec.LABELS)
    return text.getvalue().encode("utf-8")


def review_record(verdicts: Sequence[Mapping[str, Any]], *, run_date: str, archive: str,
                  updated_at: dt.datetime) -> dict[str, Any]:
    """``review.json``: the night, the archive it was read from (where training finds the
    reviewed calls) and the stored verdicts' counts."""
    by_verdict = Counter(row["verdict"] for row in verdicts)
    return {"run_date": run_date, "archive": archive,
            "updated_at": updated_at.isoformat(timespec="seconds"),
            "counts": {"reviewed": len(verdicts),
                       "labels": sum(by_verdict[label] for label in spec.LABELS),
                       "by_verdict": {verdict: by_verdict[verdict] for verdict in VERDICTS}}}


def store_review(out: str, run_date: str, *, verdicts: Sequence[Mapping[str, Any]],
                 archive: str, updated_at: dt.datetime) -> dict[str, Any]:
    """Write the night's ``verdicts`` (all of them: they replace the stored ones) as
    ``verdicts.parquet``, ``labels.csv`` and, last, ``review.json``; returns the record."""
    folder = review_dir(out, run_date)
    parquet = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(list(verdicts), schema=VERDICTS_SCHEMA), parquet,
                   compression=reports.PARQUET_CODEC)
    _write(FileSystems.join(folder, VERDICTS_FILE), parquet.getvalue(),
           mime_type="application/vnd.apache.parquet")
    _write(FileSystems.join(folder, REVIEW_LABELS_FILE), labels_csv(verdicts),
           mime_type="text/csv")
    record = review_record(verdicts, run_date=run_date, archive=archive,
                           updated_at=updated_at)
    _write(FileSystems.join(folder, REVIEW_FILE),
           json.dumps(record, indent=2).encode("utf-8"), mime_type="application/json")
    return record


def import_verdicts(path: str, out: str, run_date: str, *, now: dt.datetime
                    ) -> tuple[list[dict[str, Any]], int, Optional[dict[str, Any]]]:
    """Check the filled-in queue ``path`` against the published night ``run_date`` under
    ``out`` and merge its verdicts into the night's stored ones. Returns the new verdicts,
    the rows skipped without one, and the night's review record (None when the file has no
    verdict: nothing is written). Raises ConfigError listing the problems (nothing is
    stored then), ReportError when the night is not published."""
    night = load_night(out, run_date, columns=("call_id", "audio_uri", "flag"))
    header, rows = read_review_file(path)
    verdicts, skipped, problems = parse_verdicts(
        header, rows, calls={row["call_id"]: row for row in night.calls}, run_date=run_date,
        reviewed_at=now)
    if problems:
        raise ConfigError(refusal(path, problems))
    if not verdicts:
        return [], skipped, None
    merged = merge_verdicts(read_verdicts(out, run_date), verdicts)
    record = store_review(out, run_date, verdicts=merged,
                          archive=night.summary["options"]["archive"], updated_at=now)
    return verdicts, skipped, record


def format_import(verdicts: Sequence[Mapping[str, Any]], *, skipped: int,
                  record: Optional[Mapping[str, Any]], folder: str) -> str:
    """The short text ``review import`` prints."""
    skipped_line = f"skipped {skipped} row(s) without a verdict"
    if record is None:
        return f"no verdict in the file; nothing stored; {skipped_line}"
    counts = Counter(row["verdict"] for row in verdicts)
    stored = record["counts"]
    return "\n".join([
        f"stored {len(verdicts)} verdict(s) of the night {record['run_date']}: "
        + ", ".join(f"{verdict} {counts[verdict]}" for verdict in VERDICTS if counts[verdict]),
        skipped_line,
        f"the night now has {stored['reviewed']} reviewed call(s), {stored['labels']} of "
        f"them training labels (silent verdicts are not): {folder}"])


# --- the command -------------------------------------------------------------------------

def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="report root of the nightly job")
    parser.add_argument("--run-date", default=None,
                        help="the night (YYYY-MM-DD; default: the latest published)")
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="debug logging, and the logs of Beam and TensorFlow")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="review_command", required=True, metavar="ACTION")
    export = commands.add_parser(
        "export", allow_abbrev=False, help="write a night's review queue (CSV)",
        description="Write a published night's review queue: its emergencies (highest "
                    "score first), prank candidates and silent calls, with their scores, "
                    "evidence and empty verdict, verdict_category and note columns. "
                    "UTF-8 CSV with a BOM (Excel reads it as UTF-8).")
    _add_common(export)
    export.add_argument("--to", default=None,
                        help="file to write, local or gs:// (default: "
                             f"OUT/{REVIEWS}/run_date=D/{QUEUE_FILE})")
    export.add_argument("--include-normal", action="store_true",
                        help="add the normal calls at the end (highest emergency score first)")
    export.add_argument("--overwrite", action="store_true",
                        help="replace the file if it exists (it may hold analysts' edits)")
    imported = commands.add_parser(
        "import", allow_abbrev=False, help="store analysts' verdicts from a filled-in queue",
        description="Check a filled-in queue (every verdict and category, every call id "
                    "against the night's calls report) and store its verdicts under "
                    f"OUT/{REVIEWS}/run_date=D/, replacing earlier verdicts of the same "
                    "calls. A file with any problem is refused whole. `call-triage train "
                    "--reviewed OUT` trains on them (docs/review.md).")
    imported.add_argument("file", metavar="FILE", help="the filled-in queue (CSV, local or gs://)")
    _add_common(imported)


def run_command(args: argparse.Namespace) -> int:
    out = args.out.rstrip("/")
    run_date = night_of(out, args.run_date)
    if args.review_command == "export":
        path, n_calls = export_queue(out, run_date, to=args.to,
                                     include_normal=args.include_normal,
                                     overwrite=args.overwrite)
        LOG.info("wrote the review queue of the night %s: %d calls", run_date, n_calls)
        print(path)
        return 0
    verdicts, skipped, record = import_verdicts(args.file, out, run_date,
                                                now=dt.datetime.now(dt.timezone.utc))
    print(format_import(verdicts, skipped=skipped, record=record,
                        folder=review_dir(out, run_date)))
    return 0
