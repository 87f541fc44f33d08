"""Reading an archive (docs/archive.md): list its calls, read transcripts, open audio.

An archive is a folder, local or ``gs://bucket/prefix``. Every file access goes through
:class:`apache_beam.io.filesystems.FileSystems`, so local paths and ``gs://`` URIs behave
the same. Listing reads only the manifest (or the object listing for sidecar archives);
audio files are not checked here, so listing tens of thousands of calls on GCS stays cheap.
A missing audio file is the call's own read error later (:func:`open_audio`).

Problems with one call (an empty or duplicate id, a path outside the archive, an invalid
label) become :class:`~transforms.records.CallError` entries of the listing; problems with
the archive as a whole (no manifest and no audio, several manifests, an unparseable
manifest) raise :class:`~transforms.errors.ArchiveError`.
"""

from __future__ import annotations

import codecs
import collections
import csv
import dataclasses
import datetime
import io
import json
import math
import os
import posixpath
from typing import Any, BinaryIO, Mapping, NamedTuple, Sequence

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from google.api_core.exceptions import GoogleAPIError

from transforms import spec
from transforms.aihub import (
    EMOTION_DIALOGUE_LABEL, EMOTION_ID_COLUMN, METADATA_FIELDS, CallLabel, EmotionRow,
    is_emotion_table_header, parse_call_label, parse_emotion_table)
from transforms.errors import ArchiveError, ManifestRowError, SourceError, TranscriptError
from transforms.records import CallError, CallRecord

#: Audio file extensions found by sidecar discovery (compared case-insensitively).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")
#: Manifest file names looked for at the archive root; an archive holds at most one.
MANIFEST_NAMES = ("manifest.csv", "manifest.jsonl", "manifest.parquet")
#: Manifest columns that must be present.
REQUIRED_COLUMNS = ("call_id", "audio")
#: Manifest columns read (docs/archive.md plus the training columns); others are ignored.
KNOWN_COLUMNS = REQUIRED_COLUMNS + (
    "transcript", "transcript_path", "started_at", "caller_id", "line", "label", "category",
    "split", "event_start_s", "event_end_s",
)

#: Longest text a manifest cell may hold (characters): a longer transcript or id fails its row.
MAX_CELL_CHARS = 100_000
#: Rows named in a duplicate-id message; the rest are counted.
_DUPLICATES_NAMED = 3

_STAGE = "read"
_GLOB_CHARS = "*?["
# What FileSystems raises for a missing or unreadable file: OSError (local, BeamIOError),
# ValueError (no filesystem for the scheme, malformed gs:// path), GoogleAPIError (GCS).
_IO_ERRORS = (OSError, ValueError, GoogleAPIError)


class _Listed(NamedTuple):
    """One listed call before ids are checked for duplicates."""

    call_id: str | None  # the id to check for duplicates; None when the row has none
    label: str  # the id in the errors report: call_id, or e.g. "<manifest.csv row 7>"
    source_uri: str
    outcome: CallRecord | ManifestRowError


