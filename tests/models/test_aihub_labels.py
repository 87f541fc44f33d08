"""Tests of models.dataset.with_aihub_labels and the label problems of
load_archive_features: AI Hub 119-call JSON labels, written to tmp_path, mapped onto the
taxonomy with the shipped mapping file or an edited one."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Optional

import numpy as np
import pytest

from models.dataset import LabelProblem, load_archive_features, with_aihub_labels
from models.model_card import DATA_SOURCE_NOTES
from tests.models.conftest import RATE_HZ, quiet_tone
from transforms.aihub import LabelMapping
from transforms.audio import encode_audio
from transforms.records import LABEL_SOURCES, CallRecord
from transforms.spec import DEFAULT_FEATURES

SHIPPED = "transforms/data/aihub_labels.toml"
#: The caller's words of every label written here; never to be seen in a log.
CALLER_WORDS = "김철수입니다 불이 났어요"
#: An edited mapping: a 화재 call is a prank, 실내 an everyday indoor call.
EDITED = """
format = "call-triage-aihub-labels"
version = 1

[disasterMedium]
"실내" = "normal_indoor"

[disasterLarge]
"화재" = "prank"
"""


@pytest.fixture(scope="module")
def shipped() -> LabelMapping:
    return LabelMapping.load()


def label_json(**fields: object) -> str:
    """An AI Hub 119-call JSON with the call-taker's opening, the caller's words and
    ``fields`` (disasterLarge=…, urgencyLevel=…)."""
    return json.dumps({
        **fields,
        "utterances": [
            {"startAt": 0, "endAt": 1500, "text": "네 119입니다", "speaker": 0},
            {"startAt": 2000, "endAt": 5000, "text": CALLER_WORDS, "speaker": 1},
        ]}, ensure_ascii=False)


def labelled(tmp_path: Path, call_id: str, text: Optional[str] = None, **record: object
             ) -> CallRecord:
    """A call whose transcript is ``<call_id>.json`` under ``tmp_path`` holding ``text``
    (not written when ``None``); ``record`` sets more of its fields (a manifest's)."""
    path = tmp_path / f"{call_id}.json"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    return CallRecord(call_id=call_id, audio_uri=str(tmp_path / f"{call_id}.wav"),
                      source_uri=f"manifest.csv#row={call_id}", transcript_uri=str(path),
                      **record)


def test_a_json_label_labels_the_call_with_its_metadata(tmp_path, shipped):
    record = labelled(tmp_path, "c1", label_json(
        disasterLarge="소방안전", disasterMedium="화재", urgencyLevel="상",
        startedAt="2024-05-01T23:10:00+09:00", callerId="010-1234-5678", line=119))

    assert with_aihub_labels([record], mapping=shipped) == ([dataclasses.replace(
        record, label="emergency", category="fire", label_source="aihub_119",
        urgency_level="상", started_at="2024-05-01T23:10:00+09:00",
        caller_id="010-1234-5678", line="119")], [])


def test_a_large_field_alone_labels_the_call_without_a_category(tmp_path, shipped):
    record = labelled(tmp_path, "c1", label_json(disasterLarge="허위신고", urgencyLevel="하"))

    assert with_aihub_labels([record], mapping=shipped) == ([dataclasses.replace(
        record, label="prank", label_source="aihub_119", urgency_level="하")], [])


def test_an_edited_mapping_gives_its_own_labels(tmp_path):
    mapping = LabelMapping.parse(EDITED, source="edited.toml")
    fire = labelled(tmp_path, "fire", label_json(disasterLarge="화재"))
    indoor = labelled(tmp_path, "indoor", label_json(disasterMedium="실내"))

    records, problems = with_aihub_labels([fire, indoor], mapping=mapping)

    assert [(r.label, r.category, r.label_source) for r in records] == [
        ("prank", None, "aihub_119"), ("normal", "normal_indoor", "aihub_119")]
    assert problems == []


def test_a_manifest_label_the_json_agrees_with_is_kept(tmp_path, shipped):
    same = labelled(tmp_path, "same", label_json(disasterLarge="소방안전", disasterMedium="화재"),
                    label="emergency", category="fire", label_source="manifest")
    less = labelled(tmp_path, "less", label_json(disasterLarge="화재"),
                    label="emergency", category="fire", label_source="manifest")

    records, problems = with_aihub_labels([same, less], mapping=shipped)

    # the JSON confirms it: the label is in AI Hub's layout (its licence note applies)
    assert [(r.label, r.category, r.label_source) for r in records] == [
        ("emergency", "fire", "aihub_119"), ("emergency", "fire", "aihub_119")]
    assert problems == []


@pytest.mark.parametrize("manifest, fields, detail", [
    (dict(label="normal"), dict(disasterLarge="소방안전", disasterMedium="화재"),
     "the manifest says normal/-, the JSON emergency/fire"),
    (dict(label="emergency", category="robbery"), dict(disasterMedium="화재"),
     "the manifest says emergency/robbery, the JSON emergency/fire"),
    (dict(label="prank"), dict(disasterLarge="화재"),
     "the manifest says prank/-, the JSON emergency/-"),
])
def test_a_manifest_label_the_json_contradicts_unlabels_the_call(tmp_path, shipped, manifest,
                                                                   fields, detail):
    record = labelled(tmp_path, "c1", label_json(urgencyLevel="중", **fields),
                      label_source="manifest", **manifest)

    records, problems = with_aihub_labels([record], mapping=shipped)

    assert records == [dataclasses.replace(record, label=None, category=None,
                                           label_source=None, urgency_level="중")]
    assert problems == [LabelProblem("c1", "contradictory", detail)]


@pytest.mark.parametrize("fields, expected", [
    (dict(disasterLarge="화재"), ("emergency", "fire", [])),
    (dict(disasterMedium="강도범죄"), (None, None, ["contradictory"])),
])
def test_a_manifest_category_without_a_label_is_checked_against_the_json(tmp_path, shipped,
                                                                         fields, expected):
    record = labelled(tmp_path, "c1", label_json(**fields), category="fire")

    records, problems = with_aihub_labels([record], mapping=shipped)

    assert (records[0].label, records[0].category, [p.problem for p in problems]) == expected


def test_json_fields_that_contradict_each_other_leave_the_call_unlabelled(tmp_path, shipped):
    record = labelled(tmp_path, "c1", label_json(disasterLarge="화재", disasterMedium="실내"))

    assert with_aihub_labels([record], mapping=shipped) == ([record], [LabelProblem(
        "c1", "contradictory",
        "disasterMedium='실내' → normal/normal_indoor, disasterLarge='화재' → emergency")])


def test_an_unmapped_value_leaves_the_call_unlabelled_and_is_reported(tmp_path, shipped):
    record = labelled(tmp_path, "c1", label_json(disasterLarge="소방안전",
                                                 disasterMedium="드론추락"))

    assert with_aihub_labels([record], mapping=shipped) == ([record], [LabelProblem(
        "c1", "unmapped", f"disasterMedium='드론추락' not in {SHIPPED}")])


def test_an_unmapped_value_keeps_the_manifest_label(tmp_path, shipped):
    record = labelled(tmp_path, "c1", label_json(disasterLarge="우주재난"),
                      label="emergency", category="fall", label_source="manifest")

    assert with_aihub_labels([record], mapping=shipped) == ([record], [LabelProblem(
        "c1", "unmapped", f"disasterLarge='우주재난' not in {SHIPPED}")])


def test_a_json_without_label_fields_labels_nothing_and_is_no_problem(tmp_path, shipped):
    bare = labelled(tmp_path, "bare", label_json(urgencyLevel="중", line="112"))
    blank = labelled(tmp_path, "blank", label_json(disasterLarge=" ", disasterMedium=""),
                     label="normal", label_source="manifest")

    assert with_aihub_labels([bare, blank], mapping=shipped) == (
        [dataclasses.replace(bare, urgency_level="중", line="112"), blank], [])


@pytest.mark.parametrize("text", [
    None,  # no such file
    '{"disasterLarge": "화재", "utterances": [',  # not JSON
    json.dumps({"disasterLarge": "화재"}),  # no utterances
    json.dumps({"utterances": [], "line": True}),  # metadata neither text nor a number
])
def test_a_json_that_cannot_be_read_leaves_the_call_as_listed(tmp_path, shipped, text):
    record = labelled(tmp_path, "c1", text)

    assert with_aihub_labels([record], mapping=shipped) == ([record], [])


def test_invalid_label_fields_are_a_problem_and_label_nothing(tmp_path, shipped):
    record = labelled(tmp_path, "c1", label_json(disasterLarge="화재", urgencyLevel="긴급"))
    kept = labelled(tmp_path, "c2", label_json(disasterLarge=["화재"]), label="emergency",
                    label_source="manifest")

    records, problems = with_aihub_labels([record, kept], mapping=shipped)

    assert [(r.label, r.label_source) for r in records] == [(None, None),
                                                            ("emergency", "manifest")]
    assert problems == [
        LabelProblem("c1", "invalid", "urgencyLevel='긴급' is not one of 상, 중, 하"),
        LabelProblem("c2", "invalid", "disasterLarge holds a list, not text")]


@pytest.mark.parametrize("category, fields", [
    ("fire", dict(disasterLarge="일반(정상)")),
    ("normal_indoor", dict(disasterLarge="소방안전")),
    ("normal_outdoor", dict(disasterLarge="허위신고")),
])
def test_a_manifest_category_the_json_label_cannot_carry_is_contradictory(tmp_path, shipped,
                                                                          category, fields):
    record = labelled(tmp_path, "c1", label_json(**fields), category=category)

    records, problems = with_aihub_labels([record], mapping=shipped)

    assert (records[0].label, records[0].category) == (None, None)
    assert [problem.problem for problem in problems] == ["contradictory"]


def test_a_prank_keeps_the_emergency_it_claims(tmp_path, shipped):
    record = labelled(tmp_path, "c1", label_json(disasterLarge="허위신고", disasterMedium="화재"))

    records, problems = with_aihub_labels([record], mapping=shipped)

    assert (records[0].label, records[0].category, problems) == ("prank", "fire", [])


def test_calls_without_a_json_label_are_left_as_listed(tmp_path, shipped):
    (tmp_path / "text.txt").write_text("화재", encoding="utf-8")
    records = [
        CallRecord(call_id="text", audio_uri="text.wav", source_uri="m#row=1",
                   transcript_uri=str(tmp_path / "text.txt")),
        CallRecord(call_id="silent", audio_uri="silent.wav", source_uri="m#row=3"),
        CallRecord(call_id="table", audio_uri="table.wav", source_uri="t.csv#line=2",
                   transcript="안녕", label="normal", label_source="emotion_dialogue"),
    ]

    assert with_aihub_labels(records, mapping=shipped) == (records, [])


def test_order_is_kept_and_problems_come_in_call_order(tmp_path, shipped):
    values = ["화재", "우주재난", "일반(정상)", None, "운석", "허위신고"] * 8
    records = [labelled(tmp_path, f"c{i:02d}", label_json(
        **({} if value is None else {"disasterLarge": value}))) for i, value in enumerate(values)]

    labelled_records, problems = with_aihub_labels(records, mapping=shipped)

    assert [r.call_id for r in labelled_records] == [r.call_id for r in records]
    expected = {"화재": "emergency", "일반(정상)": "normal", "허위신고": "prank"}
    assert [r.label for r in labelled_records] == [expected.get(value) for value in values]
    assert [p.call_id for p in problems] == [
        r.call_id for r, value in zip(records, values) if value in ("우주재난", "운석")]


def test_each_problem_is_logged_without_the_callers_words(tmp_path, shipped, caplog):
    records = [
        labelled(tmp_path, "c1", label_json(disasterLarge="우주재난")),
        labelled(tmp_path, "c2", label_json(disasterLarge="화재")),
        labelled(tmp_path, "c3", label_json(disasterLarge="화재", disasterMedium="실내")),
    ]

    with caplog.at_level(logging.WARNING, logger="models.dataset"):
        with_aihub_labels(records, mapping=shipped)

    assert [record.getMessage() for record in caplog.records] == [
        f"call c1: unmapped AI Hub label (disasterLarge='우주재난' not in {SHIPPED})",
        "call c3: contradictory AI Hub label (disasterMedium='실내' → normal/normal_indoor, "
        "disasterLarge='화재' → emergency)",
        f"2 call(s) have an AI Hub label that gives no label, most often: unmapped: "
        f"disasterLarge='우주재난' not in {SHIPPED} (1 calls); contradictory: "
        "disasterMedium='실내' → normal/normal_indoor, disasterLarge='화재' → emergency "
        "(1 calls)",
    ]
    assert all(record.levelno == logging.WARNING for record in caplog.records)
    assert "불이 났어요" not in caplog.text and "김철수" not in caplog.text


# --- load_archive_features --------------------------------------------------------------------

def test_load_archive_features_maps_the_labels_and_reports_the_problems(tmp_path):
    root = tmp_path / "archive"
    root.mkdir()
    for call_id, fields in (("a-fire", {"disasterLarge": "화재"}),
                            ("b-indoor", {"disasterMedium": "실내"}),
                            ("c-odd", {"disasterLarge": "우주재난"})):
        (root / f"{call_id}.wav").write_bytes(encode_audio(quiet_tone(2.0),
                                                           sample_rate_hz=RATE_HZ))
        (root / f"{call_id}.json").write_text(label_json(**fields), encoding="utf-8")
    cache = str(tmp_path / "cache")

    shipped = load_archive_features(str(root), config=DEFAULT_FEATURES, cache_dir=cache,
                                    workers=1)
    edited = load_archive_features(str(root), config=DEFAULT_FEATURES, cache_dir=cache,
                                   workers=1,
                                   label_mapping=LabelMapping.parse(EDITED, source="edited.toml"))

    assert [(c.record.call_id, c.record.label, c.record.category) for c in shipped.calls] == [
        ("a-fire", "emergency", None), ("b-indoor", "normal", "normal_indoor"),
        ("c-odd", None, None)]
    assert shipped.label_problems == (
        LabelProblem("c-odd", "unmapped", f"disasterLarge='우주재난' not in {SHIPPED}"),)
    assert shipped.errors == ()
    # the second run reads the cached features, with the labels of its own mapping
    assert len(os.listdir(cache)) == 1
    assert [(c.record.call_id, c.record.label, c.record.category) for c in edited.calls] == [
        ("a-fire", "prank", None), ("b-indoor", "normal", "normal_indoor"),
        ("c-odd", None, None)]
    assert edited.label_problems == (
        LabelProblem("c-odd", "unmapped", "disasterLarge='우주재난' not in edited.toml"),)
    for first, again in zip(shipped.calls, edited.calls):
        np.testing.assert_array_equal(first.log_mel, again.log_mel)


def test_a_json_label_beside_an_inline_transcript_still_labels_the_call(tmp_path, shipped):
    record = dataclasses.replace(labelled(tmp_path, "c1", label_json(disasterLarge="화재")),
                                 transcript="불이야")

    records, problems = with_aihub_labels([record], mapping=shipped)

    assert (records[0].label, records[0].transcript, problems) == ("emergency", "불이야", [])


def test_the_model_card_has_a_licence_note_for_every_label_source():
    assert set(DATA_SOURCE_NOTES) == set(LABEL_SOURCES) | {"unknown"}
