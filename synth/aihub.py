"""A synthetic archive in the AI Hub layouts (docs/archive.md): the calls of a corpus as
audio with 119-call JSON labels beside them, and everyday indoor calls as rows of an
emotion-dialogue table, with no manifest.

The label values are the ones the shipped mapping (``transforms/data/aihub_labels.toml``)
reads: the "위급상황 음성/음향" taxonomy's Korean names, and 허위신고/장난전화 for pranks.
What the layouts cannot carry is lost, as it is for real AI Hub data: the split (calls
are split by a hash of their id), the template, a long call's episode times and a prank's
claimed category.
"""

from __future__ import annotations

import csv
import io
import json
import os
from typing import Mapping, Sequence

#: Category slug → (disasterLarge, disasterMedium), as the AI Hub taxonomy names them.
AIHUB_NAMES = {
    "sexual_assault": ("치안안전", "강제추행"), "robbery": ("치안안전", "강도범죄"),
    "theft": ("치안안전", "절도범죄"), "violence": ("치안안전", "폭력범죄"),
    "trapped": ("소방안전", "갇힘"), "electrical": ("소방안전", "전기사고"),
    "gas": ("소방안전", "가스사고"), "fire": ("소방안전", "화재"),
    "medical": ("소방안전", "응급의료"), "storm": ("자연재해", "태풍/강풍"),
    "earthquake": ("자연재해", "지진"), "fall": ("사고발생", "낙상"),
    "collapse": ("사고발생", "붕괴사고"), "help_request": ("일반(위급)", "도움요청"),
    "normal_outdoor": ("일반(정상)", "실외"),
}
PRANK_NAMES = ("허위신고", "장난전화")
#: Normal calls of this category become emotion-dialogue rows (everyday speech).
EVERYDAY_CATEGORY = "normal_indoor"
EMOTION_TABLE = "emotion_dialogue.csv"
EMOTION_HEADER = ["wav_id", "발화문", "상황"] + [
    column for n in range(1, 6) for column in (f"{n}번 감정", f"{n}번 감정세기")]
#: The call-taker's opening line, the call's first utterance (speaker 0).
TAKER_OPENING = "네 119입니다. 무슨 일이세요?"
#: When the caller's first utterance starts (ms), after the opening.
CALLER_START_MS = 2000


def is_everyday(row: Mapping[str, str]) -> bool:
    """Whether the corpus row becomes an emotion-dialogue row, not a 119-call label."""
    return row["label"] == "normal" and row["category"] == EVERYDAY_CATEGORY


def urgency_level(row: Mapping[str, str]) -> str:
    """The call's urgencyLevel: 상 for an emergency on line 119, 중 for one on 112, 하
    for the rest."""
    if row["label"] != "emergency":
        return "하"
    return "상" if row["line"] == "119" else "중"


def call_label(row: Mapping[str, str], *, duration_ms: int) -> dict:
    """The AI Hub 119-call JSON of a corpus manifest row (a call of ``duration_ms``)."""
    large, medium = (PRANK_NAMES if row["label"] == "prank"
                     else AIHUB_NAMES[row["category"]])
    utterances = [{"id": f"{row['call_id']}-0", "startAt": 0, "endAt": CALLER_START_MS - 200,
                   "text": TAKER_OPENING, "speaker": 0}]
    if row["transcript"]:
        utterances.append({"id": f"{row['call_id']}-1", "startAt": CALLER_START_MS,
                           "endAt": max(duration_ms, CALLER_START_MS + 1),
                           "text": row["transcript"], "speaker": 1})
    return {"_id": row["call_id"], "audioPath": os.path.basename(row["audio"]),
            "disasterLarge": large, "disasterMedium": medium,
            "urgencyLevel": urgency_level(row), "startedAt": row["started_at"],
            "callerId": row["caller_id"], "line": row["line"], "utterances": utterances}


def emotion_table(rows: Sequence[Mapping[str, str]]) -> bytes:
    """The emotion-dialogue table of the everyday ``rows``, CP949-encoded as AI Hub ships
    it: the wav id, the utterance, situation ``neutral`` and five ``Neutral`` (0) votes."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(EMOTION_HEADER)
    for row in rows:
        writer.writerow([os.path.splitext(os.path.basename(row["audio"]))[0],
                         row["transcript"], "neutral"] + ["Neutral", "0"] * 5)
    return text.getvalue().encode("cp949")


def write_aihub_layout(rows: Sequence[Mapping[str, str]], *, durations_ms: Sequence[int],
                       out_dir: str) -> None:
    """Writes the labels of the corpus ``rows`` (manifest rows, their audio already under
    ``out_dir``; ``durations_ms`` per row) in the AI Hub layouts: ``<audio stem>.json``
    beside each audio file, :data:`EMOTION_TABLE` at the root for the everyday calls."""
    everyday = [row for row in rows if is_everyday(row)]
    for row, duration_ms in zip(rows, durations_ms):
        if is_everyday(row):
            continue
        path = os.path.join(out_dir, os.path.splitext(row["audio"])[0] + ".json")
        with open(path, "w", encoding="utf-8") as file:
            json.dump(call_label(row, duration_ms=duration_ms), file, ensure_ascii=False,
                      indent=1)
    with open(os.path.join(out_dir, EMOTION_TABLE), "wb") as file:
        file.write(emotion_table(everyday))