def list_calls(root: str) -> list[CallRecord | CallError]:
    """Lists the calls of the archive at ``root`` (a folder path or ``gs://bucket/prefix``).

    With a manifest at the root (one of :data:`MANIFEST_NAMES`) its rows are the calls, in
    manifest order. Relative ``audio``/``transcript_path`` values resolve against the
    manifest's folder; absolute paths and URIs are taken as given; either must lie inside
    the root, also where it really is: a symbolic link (of the file or of a folder on its
    way) that leads out of the root fails the row.

    Without a manifest every audio file under the root (recursively; extensions
    :data:`AUDIO_EXTENSIONS`, any case; hidden files skipped) is a call whose id is the file
    stem, in sorted path order. A sibling ``<stem>.json`` (AI Hub 119-call label) or
    ``<stem>.txt`` is its transcript; when both exist the ``.json`` wins. An audio file
    without either whose stem is the ``wav_id`` of an emotion-dialogue table's row (a
    ``.csv`` anywhere under the root whose header starts with ``wav_id``) takes the row's
    utterance as its transcript and the label ``normal``; a row naming no such file is an
    error of the listing.

    Ids must be unique: every call sharing an id is reported, none is kept. Local paths
    come out absolute.

    Returns:
        One entry per manifest row or audio file: a :class:`CallRecord`, or a
        :class:`CallError` (stage ``"read"``) for a row that cannot be a call.

    Raises:
        ArchiveError: ``root`` is not a usable location, the archive holds several
            manifests, the manifest cannot be read or parsed or lacks a required column,
            or there is neither a manifest nor any audio file, or an emotion-dialogue
            table cannot be read or parsed.
    """
    root = _archive_root(root)
    manifests = [
        uri for uri in (FileSystems.join(root, name) for name in MANIFEST_NAMES)
        if _exists(uri)
    ]
    if len(manifests) > 1:
        names = ", ".join(posixpath.basename(uri) for uri in manifests)
        raise ArchiveError(f"archive {root} holds several manifests ({names}); keep one")
    listed = (_list_manifest(manifests[0], root=root) if manifests
              else _list_sidecars(root))
    return _report(listed)


def check_archive_root(root: str) -> None:
    """ArchiveError when ``root`` is not a usable location or holds no file at all: one
    listing request, for a launcher to fail before any worker starts."""
    root = _archive_root(root)
    pattern = FileSystems.join(root, "**")
    try:
        found = FileSystems.match([pattern], limits=[1])[0].metadata_list
    except _IO_ERRORS as exc:
        raise ArchiveError(f"cannot list {pattern}: {exc}") from exc
    if not found:
        raise ArchiveError(f"archive {root} does not exist or holds no files")


def decode_transcript(data: bytes, *, name: str) -> str:
    """Decodes transcript bytes: UTF-8 (a leading BOM is dropped), else CP949.

    Raises:
        TranscriptError: the bytes are neither, naming ``name`` and both failures.
    """
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("cp949")
        except UnicodeDecodeError as cp949_error:
            raise TranscriptError(
                f"{name}: transcript is neither UTF-8 ({utf8_error}) "
                f"nor CP949 ({cp949_error})") from cp949_error


def read_call_label(uri: str) -> tuple[str, CallLabel]:
    """The caller's words and the label of the AI Hub 119-call JSON file at ``uri``
    (:func:`transforms.aihub.parse_call_label`), with its metadata
    (:data:`transforms.aihub.METADATA_FIELDS`) read as manifest cells are.

    Raises:
        SourceError: the file is missing or cannot be read.
        TranscriptError: it cannot be decoded, is not JSON, is not in the layout, or a
            metadata field is not text (a number is), naming the field, never its value.
    """
    text = decode_transcript(_read_bytes(uri), name=uri)
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TranscriptError(f"{uri}: invalid JSON ({exc})") from exc
    words, label = parse_call_label(payload, name=uri)
    try:
        metadata = {field: _text_cell(payload, key) for field, key in METADATA_FIELDS.items()}
    except ManifestRowError as exc:
        raise TranscriptError(f"{uri}: {exc}") from exc
    return words, dataclasses.replace(label, **metadata)


def read_transcript(record: CallRecord) -> tuple[str, CallRecord]:
    """The transcript of a call (inline text, else its sidecar, else ``""``), and the
    record completed from the sidecar it read.

    A sidecar ending in ``.json`` is an AI Hub 119-call label: the transcript is the
    caller's words, and its metadata (``startedAt``, ``callerId``, ``line``) fills the
    record's empty fields; its label fields are the training commands' to map
    (:func:`transforms.aihub.LabelMapping.resolve`). Any other sidecar is plain text
    (:func:`decode_transcript`).

    Raises:
        SourceError: the sidecar is missing or cannot be read.
        TranscriptError: the sidecar cannot be decoded or parsed.
    """
    if record.transcript is not None:
        return record.transcript, record
    if record.transcript_uri is None:
        return "", record
    uri = record.transcript_uri
    if not uri.lower().endswith(".json"):
        return decode_transcript(_read_bytes(uri), name=uri), record
    words, label = read_call_label(uri)
    return words, with_call_metadata(record, label)


