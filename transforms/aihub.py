"""The AI Hub layouts (docs/archive.md): 119-call JSON labels, the emotion-dialogue table,
and the editable mapping of their labels onto the taxonomy (docs/taxonomy.md).

Pure functions over parsed JSON, decoded text and mappings (reading an archive's files is
:mod:`transforms.archive`'s), and the loading of a mapping file.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.resources
import io
import re
import tomllib
from typing import Any, Mapping, Optional

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from transforms import spec
from transforms.errors import ArchiveError, ConfigError, TranscriptError

#: ``urgencyLevel`` values of a 119-call label (high, medium, low).
URGENCY_LEVELS = ("상", "중", "하")
#: 119-call JSON fields read into the call record (record field → JSON field), read as
#: manifest cells are; a manifest value of the same call wins. They are not AI Hub label
#: fields: call-triage's additions to the layout, for a centre's own exports.
METADATA_FIELDS = {"started_at": "startedAt", "caller_id": "callerId", "line": "line"}
#: The label fields a mapping file maps (its two tables).
MAPPED_FIELDS = ("disasterMedium", "disasterLarge")
#: The mapping shipped with call-triage (``transforms/data/aihub_labels.toml``).
DEFAULT_MAPPING_RESOURCE = "data/aihub_labels.toml"
MAPPING_FORMAT = "call-triage-aihub-labels"

#: Columns of the emotion-dialogue table read (spaces removed from the header before
#: matching): the wav id and the utterance. The others (상황, the situation; 1번 감정 …
#: 5번 감정세기, five annotators' emotion and intensity) may be there and are not read.
EMOTION_ID_COLUMN = "wav_id"
EMOTION_TEXT_COLUMN = "발화문"
#: Label of every emotion-dialogue row: everyday speech.
EMOTION_DIALOGUE_LABEL = "normal"


@dataclasses.dataclass(frozen=True)
class CallLabel:
    """What a 119-call JSON says about its call beyond the caller's words: the label
    fields as written (``None`` when absent, blank or unreadable), what is wrong with the
    unreadable ones (``invalid``, for the training commands to report; the nightly job
    does not read labels), and the call's metadata (:data:`METADATA_FIELDS`)."""

    disaster_large: Optional[str] = None
    disaster_medium: Optional[str] = None
    urgency_level: Optional[str] = None
    invalid: tuple[str, ...] = ()
    started_at: Optional[str] = None
    caller_id: Optional[str] = None
    line: Optional[str] = None

    def fields(self) -> dict[str, Optional[str]]:
        """The mapped label fields by their JSON names (:data:`MAPPED_FIELDS`)."""
        return {"disasterMedium": self.disaster_medium, "disasterLarge": self.disaster_large}


@dataclasses.dataclass(frozen=True)
class EmotionRow:
    """One row of the emotion-dialogue table: the wav id and the utterance. The situation
    and the annotators' emotions are not labels of ours: everyday speech in any emotion is
    a normal call."""

    line: int  # the row's line in the file (the header is line 1)
    wav_id: str
    utterance: str


