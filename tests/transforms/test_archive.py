"""Tests of transforms.archive on real archives written to tmp_path and to a GCS emulator."""

from __future__ import annotations

import csv
import gzip
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.io.gcp import gcsio
from google.api_core.exceptions import NotFound

from transforms import spec
from transforms.aihub import parse_call_label
from transforms.archive import (
    AUDIO_EXTENSIONS, MANIFEST_NAMES, MAX_CELL_CHARS, decode_transcript, file_stamp,
    list_calls, open_audio, read_transcript,
)
from transforms.errors import ArchiveError, SourceError, TranscriptError
from transforms.records import CallError, CallRecord
from tests.gcs import running_emulator

FIRE = "불이 났어요"
UNDECODABLE = b"\xff\xfe\xfa\x00\x81"
UNDECODABLE_MESSAGE = (
    "transcript is neither UTF-8 ('utf-8' codec can't decode byte 0xff in position 0: "
    "invalid start byte) nor CP949 ('cp949' codec can't decode byte 0xff in position 0: "
    "illegal multibyte sequence)")

#: An AI Hub 119-call label: call-taker (0) and caller (1, as int and string), out of order.
AIHUB_LABEL = {
    "disasterLarge": "화재",
    "urgencyLevel": "상",
    "utterances": [
        {"startAt": 4200, "endAt": 5600, "text": "여기 3층이에요", "speaker": "1"},
        {"startAt": 0, "endAt": 1200, "text": "119입니다", "speaker": 0},
        {"startAt": 1300, "endAt": 3900, "text": " 불이 났어요 ", "speaker": 1},
        {"startAt": 3950, "endAt": 4100, "text": "주소가 어디세요", "speaker": "0"},
        {"startAt": 6000, "endAt": 6100, "text": "  ", "speaker": 1},
        {"startAt": 9000, "endAt": 9500, "text": "빨리요", "speaker": 1},
    ],
}
AIHUB_CALLER_TEXT = "불이 났어요 여기 3층이에요 빨리요"