def with_call_metadata(record: CallRecord, label: CallLabel) -> CallRecord:
    """``record`` with the fields of :data:`transforms.aihub.METADATA_FIELDS` it lacks
    taken from ``label``, and its urgency level."""
    filled = {field: getattr(label, field) for field in METADATA_FIELDS
              if getattr(record, field) is None}
    return dataclasses.replace(record, urgency_level=label.urgency_level, **filled)


def file_stamp(uri: str) -> tuple[int, float] | None:
    """``uri``'s size in bytes and last modification in seconds since the epoch (local or
    ``gs://``): what changes when a file is rewritten in place. None when it cannot be
    read (its call then fails where it is opened)."""
    try:
        metadata = FileSystems.get_filesystem(uri).metadata(uri)
    except _IO_ERRORS:
        return None
    return metadata.size_in_bytes, metadata.last_updated_in_seconds


def open_audio(uri: str) -> BinaryIO:
    """Opens an audio file (local or ``gs://``) for binary reading, byte for byte.

    Compression is never inferred from the name (Beam would otherwise gunzip ``*.gz``).
    A ``gs://`` reader fetches nothing until first used, so the stream is positioned at its
    start here: a missing object fails now, as a local file does, not inside the decoder.

    Raises:
        SourceError: the file is missing or cannot be opened, naming ``uri``.
    """
    if not uri:
        raise SourceError(f"uri={uri!r} is empty")
    try:
        stream = FileSystems.open(uri, compression_type=CompressionTypes.UNCOMPRESSED)
    except _IO_ERRORS as exc:
        raise SourceError(f"cannot open {uri}: {exc}") from exc
    try:
        stream.seek(0)
    except _IO_ERRORS as exc:
        stream.close()
        raise SourceError(f"cannot open {uri}: {exc}") from exc
    return stream


def _archive_root(root: str) -> str:
    """``root`` validated and normalised: absolute local path or ``scheme://bucket/prefix``."""
    if not isinstance(root, str) or not root.strip():
        raise ArchiveError(f"root={root!r} must be a folder path or a gs:// URI")
    if not is_unicode_text(root):
        raise ArchiveError("the archive root is not valid Unicode text")
    if any(char in root for char in _GLOB_CHARS):
        raise ArchiveError(f"root={root!r} must not contain glob characters {_GLOB_CHARS}")
    normalised = _normalise(root)
    if FileSystems.get_scheme(normalised) is not None:
        bucket = normalised.split("://", 1)[1].split("/", 1)[0]
        if bucket in ("", ".", ".."):
            raise ArchiveError(f"root={root!r} names no bucket")
    return normalised


def _normalise(location: str) -> str:
    """An absolute local path, or a URI with ``.``/``..`` segments and trailing ``/`` removed."""
    scheme = FileSystems.get_scheme(location)
    if scheme is None:
        return os.path.abspath(location)
    head = f"{scheme}://"
    return head + posixpath.normpath(location[len(head):])


def _exists(uri: str) -> bool:
    try:
        return FileSystems.exists(uri)
    except _IO_ERRORS as exc:
        raise ArchiveError(f"cannot check {uri}: {exc}") from exc


def _first_line(uri: str, *, limit: int = 4096) -> str:
    """The first line of a file (at most ``limit`` bytes), undecodable bytes replaced;
    :class:`SourceError` if unreadable."""
    try:
        with open_audio(uri) as stream:
            head = stream.read(limit)
    except _IO_ERRORS as exc:
        raise SourceError(f"cannot read {uri}: {exc}") from exc
    return head.split(b"\n", 1)[0].decode("utf-8", "replace")