@dataclasses.dataclass(frozen=True)
class Resolution:
    """A call's label and category from its label fields, or why there is none.

    ``problem`` is ``None`` (``label`` set, ``category`` may be ``None``), ``"unlabelled"``
    (no label field given), ``"invalid"`` (a label field cannot be read), ``"unmapped"`` or
    ``"contradictory"``; ``detail`` says which values, in words for the modeller.
    """

    label: Optional[str] = None
    category: Optional[str] = None
    problem: Optional[str] = None
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class LabelMapping:
    """A mapping file (``transforms/data/aihub_labels.toml`` documents the layout):
    per :data:`MAPPED_FIELDS` name, value → taxonomy name (a label or a category slug)."""

    source: str
    names: Mapping[str, Mapping[str, str]]

    @classmethod
    def load(cls, path: Optional[str] = None) -> LabelMapping:
        """The mapping in the TOML file ``path``, or the shipped one when ``None``.

        Raises:
            ConfigError: the file cannot be read or parsed, has another ``format`` or
                ``version``, or maps a value to a name outside the taxonomy.
        """
        if path is None:
            resource = importlib.resources.files("transforms").joinpath(DEFAULT_MAPPING_RESOURCE)
            return cls.parse(resource.read_text(encoding="utf-8"),
                             source=f"transforms/{DEFAULT_MAPPING_RESOURCE}")
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as file:
                text = file.read().decode("utf-8")
        except (OSError, ValueError) as exc:  # missing, unreadable, not UTF-8, bad URI
            raise ConfigError(f"cannot read the AI Hub label mapping {path}: {exc}") from exc
        return cls.parse(text, source=path)

    @classmethod
    def parse(cls, text: str, *, source: str) -> LabelMapping:
        """The mapping of TOML ``text`` (see :meth:`load`), ``source`` naming it in errors."""
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML ({exc})") from exc
        if document.get("format") != MAPPING_FORMAT or document.get("version") != 1:
            raise ConfigError(f"{source}: format must be {MAPPING_FORMAT!r} and version 1")
        unknown = sorted(set(document) - {"format", "version", *MAPPED_FIELDS})
        if unknown:
            raise ConfigError(f"{source}: unknown keys {unknown}; tables are {MAPPED_FIELDS}")
        names = {}
        for field in MAPPED_FIELDS:
            table = document.get(field, {})
            if not isinstance(table, dict):
                raise ConfigError(f"{source}: [{field}] must be a table")
            names[field] = {}
            for value, name in table.items():
                if name not in spec.LABELS + spec.CATEGORIES:
                    raise ConfigError(
                        f"{source}: [{field}] {value!r} = {name!r} is neither a label "
                        f"({', '.join(spec.LABELS)}) nor a category of docs/taxonomy.md")
                if value.strip() in names[field]:
                    raise ConfigError(f"{source}: [{field}] lists {value.strip()!r} twice "
                                      f"(values are matched with their spaces trimmed)")
                names[field][value.strip()] = name
        return cls(source=source, names=names)

    def resolve(self, label: CallLabel) -> Resolution:
        """The label and category of a call with ``label``'s fields: each given field must
        be readable and mapped, and the fields must agree, except that a prank keeps the
        category an emergency field names (the emergency it claims; docs/taxonomy.md)."""
        if label.invalid:
            return Resolution(problem="invalid", detail="; ".join(label.invalid))
        given = {field: value for field, value in label.fields().items() if value is not None}
        if not given:
            return Resolution(problem="unlabelled", detail="no disasterLarge or disasterMedium")
        unmapped = [f"{field}={value!r}" for field, value in given.items()
                    if value not in self.names[field]]
        if unmapped:
            return Resolution(problem="unmapped",
                              detail=f"{', '.join(unmapped)} not in {self.source}")
        named = [(field, value, _label_and_category(self.names[field][value]))
                 for field, value in given.items()]
        labels = {label_ for _, _, (label_, _) in named}
        categories = {category for _, _, (_, category) in named if category is not None}
        if labels == {"prank", "emergency"} and categories <= set(spec.LABEL_CATEGORIES["prank"]):
            labels = {"prank"}
        if len(labels) > 1 or len(categories) > 1:
            said = ", ".join(f"{field}={value!r} → {'/'.join(filter(None, pair))}"
                             for field, value, pair in named)
            return Resolution(problem="contradictory", detail=said)
        return Resolution(label=labels.pop(), category=categories.pop() if categories else None)


def _label_and_category(name: str) -> tuple[str, Optional[str]]:
    """A mapping's taxonomy name as ``(label, category or None)``."""
    if name in spec.LABELS:
        return name, None
    return ("normal" if name in spec.NORMAL_CATEGORIES else "emergency"), name


def parse_call_label(payload: Any, *, name: str) -> tuple[str, CallLabel]:
    """The caller's words and the label of an AI Hub 119-call JSON (docs/archive.md).

    ``payload["utterances"]`` is a list of ``{"startAt", "endAt", "text", "speaker"}``
    (times in ms; speaker 1 = caller, 0 = call-taker; given as int or string). The
    caller's texts are joined with one space in ``startAt`` order (ties keep file order);
    blank texts are skipped. ``disasterLarge``, ``disasterMedium`` and ``urgencyLevel``
    are read when they hold text (a number becomes its decimal text; blank is absent); a
    value of another type, or an ``urgencyLevel`` not in :data:`URGENCY_LEVELS`, is left
    out and described in ``invalid``. The metadata fields are not read here
    (:func:`transforms.archive.read_call_label` reads them as manifest cells).

    Returns:
        ``(caller_text, label)``; the text is ``""`` when the caller says nothing.

    Raises:
        TranscriptError: the payload or an utterance does not have that layout, naming
            ``name`` and what is wrong (never the caller's words).
    """
    if not isinstance(payload, dict):
        raise TranscriptError(
            f"{name}: AI Hub label must be a JSON object, got {type(payload).__name__}")
    utterances = payload.get("utterances")
    if not isinstance(utterances, list):
        raise TranscriptError(
            f"{name}: 'utterances' must be a list, got {type(utterances).__name__}")
    caller = []
    for index, utterance in enumerate(utterances):
        start_ms, text, speaker = _utterance_fields(utterance, index=index, name=name)
        if speaker == "1" and text.strip():
            caller.append((start_ms, text.strip()))
    words = " ".join(text for _, text in sorted(caller, key=lambda item: item[0]))
    fields, invalid = {}, []
    for field, key in (("disaster_large", "disasterLarge"),
                       ("disaster_medium", "disasterMedium"), ("urgency_level", "urgencyLevel")):
        value = payload.get(key)
        if isinstance(value, bool) or not isinstance(value, (str, int, type(None))):
            invalid.append(f"{key} holds a {type(value).__name__}, not text")
            value = None
        fields[field] = None if value is None else str(value).strip() or None
    if fields["urgency_level"] not in (None,) + URGENCY_LEVELS:
        invalid.append(f"urgencyLevel={fields['urgency_level']!r} is not one of "
                       f"{', '.join(URGENCY_LEVELS)}")
        fields["urgency_level"] = None
    return words, CallLabel(**fields, invalid=tuple(invalid))


