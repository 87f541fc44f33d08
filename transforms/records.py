"""The records that flow between stages: a call as listed, and a call that failed."""

from __future__ import annotations

import dataclasses
from typing import Optional

from transforms.errors import CallInputError


#: Where a call's label came from: a manifest column, an AI Hub 119-call JSON through the
#: label mapping, the emotion-dialogue table, a label file (``evaluate --labels``), or an
#: analyst's review (``train --reviewed``).
LABEL_SOURCES = ("manifest", "aihub_119", "emotion_dialogue", "label_file", "reviewed")


@dataclasses.dataclass(frozen=True)
class CallRecord:
    """One call as the archive lists it (docs/archive.md). Nothing here has been read yet.

    ``transcript`` is inline text (manifest column); ``transcript_uri`` a sidecar to read
    (``.txt`` or AI Hub ``.json``, told apart by extension). ``source_uri`` says where the
    call was listed (``manifest.csv#row=3`` or the audio path for sidecar archives).
    Training-only fields (``label``, ``category``, ``split``, event times in seconds) are
    ``None`` in nightly archives; ``label_source`` says where the label came from
    (:data:`LABEL_SOURCES`), ``urgency_level`` is an AI Hub label's ``urgencyLevel``.
    """

    call_id: str
    audio_uri: str
    source_uri: str
    transcript: Optional[str] = None
    transcript_uri: Optional[str] = None
    started_at: Optional[str] = None
    caller_id: Optional[str] = None
    line: Optional[str] = None
    label: Optional[str] = None
    category: Optional[str] = None
    split: Optional[str] = None
    event_start_s: Optional[float] = None
    event_end_s: Optional[float] = None
    label_source: Optional[str] = None
    urgency_level: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class CallError:
    """One call that could not be processed: a row of the errors report (docs/reports.md)."""

    call_id: str
    source_uri: str
    stage: str
    error_type: str
    message: str

    @classmethod
    def of(cls, record: CallRecord, error: CallInputError) -> CallError:
        """The errors-report row of ``record`` failing with ``error`` (at ``error.stage``)."""
        return cls(call_id=record.call_id, source_uri=record.source_uri, stage=error.stage,
                   error_type=type(error).__name__, message=str(error))