def _read_bytes(uri: str) -> bytes:
    """All bytes of a file, uncompressed as stored; :class:`SourceError` if unreadable."""
    try:
        with open_audio(uri) as stream:
            return stream.read()
    except _IO_ERRORS as exc:
        raise SourceError(f"cannot read {uri}: {exc}") from exc


def _list_manifest(uri: str, *, root: str) -> list[_Listed]:
    """One entry per data row of the manifest at ``uri`` (rows numbered from 1)."""
    try:
        data = _read_bytes(uri)
    except SourceError as exc:
        raise ArchiveError(f"cannot read manifest: {exc}") from exc
    columns, rows = _parse_manifest(data, uri=uri)
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        raise ArchiveError(
            f"manifest {uri} lacks required column(s) {', '.join(missing)}; "
            f"it has {', '.join(columns) or 'none'}")
    name = posixpath.basename(uri)
    return [
        _listed_row(row, root=root, source_uri=f"{uri}#row={number}",
                    unnamed=f"<{name} row {number}>")
        for number, row in enumerate(rows, start=1)
    ]


def _parse_manifest(data: bytes, *, uri: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The column names and the data rows of a manifest, by its file name."""
    name = posixpath.basename(uri)
    try:
        if name == "manifest.csv":
            return _parse_csv(data.decode("utf-8-sig"), uri=uri)
        if name == "manifest.jsonl":
            return _parse_jsonl(data.decode("utf-8-sig"), uri=uri)
        table = pq.ParquetFile(io.BytesIO(data))
        columns = table.schema_arrow.names
        wanted = [column for column in columns if column in KNOWN_COLUMNS]
        return columns, table.read(columns=wanted).to_pylist()
    except (ValueError, csv.Error, pa.ArrowException) as exc:
        raise ArchiveError(f"cannot parse manifest {uri}: {exc}") from exc


def _parse_csv(text: str, *, uri: str) -> tuple[list[str], list[dict[str, Any]]]:
    """CSV rows, parsed strictly: a quote left open (which would swallow the rows after
    it into one cell) fails the whole manifest, naming the line where its row starts. No
    cell is too long to parse; :func:`_text_cell` fails the rows whose cells are too long.
    """
    previous_limit = csv.field_size_limit(max(len(text) + 1, csv.field_size_limit()))
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    rows: list[dict[str, Any]] = []
    last_line = 0
    try:
        columns = list(reader.fieldnames or ())
        last_line = reader.line_num
        for row in reader:
            rows.append(row)
            last_line = reader.line_num
    except csv.Error as exc:
        raise ArchiveError(f"cannot parse manifest {uri}: the row starting on line "
                           f"{last_line + 1}: {exc}") from exc
    finally:
        csv.field_size_limit(previous_limit)
    return columns, rows


def _parse_jsonl(text: str, *, uri: str) -> tuple[list[str], list[dict[str, Any]]]:
    """JSON-lines rows (blank lines skipped); the columns are the keys seen in any row."""
    rows = []
    # split("\n"), not splitlines(): U+2028 may stand unescaped inside a JSON string.
    for line_number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ArchiveError(f"cannot parse manifest {uri}: line {line_number}: {exc}") from exc
        if not isinstance(row, dict):
            raise ArchiveError(
                f"cannot parse manifest {uri}: line {line_number} is a "
                f"{type(row).__name__}, not a JSON object")
        rows.append(row)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    return columns, rows


def _listed_row(row: Mapping[Any, Any], *, root: str, source_uri: str,
                unnamed: str) -> _Listed:
    """A manifest row as a :class:`CallRecord`, or the :class:`ManifestRowError` it makes."""
    try:
        call_id = _text_cell(row, "call_id")
    except ManifestRowError as exc:
        return _Listed(None, unnamed, source_uri, exc)
    if call_id is None:
        return _Listed(None, unnamed, source_uri, ManifestRowError("call_id is empty"))
    try:
        record = _record_from_row(row, call_id=call_id, root=root, source_uri=source_uri)
    except ManifestRowError as exc:
        return _Listed(call_id, call_id, source_uri, exc)
    return _Listed(call_id, call_id, source_uri, record)


def _record_from_row(row: Mapping[Any, Any], *, call_id: str, root: str,
                     source_uri: str) -> CallRecord:
    """The call a manifest row describes; :class:`ManifestRowError` for an invalid cell."""
    if None in row:  # csv.DictReader puts cells beyond the header under the key None
        raise ManifestRowError(f"row has {len(row[None])} more cell(s) than the header")
    audio = _text_cell(row, "audio")
    if audio is None:
        raise ManifestRowError("audio is empty")
    transcript_path = _text_cell(row, "transcript_path")
    start_s = _seconds_cell(row, "event_start_s")
    end_s = _seconds_cell(row, "event_end_s")
    if (start_s is None) != (end_s is None):
        raise ManifestRowError(
            f"event_start_s={start_s} and event_end_s={end_s} must be given together")
    if start_s is not None and end_s <= start_s:
        raise ManifestRowError(f"event_end_s={end_s} must be > event_start_s={start_s}")
    label = _choice_cell(row, "label", choices=spec.LABELS)
    return CallRecord(
        call_id=call_id,
        audio_uri=_inside_root(audio, column="audio", root=root),
        source_uri=source_uri,
        transcript=_text_cell(row, "transcript"),
        transcript_uri=(None if transcript_path is None else
                        _inside_root(transcript_path, column="transcript_path", root=root)),
        started_at=_text_cell(row, "started_at"),
        caller_id=_text_cell(row, "caller_id"),
        line=_text_cell(row, "line"),
        label=label,
        label_source=None if label is None else "manifest",
        category=_choice_cell(row, "category", choices=spec.CATEGORIES),
        split=_choice_cell(row, "split", choices=spec.SPLITS),
        event_start_s=start_s,
        event_end_s=end_s,
    )


def _text_cell(row: Mapping[Any, Any], column: str) -> str | None:
    """A cell as stripped text; ``None`` when absent, blank or NaN.

    Numbers become their decimal text (``112.0`` → ``"112"``, as pandas writes integer
    columns with gaps), dates and times ISO 8601. :class:`ManifestRowError` for a value
    that is not text, text that is not valid Unicode (a lone surrogate, which JSON allows)
    or longer than :data:`MAX_CELL_CHARS`; the message describes the value, never quotes
    it (cells hold caller numbers and transcripts).
    """
    value = row.get(column)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (datetime.date, datetime.time)):
        value = value.isoformat()
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ManifestRowError(f"{column} holds a {type(value).__name__}, not text")
    text = str(value)
    if len(text) > MAX_CELL_CHARS:
        raise ManifestRowError(f"{column} is {len(text):,} characters long; at most "
                               f"{MAX_CELL_CHARS:,} are read")
    if not is_unicode_text(text):
        raise ManifestRowError(f"{column} is not valid Unicode text (it holds a lone "
                               f"surrogate)")
    return text.strip() or None


def is_unicode_text(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8: no lone surrogates (which JSON's
    ``\\udc80`` escapes and undecodable file names bring in)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _described(value: Any) -> str:
    """A cell's value described, not quoted: its type, and its length for text."""
    if isinstance(value, str):
        return f"a text of {len(value)} characters"
    return f"a {type(value).__name__}"


def _choice_cell(row: Mapping[Any, Any], column: str, *, choices: Sequence[str]) -> str | None:
    """A text cell that must be one of ``choices`` when given."""
    value = _text_cell(row, column)
    if value is not None and value not in choices:
        raise ManifestRowError(f"{column}={value!r} is not one of {', '.join(choices)}")
    return value


def _seconds_cell(row: Mapping[Any, Any], column: str) -> float | None:
    """A cell as a finite number of seconds >= 0; ``None`` when absent or blank."""
    value = row.get(column)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ManifestRowError(f"{column} holds a bool, not a number")
    try:
        seconds = float(value)
    except (TypeError, ValueError) as exc:
        raise ManifestRowError(f"{column} holds {_described(value)}, not a number") from exc
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ManifestRowError(f"{column} must be a finite number >= 0")
    return seconds


def _inside_root(path: str, *, column: str, root: str) -> str:
    """``path`` resolved against ``root`` (unless absolute or a URI); must lie inside it."""
    if FileSystems.get_scheme(path) is None and not os.path.isabs(path):
        path_in_root = FileSystems.join(root, path)
    else:
        path_in_root = path
    resolved = _normalise(path_in_root)
    if not resolved.startswith(root.rstrip("/") + "/"):
        raise ManifestRowError(
            f"{column}={path!r} resolves to {resolved}, outside the archive root {root}")
    _check_real_location(resolved, root=root, what=column)
    return resolved


def _check_real_location(path: str, *, root: str, what: str) -> None:
    """ManifestRowError when local ``path`` leads, through a symbolic link (of the file or a
    folder on its way), out of the archive root. Object stores have no links."""
    if FileSystems.get_scheme(path) is not None:
        return
    real, real_root = os.path.realpath(path), os.path.realpath(root)
    if not real.startswith(real_root.rstrip("/") + "/"):
        raise ManifestRowError(f"{what} leads through a symbolic link to {real}, outside the "
                               f"archive root {root}")


def _list_sidecars(root: str) -> list[_Listed]:
    """One entry per audio file under ``root``, in sorted path order, and one per row of
    an emotion-dialogue table that names no audio file or cannot be a call."""
    pattern = FileSystems.join(root, "**")
    try:
        paths = [meta.path for meta in FileSystems.match([pattern])[0].metadata_list]
    except _IO_ERRORS as exc:
        raise ArchiveError(f"cannot list {pattern}: {exc}") from exc
    by_stem_and_ext = {_stem_and_ext(path): path for path in paths}
    audio = sorted(
        path for path in paths
        if _stem_and_ext(path)[1] in AUDIO_EXTENSIONS
        and not posixpath.basename(path).startswith(".")
    )
    if not audio:
        raise ArchiveError(
            f"no manifest ({', '.join(MANIFEST_NAMES)}) and no audio files "
            f"({', '.join(AUDIO_EXTENSIONS)}) under {root}")
    table_rows, listed = _emotion_table_rows(paths, root=root)
    for number, path in enumerate(audio, start=1):
        if not is_unicode_text(path):
            readable = path.encode("utf-8", "backslashreplace").decode("utf-8")
            listed.append(_Listed(None, f"<undecodable file name {number}>", readable,
                                  ManifestRowError("the file name is not valid Unicode")))
            continue
        stem = _stem_and_ext(path)[0]
        call_id = posixpath.basename(stem)
        transcript_uri = by_stem_and_ext.get((stem, ".json"), by_stem_and_ext.get((stem, ".txt")))
        rows = table_rows.pop(call_id, []) if transcript_uri is None else []
        try:
            _check_real_location(path, root=root, what="the audio file")
            if transcript_uri is not None:
                _check_real_location(transcript_uri, root=root, what="the transcript")
            if len(rows) > 1:
                raise _duplicate_error([source for source, _ in rows])
        except ManifestRowError as error:
            listed.append(_Listed(call_id, call_id, path, error))
            continue
        if rows:
            (source, row), = rows
            record = CallRecord(call_id=call_id, audio_uri=path, source_uri=source,
                                transcript=row.utterance, label=EMOTION_DIALOGUE_LABEL,
                                label_source="emotion_dialogue")
        else:
            record = CallRecord(call_id=call_id, audio_uri=path, source_uri=path,
                                transcript_uri=transcript_uri)
        listed.append(_Listed(call_id, call_id, record.source_uri, record))
    for wav_id, rows in table_rows.items():  # named by their row: an audio file of that
        for source, _ in rows:               # name may be a call with its own sidecar
            table, line = source.rsplit("#line=", 1)
            listed.append(_Listed(None, f"<{posixpath.basename(table)} line {line}>", source,
                                  ManifestRowError(f"{EMOTION_ID_COLUMN}={wav_id!r} names no "
                                                   f"audio file without a sidecar under {root}")))
    return listed


def _emotion_table_rows(paths: Sequence[str], *, root: str
                        ) -> tuple[dict[str, list[tuple[str, EmotionRow]]], list[_Listed]]:
    """The rows of the emotion-dialogue tables among ``paths`` (``.csv`` files whose header
    starts with ``wav_id``; other CSV files are not tables of ours): by wav id, each with
    its source (``table.csv#line=N``); and the rows that cannot be calls, as errors."""
    rows: dict[str, list[tuple[str, EmotionRow]]] = collections.defaultdict(list)
    errors: list[_Listed] = []
    for path in sorted(path for path in paths if _stem_and_ext(path)[1] == ".csv"
                       and not posixpath.basename(path).startswith(".")):
        try:
            # the header is ASCII: a CSV of another kind is neither read whole nor decoded
            if not is_emotion_table_header(_first_line(path)):
                continue
            _check_real_location(path, root=root, what="the emotion-dialogue table")
            text = decode_transcript(_read_bytes(path), name=path)
        except (SourceError, TranscriptError, ManifestRowError) as exc:
            raise ArchiveError(str(exc)) from exc
        for row in parse_emotion_table(text, name=path):
            if isinstance(row, EmotionRow):
                rows[row.wav_id].append((f"{path}#line={row.line}", row))
            else:
                line, problem = row
                source = f"{path}#line={line}"
                errors.append(_Listed(None, f"<{posixpath.basename(path)} line {line}>",
                                      source, ManifestRowError(problem)))
    return dict(rows), errors


def _stem_and_ext(path: str) -> tuple[str, str]:
    """``path`` without its extension, and the extension in lower case (``".wav"``)."""
    stem, ext = posixpath.splitext(path)
    return stem, ext.lower()


def _duplicate_error(sources: Sequence[str]) -> ManifestRowError:
    """The error of every entry sharing one id, listed at ``sources``: the first few
    places named, the rest counted, so its length does not grow with their number."""
    named = ", ".join(sources[:_DUPLICATES_NAMED])
    more = len(sources) - _DUPLICATES_NAMED
    return ManifestRowError(f"call_id is not unique: listed {len(sources)} times, at {named}"
                            + (f" and {more} more" if more > 0 else ""))


def _report(listed: Sequence[_Listed]) -> list[CallRecord | CallError]:
    """Records and errors in listing order; every entry sharing an id becomes an error."""
    sources_by_id = collections.defaultdict(list)
    for entry in listed:
        if entry.call_id is not None:
            sources_by_id[entry.call_id].append(entry.source_uri)
    duplicates = {call_id: _duplicate_error(sources)
                  for call_id, sources in sources_by_id.items() if len(sources) > 1}
    calls: list[CallRecord | CallError] = []
    for entry in listed:
        outcome = duplicates.get(entry.call_id, entry.outcome)
        if isinstance(outcome, CallRecord):
            calls.append(outcome)
        else:
            calls.append(CallError(call_id=entry.label, source_uri=entry.source_uri,
                                   stage=_STAGE, error_type=type(outcome).__name__,
                                   message=str(outcome)))
    return calls