def _utterance_fields(utterance: Any, *, index: int, name: str) -> tuple[float, str, str]:
    """``(startAt, text, speaker as text)`` of one AI Hub utterance, validated."""
    if not isinstance(utterance, dict):
        raise TranscriptError(
            f"{name}: utterances[{index}] must be an object, got {type(utterance).__name__}")
    start_ms = utterance.get("startAt")
    text = utterance.get("text")
    speaker = utterance.get("speaker")
    if isinstance(start_ms, bool) or not isinstance(start_ms, (int, float)):
        raise TranscriptError(f"{name}: utterances[{index}].startAt holds a "
                              f"{type(start_ms).__name__}, not a number")
    if not isinstance(text, str):
        raise TranscriptError(f"{name}: utterances[{index}].text holds a "
                              f"{type(text).__name__}, not text")
    if isinstance(speaker, bool) or not isinstance(speaker, (int, str)):
        raise TranscriptError(f"{name}: utterances[{index}].speaker holds a "
                              f"{type(speaker).__name__}, not an int or string")
    return start_ms, text, str(speaker).strip()


def is_emotion_table_header(first_line: str) -> bool:
    """Whether a CSV file's first line is the emotion-dialogue table's header."""
    cells = re.split(r"[,\t]", first_line.lstrip("\ufeff"))
    return bool(cells) and cells[0].strip().strip('"') == EMOTION_ID_COLUMN


def parse_emotion_table(text: str, *, name: str) -> list[EmotionRow | tuple[int, str]]:
    """The rows of an emotion-dialogue table (the text of a CSV or tab-separated file).

    Header names are matched with spaces removed; :data:`EMOTION_ID_COLUMN` and
    :data:`EMOTION_TEXT_COLUMN` are required, other columns are ignored.

    Returns:
        Per data row (blank lines skipped): an :class:`EmotionRow`, or ``(line, problem)``
        for a row without a wav id or with more cells than the header (``line``: the
        file line the row starts on).

    Raises:
        ArchiveError: the text has no header with the required columns, or a quote left
            open swallows the rest of the file.
    """
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line else ","
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter,
                        strict=True)
    rows, first_lines, line = [], [], 1  # a quoted cell may span lines
    try:
        for row in reader:
            rows.append(row)
            first_lines.append(line)
            line = reader.line_num + 1
    except csv.Error as exc:
        raise ArchiveError(f"{name}: not a readable table ({exc})") from exc
    header = [cell.replace(" ", "") for cell in rows[0]] if rows else []
    missing = [column for column in (EMOTION_ID_COLUMN, EMOTION_TEXT_COLUMN)
               if column not in header]
    if missing:
        raise ArchiveError(f"{name}: an emotion-dialogue table needs the columns "
                           f"{', '.join(missing)}")
    position = {column: index for index, column in enumerate(header)}
    parsed: list[EmotionRow | tuple[int, str]] = []
    for line, cells in zip(first_lines[1:], rows[1:]):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            extra = len(cells) - len(header)
            parsed.append((line, f"row has {extra} more cell(s) than the header"))
            continue
        cells = cells + [""] * (len(header) - len(cells))
        wav_id = cells[position[EMOTION_ID_COLUMN]].strip()
        if not wav_id:
            parsed.append((line, f"{EMOTION_ID_COLUMN} is empty"))
            continue
        parsed.append(EmotionRow(line=line, wav_id=wav_id,
                                 utterance=cells[position[EMOTION_TEXT_COLUMN]].strip()))
    return parsed