def write_manifest(root: Path, rows: list[dict[str, Any]], *, fmt: str = "csv") -> str:
    """Writes ``rows`` as ``root/manifest.<fmt>``; returns the manifest path."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"manifest.{fmt}"
    if fmt == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows),
                        encoding="utf-8")
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    return str(path)


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def read_error(call_id: str, source_uri: str, message: str,
               error_type: str = "ManifestRowError") -> CallError:
    return CallError(call_id=call_id, source_uri=source_uri, stage="read",
                     error_type=error_type, message=message)


def test_constants():
    assert AUDIO_EXTENSIONS == (".wav", ".flac", ".ogg")
    assert MANIFEST_NAMES == ("manifest.csv", "manifest.jsonl", "manifest.parquet")


# --- manifests ---------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_manifest_formats_give_the_same_records(tmp_path, fmt):
    root = tmp_path / "archive"
    empty = dict(transcript="", transcript_path="", started_at="", caller_id="", line="",
                 label="", category="", split="", event_start_s=None, event_end_s=None)
    rows = [
        dict(empty, call_id="c1", audio="audio/c1.wav", transcript=FIRE,
             started_at="2024-05-01T23:10:00+09:00", caller_id="010-1234-5678", line="119",
             label="emergency", category="fire", split="train", event_start_s=1.5,
             event_end_s=4.0, notes="unknown columns are ignored"),
        dict(empty, call_id=" c2 ", audio="night/../audio/c2.flac",
             transcript_path="text/c2.json", label="prank", split="test", notes=""),
        dict(empty, call_id="c3", audio=str(root / "audio" / "c3.ogg"), line="112", notes=""),
    ]
    manifest = write_manifest(root, rows, fmt=fmt)

    assert list_calls(str(root)) == [
        CallRecord(call_id="c1", audio_uri=f"{root}/audio/c1.wav", source_uri=f"{manifest}#row=1",
                   transcript=FIRE, started_at="2024-05-01T23:10:00+09:00",
                   caller_id="010-1234-5678", line="119", label="emergency", category="fire",
                   split="train", event_start_s=1.5, event_end_s=4.0, label_source="manifest"),
        CallRecord(call_id="c2", audio_uri=f"{root}/audio/c2.flac",
                   source_uri=f"{manifest}#row=2", transcript_uri=f"{root}/text/c2.json",
                   label="prank", split="test", label_source="manifest"),
        CallRecord(call_id="c3", audio_uri=f"{root}/audio/c3.ogg", source_uri=f"{manifest}#row=3",
                   line="112"),
    ]


def test_relative_root_gives_absolute_paths(tmp_path, monkeypatch):
    manifest = write_manifest(tmp_path / "night", [{"call_id": "c1", "audio": "c1.wav"}])
    monkeypatch.chdir(tmp_path)

    assert list_calls("night/") == [
        CallRecord(call_id="c1", audio_uri=f"{tmp_path}/night/c1.wav",
                   source_uri=f"{manifest}#row=1"),
    ]


def test_jsonl_numbers_become_text_and_seconds(tmp_path):
    root = tmp_path / "archive"
    manifest = write_manifest(root, [
        {"call_id": 17, "audio": "17.wav", "line": 119, "caller_id": 1012345678.0,
         "event_start_s": 2, "event_end_s": "7.5"},
    ], fmt="jsonl")

    assert list_calls(str(root)) == [
        CallRecord(call_id="17", audio_uri=f"{root}/17.wav", source_uri=f"{manifest}#row=1",
                   line="119", caller_id="1012345678", event_start_s=2.0, event_end_s=7.5),
    ]


def test_paths_outside_the_root_are_row_errors(tmp_path):
    root = tmp_path / "archive"
    outside = tmp_path / "elsewhere" / "x.wav"
    sibling = tmp_path / "archive2" / "y.wav"
    manifest = write_manifest(root, [
        {"call_id": "ok", "audio": "ok.wav", "transcript_path": ""},
        {"call_id": "up", "audio": "../escape.wav", "transcript_path": ""},
        {"call_id": "abs", "audio": str(outside), "transcript_path": ""},
        {"call_id": "sib", "audio": str(sibling), "transcript_path": ""},
        {"call_id": "uri", "audio": "gs://other-bucket/x.wav", "transcript_path": ""},
        {"call_id": "tp", "audio": "tp.wav", "transcript_path": "sub/../../t.txt"},
        {"call_id": "ok2", "audio": "b/ok2.wav", "transcript_path": "b/ok2.txt"},
    ])

    assert list_calls(str(root)) == [
        CallRecord(call_id="ok", audio_uri=f"{root}/ok.wav", source_uri=f"{manifest}#row=1"),
        read_error("up", f"{manifest}#row=2",
                   f"audio='../escape.wav' resolves to {tmp_path}/escape.wav, "
                   f"outside the archive root {root}"),
        read_error("abs", f"{manifest}#row=3",
                   f"audio='{outside}' resolves to {outside}, outside the archive root {root}"),
        read_error("sib", f"{manifest}#row=4",
                   f"audio='{sibling}' resolves to {sibling}, outside the archive root {root}"),
        read_error("uri", f"{manifest}#row=5",
                   "audio='gs://other-bucket/x.wav' resolves to gs://other-bucket/x.wav, "
                   f"outside the archive root {root}"),
        read_error("tp", f"{manifest}#row=6",
                   f"transcript_path='sub/../../t.txt' resolves to {tmp_path}/t.txt, "
                   f"outside the archive root {root}"),
        CallRecord(call_id="ok2", audio_uri=f"{root}/b/ok2.wav", source_uri=f"{manifest}#row=7",
                   transcript_uri=f"{root}/b/ok2.txt"),
    ]


def test_every_row_sharing_an_id_is_reported(tmp_path):
    root = tmp_path / "archive"
    manifest = write_manifest(root, [
        {"call_id": "c1", "audio": "a.wav", "label": ""},
        {"call_id": "c2", "audio": "b.wav", "label": ""},
        {"call_id": "c1", "audio": "c.wav", "label": "bogus"},
        {"call_id": "c1 ", "audio": "d.wav", "label": ""},
    ])
    rows = [f"{manifest}#row={n}" for n in range(1, 5)]
    not_unique = f"call_id is not unique: listed 3 times, at {rows[0]}, {rows[2]}, {rows[3]}"

    assert list_calls(str(root)) == [
        read_error("c1", rows[0], not_unique),
        CallRecord(call_id="c2", audio_uri=f"{root}/b.wav", source_uri=rows[1]),
        read_error("c1", rows[2], not_unique),
        read_error("c1", rows[3], not_unique),
    ]


def test_thousands_of_rows_sharing_an_id_get_short_messages(tmp_path):
    root = tmp_path / "archive"
    manifest = write_manifest(root, [{"call_id": "same", "audio": f"{n}.wav"}
                                     for n in range(3000)])

    listed = list_calls(str(root))

    assert len(listed) == 3000 and all(isinstance(e, CallError) for e in listed)
    assert {e.message for e in listed} == {
        f"call_id is not unique: listed 3000 times, at {manifest}#row=1, {manifest}#row=2, "
        f"{manifest}#row=3 and 2997 more"}


def test_empty_call_id_and_empty_audio_are_row_errors(tmp_path):
    root = tmp_path / "archive"
    manifest = write_manifest(root, [
        {"call_id": "c1", "audio": "a.wav"},
        {"call_id": "  ", "audio": "b.wav"},
        {"call_id": "c3", "audio": ""},
    ])

    assert list_calls(str(root)) == [
        CallRecord(call_id="c1", audio_uri=f"{root}/a.wav", source_uri=f"{manifest}#row=1"),
        read_error("<manifest.csv row 2>", f"{manifest}#row=2", "call_id is empty"),
        read_error("c3", f"{manifest}#row=3", "audio is empty"),
    ]


@pytest.mark.parametrize("cells, message", [
    ({"label": "urgent"}, "label='urgent' is not one of emergency, normal, prank"),
    ({"category": "flood"}, f"category='flood' is not one of {', '.join(spec.CATEGORIES)}"),
    ({"split": "dev"}, "split='dev' is not one of train, validation, test"),
    ({"event_start_s": "abc", "event_end_s": "2"}, "event_start_s holds a text of 3 characters, not a number"),
    ({"event_start_s": "1", "event_end_s": "inf"},
     "event_end_s must be a finite number >= 0"),
    ({"event_start_s": "-1", "event_end_s": "2"},
     "event_start_s must be a finite number >= 0"),
    ({"event_start_s": "3", "event_end_s": "3"}, "event_end_s=3.0 must be > event_start_s=3.0"),
    ({"event_start_s": "4", "event_end_s": "3.5"},
     "event_end_s=3.5 must be > event_start_s=4.0"),
    ({"event_start_s": "1", "event_end_s": ""},
     "event_start_s=1.0 and event_end_s=None must be given together"),
])
def test_invalid_training_cells_are_row_errors(tmp_path, cells, message):
    root = tmp_path / "archive"
    blank = {"label": "", "category": "", "split": "", "event_start_s": "", "event_end_s": ""}
    manifest = write_manifest(root, [
        {"call_id": "bad", "audio": "bad.wav", **blank, **cells},
        {"call_id": "good", "audio": "good.wav", **blank},
    ])

    assert list_calls(str(root)) == [
        read_error("bad", f"{manifest}#row=1", message),
        CallRecord(call_id="good", audio_uri=f"{root}/good.wav", source_uri=f"{manifest}#row=2"),
    ]


def test_ill_typed_jsonl_cells_are_row_errors(tmp_path):
    root = tmp_path / "archive"
    manifest = write_manifest(root, [
        {"call_id": ["c1"], "audio": "a.wav"},
        {"call_id": "c2", "audio": True},
        {"call_id": "c3", "audio": "c.wav", "event_start_s": False, "event_end_s": 1},
    ], fmt="jsonl")

    assert list_calls(str(root)) == [
        read_error("<manifest.jsonl row 1>", f"{manifest}#row=1", "call_id holds a list, not text"),
        read_error("c2", f"{manifest}#row=2", "audio holds a bool, not text"),
        read_error("c3", f"{manifest}#row=3", "event_start_s holds a bool, not a number"),
    ]


def test_csv_row_with_more_cells_than_the_header_is_a_row_error(tmp_path):
    root = tmp_path / "archive"
    write(root / "manifest.csv", "call_id,audio,transcript\nc1,a.wav,불이, 났어요\nc2,b.wav,\n")
    manifest = f"{root}/manifest.csv"

    assert list_calls(str(root)) == [
        read_error("c1", f"{manifest}#row=1", "row has 1 more cell(s) than the header"),
        CallRecord(call_id="c2", audio_uri=f"{root}/b.wav", source_uri=f"{manifest}#row=2"),
    ]


def test_a_cell_longer_than_the_limit_fails_its_row_only(tmp_path):
    root = tmp_path / "archive"
    long_text = "불" * 131_073  # over Python's default CSV field limit too
    manifest = write_manifest(root, [
        {"call_id": "c1", "audio": "a.wav", "transcript": long_text},
        {"call_id": "c2", "audio": "b.wav", "transcript": "불" * MAX_CELL_CHARS},
    ])

    listed = list_calls(str(root))

    assert listed[0] == read_error("c1", f"{manifest}#row=1",
                                   "transcript is 131,073 characters long; at most 100,000 "
                                   "are read")
    assert isinstance(listed[1], CallRecord) and len(listed[1].transcript) == MAX_CELL_CHARS
    assert csv.field_size_limit() == 131_072  # the process-wide limit is left as it was


def test_lone_surrogates_fail_their_row_without_quoting_the_value(tmp_path):
    root = tmp_path / "archive"
    path = root / "manifest.jsonl"
    root.mkdir()
    # written by hand: json.dumps would refuse nothing, but this is what a feed may send
    path.write_text('{"call_id": "\\udc80", "audio": "a.wav"}\n'
                    '{"call_id": "c2", "audio": "b.wav", "caller_id": "010-\\ud800"}\n'
                    '{"call_id": "c3", "audio": "c.wav", "line": "\\udfff"}\n'
                    '{"call_id": "c4", "audio": "d.wav", "caller_id": NaN, "line": 119.0}\n',
                    encoding="utf-8")
    manifest = str(path)
    surrogate = "is not valid Unicode text (it holds a lone surrogate)"

    assert list_calls(str(root)) == [
        read_error("<manifest.jsonl row 1>", f"{manifest}#row=1", f"call_id {surrogate}"),
        read_error("c2", f"{manifest}#row=2", f"caller_id {surrogate}"),
        read_error("c3", f"{manifest}#row=3", f"line {surrogate}"),
        CallRecord(call_id="c4", audio_uri=f"{root}/d.wav", source_uri=f"{manifest}#row=4",
                   line="119"),  # NaN is a missing caller, not the text "nan"
    ]


def test_nan_in_a_parquet_caller_column_is_a_missing_caller(tmp_path):
    root = tmp_path / "archive"
    write_manifest(root, [{"call_id": "c1", "audio": "a.wav", "caller_id": float("nan")},
                          {"call_id": "c2", "audio": "b.wav", "caller_id": 1012345678.0}],
                   fmt="parquet")

    assert [record.caller_id for record in list_calls(str(root))] == [None, "1012345678"]


def test_an_unclosed_quote_fails_the_manifest_naming_the_row(tmp_path):
    root = tmp_path / "archive"
    write(root / "manifest.csv", "call_id,audio,transcript\nc1,a.wav,hello\n"
                                 "c2,b.wav,\"an open quote\nc3,c.wav,fine\n")

    with pytest.raises(ArchiveError, match=r"the row starting on line 3: unexpected end of "
                                           r"data"):
        list_calls(str(root))


def test_an_undecodable_file_name_is_its_own_error(tmp_path):
    root = tmp_path / "archive"
    write(root / "a.wav", b"RIFF")
    bad = os.fsdecode(b"\xff\xfe.wav")
    write(root / bad, b"RIFF")

    listed = list_calls(str(root))

    assert listed[0] == CallRecord(call_id="a", audio_uri=f"{root}/a.wav",
                                   source_uri=f"{root}/a.wav")
    assert listed[1] == read_error("<undecodable file name 2>", f"{root}/\\udcff\\udcfe.wav",
                                   "the file name is not valid Unicode")


def test_symbolic_links_out_of_the_archive_are_refused(tmp_path):
    outside = tmp_path / "elsewhere"
    write(outside / "secret.wav", b"RIFF")
    root = tmp_path / "archive"
    write(root / "inside.wav", b"RIFF")
    (root / "link-out.wav").symlink_to(outside / "secret.wav")
    (root / "link-in.wav").symlink_to(root / "inside.wav")
    (root / "folder-out").symlink_to(outside, target_is_directory=True)
    manifest = write_manifest(root, [
        {"call_id": "c1", "audio": "link-out.wav"},
        {"call_id": "c2", "audio": "link-in.wav"},
        {"call_id": "c3", "audio": "folder-out/secret.wav"},
    ])
    leads_out = (f"audio leads through a symbolic link to {outside}/secret.wav, outside the "
                 f"archive root {root}")

    assert list_calls(str(root)) == [
        read_error("c1", f"{manifest}#row=1", leads_out),
        CallRecord(call_id="c2", audio_uri=f"{root}/link-in.wav", source_uri=f"{manifest}#row=2"),
        read_error("c3", f"{manifest}#row=3", leads_out),
    ]

    os.remove(manifest)  # the same archive read by its audio files
    write(outside / "notes.txt", "someone else's words")
    (root / "inside.txt").symlink_to(outside / "notes.txt")
    sidecars = {entry.source_uri: entry for entry in list_calls(str(root))}
    assert sidecars[f"{root}/inside.wav"].message == (
        f"the transcript leads through a symbolic link to {outside}/notes.txt, outside the "
        f"archive root {root}")
    assert isinstance(sidecars[f"{root}/link-in.wav"], CallRecord)
    assert sidecars[f"{root}/link-out.wav"].message == leads_out.replace(
        "audio leads", "the audio file leads")
    # a linked folder is not walked into (or, where it is, refused likewise)
    assert not isinstance(sidecars.get(f"{root}/folder-out/secret.wav"), CallRecord)


def test_header_only_manifest_lists_no_calls(tmp_path):
    write(tmp_path / "manifest.csv", "call_id,audio\n")

    assert list_calls(str(tmp_path)) == []


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_missing_required_column_is_an_archive_error(tmp_path, fmt):
    manifest = write_manifest(tmp_path, [{"call_id": "c1", "transcript": FIRE}], fmt=fmt)

    with pytest.raises(ArchiveError) as caught:
        list_calls(str(tmp_path))
    assert str(caught.value) == (
        f"manifest {manifest} lacks required column(s) audio; it has call_id, transcript")


def test_several_manifests_are_an_archive_error(tmp_path):
    write_manifest(tmp_path, [{"call_id": "c1", "audio": "a.wav"}], fmt="csv")
    write_manifest(tmp_path, [{"call_id": "c1", "audio": "a.wav"}], fmt="parquet")

    with pytest.raises(ArchiveError) as caught:
        list_calls(str(tmp_path))
    assert str(caught.value) == (
        f"archive {tmp_path} holds several manifests (manifest.csv, manifest.parquet); keep one")


@pytest.mark.parametrize("name, data, message, cause", [
    ("manifest.jsonl", '{"call_id": "c1", "audio": "a.wav"}\n\n{bad\n',
     "line 3: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
     json.JSONDecodeError),
    ("manifest.jsonl", '["c1", "a.wav"]\n', "line 1 is a list, not a JSON object", None),
    ("manifest.parquet", b"not parquet",
     "Parquet magic bytes not found in footer. Either the file is corrupted or this is not a "
     "parquet file.", pa.ArrowInvalid),
    ("manifest.csv", "call_id,audio\nc1,불.wav\n".encode("cp949"),
     "'utf-8' codec can't decode byte 0xba in position 17: invalid start byte",
     UnicodeDecodeError),
])
def test_unparseable_manifest_is_an_archive_error(tmp_path, name, data, message, cause):
    write(tmp_path / name, data)

    with pytest.raises(ArchiveError) as caught:
        list_calls(str(tmp_path))
    assert str(caught.value) == f"cannot parse manifest {tmp_path}/{name}: {message}"
    assert type(caught.value.__cause__) is cause if cause else caught.value.__cause__ is None


def test_unreadable_manifest_is_an_archive_error(tmp_path):
    (tmp_path / "manifest.csv").mkdir()

    with pytest.raises(ArchiveError) as caught:
        list_calls(str(tmp_path))
    assert str(caught.value) == (
        f"cannot read manifest: cannot open {tmp_path}/manifest.csv: "
        f"[Errno 21] Is a directory: '{tmp_path}/manifest.csv'")


@pytest.mark.parametrize("folder", ["empty", "missing"])
def test_archive_without_manifest_or_audio_is_an_archive_error(tmp_path, folder):
    write(tmp_path / "empty" / "notes.txt", "no calls tonight")

    with pytest.raises(ArchiveError) as caught:
        list_calls(str(tmp_path / folder))
    assert str(caught.value) == (
        "no manifest (manifest.csv, manifest.jsonl, manifest.parquet) and no audio files "
        f"(.wav, .flac, .ogg) under {tmp_path}/{folder}")


@pytest.mark.parametrize("root, message", [
    ("", "root='' must be a folder path or a gs:// URI"),
    ("  ", "root='  ' must be a folder path or a gs:// URI"),
    ("night/*", "root='night/*' must not contain glob characters *?["),
    ("gs://", "root='gs://' names no bucket"),
    ("gs:///prefix", "root='gs:///prefix' names no bucket"),
])
def test_unusable_root_is_an_archive_error(root, message):
    with pytest.raises(ArchiveError) as caught:
        list_calls(root)
    assert str(caught.value) == message


# --- sidecar archives ----------------------------------------------------------------------

def test_sidecar_discovery(tmp_path):
    root = tmp_path / "archive"
    write(root / "2024" / "a.wav", b"RIFF")
    write(root / "2024" / "a.json", json.dumps(AIHUB_LABEL))
    write(root / "2024" / "a.txt", "ignored: the .json wins")
    write(root / "2024" / "B.FLAC", b"fLaC")
    write(root / "2024" / "B.txt", FIRE)
    write(root / "c.ogg", b"OggS")
    write(root / "c.wav.bak", b"RIFF")
    write(root / "._c.wav", b"AppleDouble")
    write(root / "readme.md", "not a call")

    assert list_calls(str(root)) == [
        CallRecord(call_id="B", audio_uri=f"{root}/2024/B.FLAC", source_uri=f"{root}/2024/B.FLAC",
                   transcript_uri=f"{root}/2024/B.txt"),
        CallRecord(call_id="a", audio_uri=f"{root}/2024/a.wav", source_uri=f"{root}/2024/a.wav",
                   transcript_uri=f"{root}/2024/a.json"),
        CallRecord(call_id="c", audio_uri=f"{root}/c.ogg", source_uri=f"{root}/c.ogg"),
    ]


def test_sidecar_stems_sharing_an_id_are_all_reported(tmp_path):
    for name in ("x/d.wav", "y/d.wav", "y/d.ogg", "e.wav"):
        write(tmp_path / name, b"RIFF")
    d_x, d_y_ogg, d_y_wav = (f"{tmp_path}/{name}" for name in ("x/d.wav", "y/d.ogg", "y/d.wav"))

    not_unique = f"call_id is not unique: listed 3 times, at {d_x}, {d_y_ogg}, {d_y_wav}"
    assert list_calls(str(tmp_path)) == [
        CallRecord(call_id="e", audio_uri=f"{tmp_path}/e.wav", source_uri=f"{tmp_path}/e.wav"),
        read_error("d", d_x, not_unique),
        read_error("d", d_y_ogg, not_unique),
        read_error("d", d_y_wav, not_unique),
    ]


# --- transcripts ---------------------------------------------------------------------------

@pytest.mark.parametrize("data, text", [
    (FIRE.encode("utf-8"), FIRE),
    (b"\xef\xbb\xbf" + FIRE.encode("utf-8"), FIRE),
    (FIRE.encode("cp949"), FIRE),
    (b"", ""),
])
def test_decode_transcript(data, text):
    assert decode_transcript(data, name="t.txt") == text


def test_decode_transcript_rejects_bytes_that_are_neither_utf8_nor_cp949():
    with pytest.raises(TranscriptError) as caught:
        decode_transcript(UNDECODABLE, name="calls/t.txt")
    assert str(caught.value) == f"calls/t.txt: {UNDECODABLE_MESSAGE}"


def test_sidecar_transcripts_are_read_and_decoded(tmp_path):
    write(tmp_path / "utf8.wav", b"RIFF")
    write(tmp_path / "utf8.txt", FIRE + "\n")
    write(tmp_path / "korean.wav", b"RIFF")
    write(tmp_path / "korean.txt", FIRE.encode("cp949"))
    write(tmp_path / "aihub.wav", b"RIFF")
    write(tmp_path / "aihub.json", json.dumps(AIHUB_LABEL, ensure_ascii=False))
    write(tmp_path / "silent.wav", b"RIFF")

    transcripts = {record.call_id: read_transcript(record)[0] for record in list_calls(str(tmp_path))}

    assert transcripts == {"aihub": AIHUB_CALLER_TEXT, "korean": FIRE, "silent": "",
                           "utf8": FIRE + "\n"}


def test_undecodable_sidecar_is_a_transcript_error(tmp_path):
    write(tmp_path / "bad.wav", b"RIFF")
    write(tmp_path / "bad.txt", UNDECODABLE)
    [record] = list_calls(str(tmp_path))

    with pytest.raises(TranscriptError) as caught:
        read_transcript(record)
    assert str(caught.value) == f"{tmp_path}/bad.txt: {UNDECODABLE_MESSAGE}"


def test_malformed_aihub_json_is_a_transcript_error(tmp_path):
    write(tmp_path / "bad.wav", b"RIFF")
    write(tmp_path / "bad.json", '{"utterances": [')
    [record] = list_calls(str(tmp_path))

    with pytest.raises(TranscriptError) as caught:
        read_transcript(record)
    assert str(caught.value) == (
        f"{tmp_path}/bad.json: invalid JSON (Expecting value: line 1 column 17 (char 16))")


def test_missing_transcript_path_is_a_source_error(tmp_path):
    write_manifest(tmp_path, [{"call_id": "c1", "audio": "c1.wav", "transcript_path": "c1.txt"}])
    [record] = list_calls(str(tmp_path))

    with pytest.raises(SourceError) as caught:
        read_transcript(record)
    assert str(caught.value) == (
        f"cannot open {tmp_path}/c1.txt: [Errno 2] No such file or directory: '{tmp_path}/c1.txt'")


def test_inline_transcript_wins_and_may_be_empty(tmp_path):
    write(tmp_path / "c1.txt", "sidecar")
    record = CallRecord(call_id="c1", audio_uri=f"{tmp_path}/c1.wav", source_uri="m#row=1",
                        transcript=FIRE, transcript_uri=f"{tmp_path}/c1.txt")

    assert read_transcript(record)[0] == FIRE
    assert read_transcript(CallRecord(call_id="c2", audio_uri="a.wav", source_uri="m#row=2",
                                      transcript=""))[0] == ""


def test_caller_text_of_an_aihub_label():
    assert parse_call_label(AIHUB_LABEL, name="a.json")[0] == AIHUB_CALLER_TEXT
    only_taker = {"utterances": [{"startAt": 0, "endAt": 1, "text": "119입니다", "speaker": 0}]}
    assert parse_call_label(only_taker, name="a.json")[0] == ""
    assert parse_call_label({"utterances": []}, name="a.json")[0] == ""


@pytest.mark.parametrize("payload, message", [
    ([], "AI Hub label must be a JSON object, got list"),
    ({"disasterLarge": "화재"}, "'utterances' must be a list, got NoneType"),
    ({"utterances": {"text": FIRE}}, "'utterances' must be a list, got dict"),
    ({"utterances": ["불이 났어요"]}, "utterances[0] must be an object, got str"),
    ({"utterances": [{"startAt": "0", "text": FIRE, "speaker": 1}]},
     "utterances[0].startAt holds a str, not a number"),
    ({"utterances": [{"startAt": 0, "text": FIRE, "speaker": 1},
                     {"startAt": 5, "text": None, "speaker": 0}]},
     "utterances[1].text holds a NoneType, not text"),
    ({"utterances": [{"startAt": 0, "text": FIRE}]},
     "utterances[0].speaker holds a NoneType, not an int or string"),
    ({"utterances": [{"startAt": 0, "text": FIRE, "speaker": True}]},
     "utterances[0].speaker holds a bool, not an int or string"),
])
def test_aihub_labels_of_other_layouts_are_refused(payload, message):
    with pytest.raises(TranscriptError) as caught:
        parse_call_label(payload, name="calls/a.json")
    assert str(caught.value) == f"calls/a.json: {message}"


# --- audio ---------------------------------------------------------------------------------

def test_open_audio_returns_the_bytes_as_stored(tmp_path):
    wav = write(tmp_path / "c1.wav", b"RIFF\x00\x01\x02")
    gzipped = write(tmp_path / "c2.wav.gz", gzip.compress(b"RIFF"))

    with open_audio(str(wav)) as stream:
        assert stream.read() == b"RIFF\x00\x01\x02"
    with open_audio(str(gzipped)) as stream:  # not gunzipped on account of its name
        assert stream.read() == gzipped.read_bytes()


def test_open_audio_on_a_missing_file_is_a_source_error(tmp_path):
    with pytest.raises(SourceError) as caught:
        open_audio(f"{tmp_path}/missing.wav")
    assert str(caught.value) == (
        f"cannot open {tmp_path}/missing.wav: "
        f"[Errno 2] No such file or directory: '{tmp_path}/missing.wav'")
    with pytest.raises(SourceError) as caught:
        open_audio("")
    assert str(caught.value) == "uri='' is empty"


# --- gs:// ---------------------------------------------------------------------------------

def test_manifest_archive_on_gcs(tmp_path, gcs_emulator):
    local = tmp_path / "night"
    write(local / "audio" / "c1.wav", b"RIFF-c1")
    write(local / "audio" / "c2.wav", b"RIFF-c2")
    write(local / "text" / "c1.txt", FIRE.encode("cp949"))
    write(local / "text" / "c2.json", json.dumps(AIHUB_LABEL))
    write_manifest(local, [
        {"call_id": "c1", "audio": "audio/c1.wav", "transcript_path": "text/c1.txt", "line": "119"},
        {"call_id": "c2", "audio": "audio/c2.wav", "transcript_path": "text/c2.json", "line": ""},
        {"call_id": "c3", "audio": "../2024-04-30/c3.wav", "transcript_path": "", "line": ""},
        {"call_id": "c4", "audio": "audio/missing.wav", "transcript_path": "", "line": ""},
    ])
    root = f"gs://{gcs_emulator.bucket}/nights/2024-05-01"
    gcs_emulator.upload_folder(local, root)
    manifest = f"{root}/manifest.csv"

    calls = list_calls(root + "/")

    assert calls == [
        CallRecord(call_id="c1", audio_uri=f"{root}/audio/c1.wav", source_uri=f"{manifest}#row=1",
                   transcript_uri=f"{root}/text/c1.txt", line="119"),
        CallRecord(call_id="c2", audio_uri=f"{root}/audio/c2.wav", source_uri=f"{manifest}#row=2",
                   transcript_uri=f"{root}/text/c2.json"),
        read_error("c3", f"{manifest}#row=3",
                   f"audio='../2024-04-30/c3.wav' resolves to gs://{gcs_emulator.bucket}/nights/"
                   f"2024-04-30/c3.wav, outside the archive root {root}"),
        CallRecord(call_id="c4", audio_uri=f"{root}/audio/missing.wav",
                   source_uri=f"{manifest}#row=4"),
    ]
    assert [read_transcript(record)[0] for record in calls[:2]] == [FIRE, AIHUB_CALLER_TEXT]
    with open_audio(calls[0].audio_uri) as stream:
        assert stream.read() == b"RIFF-c1"
    with pytest.raises(SourceError) as caught:
        open_audio(calls[3].audio_uri)
    assert str(caught.value).startswith(f"cannot open {root}/audio/missing.wav: 404 GET ")
    assert type(caught.value.__cause__) is NotFound


def test_sidecar_archive_on_gcs(tmp_path, gcs_emulator):
    bucket = f"gs://{gcs_emulator.bucket}"
    write(tmp_path / "2024-05-01" / "a.wav", b"RIFF-a")
    write(tmp_path / "2024-05-01" / "a.txt", FIRE)
    write(tmp_path / "2024-05-01" / "sub" / "b.ogg", b"OggS")
    write(tmp_path / "2024-05-011" / "not-this-night.wav", b"RIFF")
    gcs_emulator.upload_folder(tmp_path, bucket)

    calls = list_calls(f"{bucket}/2024-05-01")

    assert calls == [
        CallRecord(call_id="a", audio_uri=f"{bucket}/2024-05-01/a.wav",
                   source_uri=f"{bucket}/2024-05-01/a.wav",
                   transcript_uri=f"{bucket}/2024-05-01/a.txt"),
        CallRecord(call_id="b", audio_uri=f"{bucket}/2024-05-01/sub/b.ogg",
                   source_uri=f"{bucket}/2024-05-01/sub/b.ogg"),
    ]
    assert [read_transcript(record)[0] for record in calls] == [FIRE, ""]


def test_a_file_rewritten_in_place_gets_a_new_stamp_locally_and_on_gcs(tmp_path, gcs_emulator):
    local = tmp_path / "a.wav"
    write(local, b"RIFF-first")
    first = file_stamp(str(local))
    assert first is not None and first[0] == len(b"RIFF-first")
    write(local, b"RIFF-later")  # same size, new content
    os.utime(local, (first[1] + 5, first[1] + 5))
    assert file_stamp(str(local)) == (len(b"RIFF-later"), first[1] + 5)
    assert file_stamp(str(tmp_path / "missing.wav")) is None

    blob = gcs_emulator.client.bucket(gcs_emulator.bucket).blob("night/a.wav")
    blob.upload_from_string(b"RIFF-first")
    uri = f"gs://{gcs_emulator.bucket}/night/a.wav"
    on_gcs = file_stamp(uri)
    assert on_gcs is not None and on_gcs[0] == len(b"RIFF-first")
    blob.upload_from_string(b"RIFF-a-longer-one")
    assert file_stamp(uri)[0] == len(b"RIFF-a-longer-one")
    assert file_stamp(f"gs://{gcs_emulator.bucket}/night/missing.wav") is None


def test_running_emulator_restores_the_environment(monkeypatch):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    original = gcsio.create_storage_client

    with running_emulator() as emulator:
        assert os.environ["STORAGE_EMULATOR_HOST"] == emulator.endpoint
        assert gcsio.create_storage_client is not original

    assert "STORAGE_EMULATOR_HOST" not in os.environ
    assert gcsio.create_storage_client is original
