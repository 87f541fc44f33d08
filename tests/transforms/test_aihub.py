"""Tests of transforms.aihub and of the AI Hub layouts in transforms.archive: the label
mapping, 119-call JSON labels and metadata, the emotion-dialogue table, and sidecar
archives that mix them, on real files written to tmp_path."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from synth.aihub import AIHUB_NAMES, EMOTION_HEADER, PRANK_NAMES
from tests.transforms.test_archive import (
    AIHUB_CALLER_TEXT, AIHUB_LABEL, read_error, write, write_manifest)
from transforms import spec
from transforms.aihub import (
    MAPPED_FIELDS, CallLabel, EmotionRow, LabelMapping, Resolution, is_emotion_table_header,
    parse_call_label, parse_emotion_table)
from transforms.archive import list_calls, read_call_label, read_transcript
from transforms.errors import ArchiveError, ConfigError, TranscriptError
from transforms.records import CallRecord

SHIPPED = "transforms/data/aihub_labels.toml"
HEADER = "format = \"call-triage-aihub-labels\"\nversion = 1\n"
#: The emotion-dialogue header as AI Hub ships it (spaces inside the emotion columns).
TABLE_HEADER = ",".join(EMOTION_HEADER)
NEUTRAL = ",neutral" + ",Neutral,0" * 5


@pytest.fixture(scope="module")
def shipped() -> LabelMapping:
    return LabelMapping.load()


def table_row(wav_id: str, utterance: str) -> str:
    return f"{wav_id},{utterance}{NEUTRAL}"


# --- the mapping file -------------------------------------------------------------------------

def test_the_shipped_mapping_loads_and_names_only_taxonomy_names(shipped):
    assert shipped.source == SHIPPED
    assert set(shipped.names) == set(MAPPED_FIELDS)
    for field in MAPPED_FIELDS:
        assert shipped.names[field], field
        for value, name in shipped.names[field].items():
            assert name in spec.LABELS + spec.CATEGORIES, (field, value, name)
    # every category of the taxonomy can be reached from a disasterMedium value
    assert set(spec.CATEGORIES) <= set(shipped.names["disasterMedium"].values())


@pytest.mark.parametrize("category", sorted(AIHUB_NAMES))
def test_the_shipped_mapping_reads_the_aihub_taxonomy_names(shipped, category):
    large, medium = AIHUB_NAMES[category]
    label = "normal" if category in spec.NORMAL_CATEGORIES else "emergency"

    assert shipped.resolve(CallLabel(disaster_large=large, disaster_medium=medium)) == (
        Resolution(label=label, category=category))


def test_the_shipped_mapping_reads_pranks_and_large_fields_alone(shipped):
    large, medium = PRANK_NAMES
    assert shipped.resolve(CallLabel(disaster_large=large, disaster_medium=medium)) == (
        Resolution(label="prank"))
    # a large field alone gives a label and no category (the category stays unknown)
    assert shipped.resolve(CallLabel(disaster_large="화재")) == Resolution(label="emergency")
    assert shipped.resolve(CallLabel(disaster_large="일반(정상)")) == Resolution(label="normal")


def test_an_edited_copy_of_the_mapping_loads_from_its_path(tmp_path):
    copy = tmp_path / "labels.toml"
    shutil.copy(SHIPPED, copy)
    with copy.open("a", encoding="utf-8") as file:
        file.write('"드론추락" = "fall"\n')  # appended to the last table, [disasterLarge]

    mapping = LabelMapping.load(str(copy))

    assert mapping.source == str(copy)
    assert mapping.resolve(CallLabel(disaster_large="드론추락")) == Resolution(
        label="emergency", category="fall")
    assert LabelMapping.load().resolve(CallLabel(disaster_large="드론추락")).problem == "unmapped"


def test_a_missing_mapping_file_is_a_config_error(tmp_path):
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as caught:
        LabelMapping.load(str(path))
    assert str(caught.value) == (f"cannot read the AI Hub label mapping {path}: [Errno 2] "
                                 f"No such file or directory: '{path}'")


@pytest.mark.parametrize("text, message", [
    (HEADER.replace("call-triage-aihub-labels", "aihub"),
     "format must be 'call-triage-aihub-labels' and version 1"),
    (HEADER.replace("version = 1", "version = 2"),
     "format must be 'call-triage-aihub-labels' and version 1"),
    ("[disasterLarge]\n\"화재\" = \"emergency\"\n",
     "format must be 'call-triage-aihub-labels' and version 1"),
    (HEADER + "[disasterSmall]\n\"화재\" = \"fire\"\n",
     "unknown keys ['disasterSmall']; tables are ('disasterMedium', 'disasterLarge')"),
    (HEADER + "disasterLarge = \"화재\"\n", "[disasterLarge] must be a table"),
    (HEADER + "[disasterMedium]\n\"화재\" = \"불\"\n",
     "[disasterMedium] '화재' = '불' is neither a label (emergency, normal, prank) nor a "
     "category of docs/taxonomy.md"),
    (HEADER + "[disasterLarge]\n\"구급\" = \"Emergency\"\n",
     "[disasterLarge] '구급' = 'Emergency' is neither a label (emergency, normal, prank) "
     "nor a category of docs/taxonomy.md"),
    (HEADER + "[disasterLarge]\n화재 = emergency\n", "not valid TOML (..."),
])
def test_mapping_files_of_another_layout_are_refused_naming_the_source(text, message):
    with pytest.raises(ConfigError) as caught:
        LabelMapping.parse(text, source="edited.toml")
    if message.endswith("..."):  # the rest is tomllib's
        assert str(caught.value).startswith(f"edited.toml: {message[:-3]}")
    else:
        assert str(caught.value) == f"edited.toml: {message}"


# --- resolving a call's label -------------------------------------------------------------------

def test_unmapped_values_are_named_with_their_field(shipped):
    assert shipped.resolve(CallLabel(disaster_large="소방안전", disaster_medium="드론추락")) == (
        Resolution(problem="unmapped",
                   detail=f"disasterMedium='드론추락' not in {SHIPPED}"))
    assert shipped.resolve(CallLabel(disaster_large="우주재난", disaster_medium="운석")) == (
        Resolution(problem="unmapped",
                   detail=f"disasterMedium='운석', disasterLarge='우주재난' not in {SHIPPED}"))


def test_fields_naming_different_labels_are_contradictory(shipped):
    assert shipped.resolve(CallLabel(disaster_large="화재", disaster_medium="실내")) == (
        Resolution(problem="contradictory",
                   detail="disasterMedium='실내' → normal/normal_indoor, "
                          "disasterLarge='화재' → emergency"))


def test_fields_naming_different_categories_are_contradictory():
    mapping = LabelMapping.parse(
        HEADER + '[disasterMedium]\n"가스" = "gas"\n"불" = "fire"\n'
                 '[disasterLarge]\n" 화재 " = "fire"\n"사고" = "emergency"\n', source="m")

    assert mapping.resolve(CallLabel(disaster_large="화재", disaster_medium="가스")) == (
        Resolution(problem="contradictory",
                   detail="disasterMedium='가스' → emergency/gas, "
                          "disasterLarge='화재' → emergency/fire"))
    # agreeing categories (mapping keys are trimmed), or a category and a bare label that
    # agree, are one label
    assert mapping.resolve(CallLabel(disaster_large="화재", disaster_medium="불")) == (
        Resolution(label="emergency", category="fire"))
    assert mapping.resolve(CallLabel(disaster_large="사고", disaster_medium="가스")) == (
        Resolution(label="emergency", category="gas"))


def test_a_call_without_label_fields_is_unlabelled(shipped):
    expected = Resolution(problem="unlabelled", detail="no disasterLarge or disasterMedium")
    assert shipped.resolve(CallLabel()) == expected
    assert shipped.resolve(CallLabel(urgency_level="상", line="119")) == expected


# --- 119-call JSON: label fields and metadata ----------------------------------------------------

def test_a_call_label_carries_its_fields_and_read_call_label_its_metadata(tmp_path):
    payload = dict(AIHUB_LABEL, disasterMedium=" 화재 ", urgencyLevel="중",
                   startedAt="2024-05-01T23:10:00+09:00", callerId="010-1234-5678", line=119)
    path = str(write(tmp_path / "a.json", json.dumps(payload, ensure_ascii=False).encode("utf-8")))
    fields = CallLabel(disaster_large="화재", disaster_medium="화재", urgency_level="중")

    assert parse_call_label(payload, name="a.json") == (AIHUB_CALLER_TEXT, fields)
    assert read_call_label(path) == (AIHUB_CALLER_TEXT, dataclasses.replace(
        fields, started_at="2024-05-01T23:10:00+09:00", caller_id="010-1234-5678",
        line="119"))


def test_blank_and_absent_fields_of_a_call_label_are_none():
    payload = {"utterances": [], "disasterLarge": "", "disasterMedium": "  ",
               "urgencyLevel": " ", "startedAt": "", "callerId": None}

    assert parse_call_label(payload, name="a.json") == ("", CallLabel())


@pytest.mark.parametrize("fields, field, invalid", [
    ({"urgencyLevel": "긴급"}, "urgency_level", "urgencyLevel='긴급' is not one of 상, 중, 하"),
    ({"urgencyLevel": "high"}, "urgency_level", "urgencyLevel='high' is not one of 상, 중, 하"),
    ({"urgencyLevel": 1}, "urgency_level", "urgencyLevel='1' is not one of 상, 중, 하"),
    ({"disasterLarge": ["화재"]}, "disaster_large", "disasterLarge holds a list, not text"),
    ({"disasterMedium": True}, "disaster_medium", "disasterMedium holds a bool, not text"),
])
def test_label_fields_of_another_layout_are_invalid_not_an_error(fields, field, invalid):
    words, label = parse_call_label({**AIHUB_LABEL, **fields}, name="calls/a.json")

    assert words == AIHUB_CALLER_TEXT  # the nightly job still scores the call
    assert label.invalid == (invalid,)
    assert getattr(label, field) is None


@pytest.mark.parametrize("fields, message", [
    ({"line": True}, "line holds a bool, not text"),
    ({"startedAt": {"date": "2024-05-01"}}, "startedAt holds a dict, not text"),
    ({"callerId": ["010"]}, "callerId holds a list, not text"),
])
def test_metadata_fields_of_another_layout_fail_the_call(tmp_path, fields, message):
    path = str(write(tmp_path / "a.json",
                     json.dumps({**AIHUB_LABEL, **fields}, ensure_ascii=False).encode("utf-8")))

    with pytest.raises(TranscriptError) as caught:
        read_call_label(path)
    assert str(caught.value) == f"{path}: {message}"


def test_read_call_label_decodes_a_cp949_file(tmp_path):
    payload = dict(AIHUB_LABEL, disasterMedium="화재", callerId="010-1234-5678")
    path = write(tmp_path / "a.json", json.dumps(payload, ensure_ascii=False).encode("cp949"))

    words, label = read_call_label(str(path))

    assert words == AIHUB_CALLER_TEXT
    assert (label.disaster_large, label.disaster_medium, label.urgency_level,
            label.caller_id) == ("화재", "화재", "상", "010-1234-5678")


def test_read_transcript_fills_a_sidecar_call_with_the_json_metadata(tmp_path):
    write(tmp_path / "a.wav", b"RIFF")
    write(tmp_path / "a.json", json.dumps(dict(
        AIHUB_LABEL, startedAt="2024-05-01T23:10:00+09:00", callerId="010-1234-5678",
        line=119, urgencyLevel="하"), ensure_ascii=False))
    [listed] = list_calls(str(tmp_path))

    text, record = read_transcript(listed)

    assert text == AIHUB_CALLER_TEXT
    assert record == CallRecord(
        call_id="a", audio_uri=f"{tmp_path}/a.wav", source_uri=f"{tmp_path}/a.wav",
        transcript_uri=f"{tmp_path}/a.json", started_at="2024-05-01T23:10:00+09:00",
        caller_id="010-1234-5678", line="119", urgency_level="하")


def test_read_transcript_keeps_the_manifest_values_over_the_json(tmp_path):
    write(tmp_path / "text" / "c1.json", json.dumps(dict(
        AIHUB_LABEL, startedAt="2024-05-01T23:10:00+09:00", callerId="010-1234-5678",
        line="119"), ensure_ascii=False))
    manifest = write_manifest(tmp_path, [
        {"call_id": "c1", "audio": "c1.wav", "transcript_path": "text/c1.json",
         "started_at": "2024-05-02T01:00:00+09:00", "caller_id": "010-9999-0000", "line": "",
         "label": "emergency"}])
    [listed] = list_calls(str(tmp_path))

    text, record = read_transcript(listed)

    assert text == AIHUB_CALLER_TEXT
    assert record == CallRecord(
        call_id="c1", audio_uri=f"{tmp_path}/c1.wav", source_uri=f"{manifest}#row=1",
        transcript_uri=f"{tmp_path}/text/c1.json", started_at="2024-05-02T01:00:00+09:00",
        caller_id="010-9999-0000", line="119", label="emergency", label_source="manifest",
        urgency_level="상")


# --- the emotion-dialogue table ----------------------------------------------------------------

@pytest.mark.parametrize("first_line, expected", [
    (TABLE_HEADER, True),
    ("\ufeffwav_id,발화문", True),
    ('"wav_id","발화문"', True),
    ("wav_id\t발화문\t상황", True),
    (" wav_id ,발화문", True),
    ("발화문,wav_id", False),
    ("wav_ids,발화문", False),
    ("call_id,audio,transcript", False),
    ("", False),
])
def test_emotion_table_headers_start_with_wav_id(first_line, expected):
    assert is_emotion_table_header(first_line) is expected


@pytest.mark.parametrize("header", [
    TABLE_HEADER,  # 1번 감정, 1번 감정세기, … as AI Hub writes them
    TABLE_HEADER.replace(" ", ""),
    " wav_id , 발화 문 ," + ",".join(EMOTION_HEADER[2:]),
])
def test_emotion_table_headers_are_matched_without_spaces(header):
    text = f"{header}\r\n{table_row('e1', ' 안녕하세요 ')}\r\n{table_row('e2', '밥 먹었어요?')}\r\n"

    assert parse_emotion_table(text, name="t.csv") == [
        EmotionRow(line=2, wav_id="e1", utterance="안녕하세요"),
        EmotionRow(line=3, wav_id="e2", utterance="밥 먹었어요?"),
    ]


def test_a_tab_separated_emotion_table_with_columns_in_another_order():
    text = "wav_id\t상황\t발화문\ne1\tneutral\t점심 먹자, 지금\n\ne2\tangry\n"

    assert parse_emotion_table(text, name="t.tsv") == [
        EmotionRow(line=2, wav_id="e1", utterance="점심 먹자, 지금"),
        EmotionRow(line=4, wav_id="e2", utterance=""),  # short row; blank line 3 skipped
    ]


def test_rows_that_cannot_be_calls_are_problems_with_their_line():
    text = "\n".join([
        "wav_id,발화문,상황",
        "e1,안녕하세요,neutral",
        "e2,안녕,하세요,neutral",
        " ,주인 없는 말,neutral",
        "e3,잘 자요,neutral",
    ])

    assert parse_emotion_table(text, name="t.csv") == [
        EmotionRow(line=2, wav_id="e1", utterance="안녕하세요"),
        (3, "row has 1 more cell(s) than the header"),
        (4, "wav_id is empty"),
        EmotionRow(line=5, wav_id="e3", utterance="잘 자요"),
    ]


def test_row_lines_are_file_lines_after_an_utterance_spanning_two_lines():
    text = 'wav_id,발화문\ne1,"첫 줄\n둘째 줄"\ne2,안녕\n'

    assert parse_emotion_table(text, name="t.csv") == [
        EmotionRow(line=2, wav_id="e1", utterance="첫 줄\n둘째 줄"),
        EmotionRow(line=4, wav_id="e2", utterance="안녕"),
    ]


@pytest.mark.parametrize("text, message", [
    ("wav_id,상황\ne1,neutral\n", "an emotion-dialogue table needs the columns 발화문"),
    ("wavid,발화문\ne1,hi\n", "an emotion-dialogue table needs the columns wav_id"),
    ("", "an emotion-dialogue table needs the columns wav_id, 발화문"),
    ('wav_id,발화문\ne1,"안녕\ne2,잘 가\n', "not a readable table (unexpected end of data)"),
])
def test_an_emotion_table_without_its_columns_or_with_an_open_quote_is_an_archive_error(
        text, message):
    with pytest.raises(ArchiveError) as caught:
        parse_emotion_table(text, name="t.csv")
    assert str(caught.value) == f"t.csv: {message}"


# --- sidecar archives in the AI Hub layouts ----------------------------------------------------

def test_a_sidecar_archive_mixing_the_aihub_layouts(tmp_path):
    root = tmp_path / "archive"
    for name in ("calls/both.wav", "calls/fire.wav", "calls/talk.wav", "emotion/dup.wav",
                 "emotion/e1.wav", "emotion/e2.wav", "lone.wav"):
        write(root / name, b"RIFF")
    write(root / "calls" / "fire.json", json.dumps(AIHUB_LABEL, ensure_ascii=False))
    write(root / "calls" / "both.json", json.dumps(AIHUB_LABEL, ensure_ascii=False))
    write(root / "calls" / "talk.txt", "여보세요")
    table = write(root / "tables" / "2024" / "감정대화.csv", "\r\n".join([
        TABLE_HEADER,
        table_row("e1", "오늘 점심 뭐 먹어요"),
        table_row("e2", "날씨가 좋네요"),
        table_row("missing", "파일이 없어요"),
        table_row("dup", "첫 번째"),
        table_row("both", "사이드카가 이겨요"),
        table_row("dup", "두 번째"),
    ]).encode("cp949"))
    write(root / "tables" / "other.csv", "call_id,audio\nlone,lone.wav\n")
    write(root / "tables" / "wav_id_later.csv", "id,wav_id,발화문\n1,lone,ignored\n")

    assert list_calls(str(root)) == [
        CallRecord(call_id="both", audio_uri=f"{root}/calls/both.wav",
                   source_uri=f"{root}/calls/both.wav", transcript_uri=f"{root}/calls/both.json"),
        CallRecord(call_id="fire", audio_uri=f"{root}/calls/fire.wav",
                   source_uri=f"{root}/calls/fire.wav", transcript_uri=f"{root}/calls/fire.json"),
        CallRecord(call_id="talk", audio_uri=f"{root}/calls/talk.wav",
                   source_uri=f"{root}/calls/talk.wav", transcript_uri=f"{root}/calls/talk.txt"),
        read_error("dup", f"{root}/emotion/dup.wav",
                   f"call_id is not unique: listed 2 times, at {table}#line=5, {table}#line=7"),
        CallRecord(call_id="e1", audio_uri=f"{root}/emotion/e1.wav", source_uri=f"{table}#line=2",
                   transcript="오늘 점심 뭐 먹어요", label="normal", label_source="emotion_dialogue"),
        CallRecord(call_id="e2", audio_uri=f"{root}/emotion/e2.wav", source_uri=f"{table}#line=3",
                   transcript="날씨가 좋네요", label="normal", label_source="emotion_dialogue"),
        CallRecord(call_id="lone", audio_uri=f"{root}/lone.wav", source_uri=f"{root}/lone.wav"),
        # named by their row: "both" is a call (scored) and must not be an error too
        read_error("<감정대화.csv line 4>", f"{table}#line=4",
                   f"wav_id='missing' names no audio file without a sidecar under {root}"),
        read_error("<감정대화.csv line 6>", f"{table}#line=6",
                   f"wav_id='both' names no audio file without a sidecar under {root}"),
    ]


def test_an_emotion_table_row_gives_the_transcript_read_back(tmp_path):
    write(tmp_path / "e1.wav", b"RIFF")
    write(tmp_path / "table.csv", "wav_id\t발화문\ne1\t 잘 지냈어? \n".encode("cp949"))
    [record] = list_calls(str(tmp_path))

    assert record.source_uri == f"{tmp_path}/table.csv#line=2"
    assert read_transcript(record) == ("잘 지냈어?", record)


def test_table_rows_that_cannot_be_calls_are_listing_errors(tmp_path):
    write(tmp_path / "e1.wav", b"RIFF")
    table = write(tmp_path / "emotion.csv", "\n".join([
        "wav_id,발화문", "e1,안녕하세요", ",누구세요", "e2,안녕,하세요"]))

    listing = list_calls(str(tmp_path))

    assert [entry for entry in listing if isinstance(entry, CallRecord)] == [
        CallRecord(call_id="e1", audio_uri=f"{tmp_path}/e1.wav", source_uri=f"{table}#line=2",
                   transcript="안녕하세요", label="normal", label_source="emotion_dialogue")]
    assert sorted((entry for entry in listing if not isinstance(entry, CallRecord)),
                  key=lambda entry: entry.source_uri) == [
        read_error("<emotion.csv line 3>", f"{table}#line=3", "wav_id is empty"),
        read_error("<emotion.csv line 4>", f"{table}#line=4",
                   "row has 1 more cell(s) than the header"),
    ]


@pytest.mark.parametrize("data, message", [
    ("wav_id,상황\ne1,neutral\n", "an emotion-dialogue table needs the columns 발화문"),
    ('wav_id,발화문\ne1,"안녕\n', "not a readable table ("),
    (b"wav_id,\xff\xfe\n", "transcript is neither UTF-8"),
])
def test_an_unusable_emotion_table_fails_the_listing(tmp_path, data, message):
    write(tmp_path / "e1.wav", b"RIFF")
    table = write(tmp_path / "t.csv", data)

    with pytest.raises(ArchiveError) as caught:
        list_calls(str(tmp_path))
    assert str(caught.value).startswith(f"{table}: {message}")


def test_a_csv_that_is_not_an_emotion_table_is_ignored_whatever_its_encoding(tmp_path):
    write(tmp_path / "e1.wav", b"RIFF")
    write(tmp_path / "export.csv", "name,city\nJosé,Zürich\n".encode("latin-1"))

    assert list_calls(str(tmp_path)) == [
        CallRecord(call_id="e1", audio_uri=f"{tmp_path}/e1.wav", source_uri=f"{tmp_path}/e1.wav")]
