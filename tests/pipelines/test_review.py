"""The analysts' review loop on a real night: the queue a real run's reports give, verdicts
imported from a filled-in queue (read back with pyarrow, DuckDB and the training's label
reader), files refused whole, and `train --reviewed` adding the reviewed calls."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import shutil

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from models import DEFAULT_BUNDLE
from models.builders import model_input_names
from models.bundle import MODEL_CARD_FILE, load_bundle
from models.dataset import read_labels, reviewed_nights
from models.train import prepare_archive
from pipelines import review
from pipelines.cli import EXIT_USAGE, main
from pipelines.triage import run
from tests.models.conftest import write_tiny_archive
from transforms.audio import encode_audio
from transforms.errors import ConfigError
from transforms.spec import DEFAULT_FEATURES

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(REPO, "examples", "archive")
RUN_DATE = "2026-11-22"
REPEAT_CALLER = "010-5555-0000"
#: Korean line names: the queue must carry them to Excel intact.
LINES = {"112": "112 종합상황실", "119": "119 구급상황관리센터"}
HEADER = ["call_id", "flag", "started_at", "line", "emergency_score", "audio_score",
          "text_score", "prank_score", "prank_reasons", "category", "category_score",
          "evidence_start_s", "evidence_end_s", "audio_uri", "verdict", "verdict_category",
          "note"]
#: A note an analyst wrote: never to be quoted back in a message.
SECRET_NOTE = "신고자 주소 메모 비공개"


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """A night published by the real job: three emergencies, two pranks, five everyday
    calls (three of them by one caller, so prank candidates) and a silent call."""
    root = tmp_path_factory.mktemp("review")
    with open(os.path.join(EXAMPLE, "manifest.csv"), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_label = {label: [row for row in rows if row["label"] == label and
                        not row["event_start_s"]] for label in ("emergency", "prank", "normal")}
    normals = by_label["normal"][:5]
    picked = (by_label["emergency"][:3] + by_label["prank"][:2]
              + [dict(row, caller_id=REPEAT_CALLER) for row in normals[:3]] + normals[3:])
    archive = root / "archive"
    (archive / "audio").mkdir(parents=True)
    for row in picked:
        shutil.copy(os.path.join(EXAMPLE, row["audio"]), archive / row["audio"])
    (archive / "audio" / "silence.wav").write_bytes(
        encode_audio(np.zeros(10 * 8_000, np.float32), sample_rate_hz=8_000))
    with open(archive / "manifest.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(picked[0]), restval="")
        writer.writeheader()
        writer.writerows([dict(row, line=LINES[row["line"]]) for row in picked]
                         + [{"call_id": "pocket-dial", "audio": "audio/silence.wav"}])
    key = root / "caller.key"
    key.write_text("review-test-key", encoding="utf-8")
    out = root / "reports"
    summary = run([f"--archive={archive}", f"--out={out}", f"--bundle={DEFAULT_BUNDLE}",
                   f"--run-date={RUN_DATE}", f"--caller-hash-key-file={key}",
                   "--repeat-max-emergency=1.0"], environ={}, today=dt.date(2026, 11, 23))
    calls = pq.read_table(str(out / "calls" / f"run_date={RUN_DATE}")).to_pylist()
    flags = {row["flag"] for row in calls}
    assert flags == {"emergency", "prank_candidate", "silent", "normal"}, flags
    return {"out": str(out), "archive": str(archive), "summary": summary, "calls": calls,
            "transcripts": [row["transcript"] for row in picked]}


def _export(night, tmp_path, *extra: str) -> list[dict]:
    path = tmp_path / "queue.csv"
    assert main(["review", "export", "--out", night["out"], "--to", str(path), *extra]) == 0
    return _read_csv(path)


def _read_csv(path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _write_csv(path, rows: list[dict], *, encoding: str = "utf-8-sig") -> str:
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def _files(folder: str) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes ({} when there is no folder)."""
    found = {}
    for parent, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(parent, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, folder)] = handle.read()
    return found


# --- export ----------------------------------------------------------------------------

def test_export_writes_the_flagged_calls_in_queue_order(night, capsys):
    assert main(["review", "export", "--out", night["out"]]) == 0
    path = capsys.readouterr().out.strip()
    assert path == os.path.join(night["out"], "reviews", f"run_date={RUN_DATE}", "queue.csv")
    data = open(path, "rb").read()
    assert data.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads the file as UTF-8
    with open(path, encoding="utf-8-sig", newline="") as handle:
        assert next(csv.reader(handle)) == HEADER
    queue = _read_csv(path)

    calls = {row["call_id"]: row for row in night["calls"]}
    flagged = [row for row in night["calls"] if row["flag"] != "normal"]
    assert sorted(row["call_id"] for row in queue) == sorted(row["call_id"] for row in flagged)
    flags = [row["flag"] for row in queue]
    assert flags == sorted(flags, key=["emergency", "prank_candidate", "silent"].index)
    emergencies = [float(row["emergency_score"]) for row in queue if row["flag"] == "emergency"]
    assert emergencies == sorted(emergencies, reverse=True)
    pranks = [float(row["prank_score"]) for row in queue if row["flag"] == "prank_candidate"]
    assert pranks == sorted(pranks, reverse=True)
    for row in queue:
        call = calls[row["call_id"]]
        assert row["flag"] == call["flag"] and row["audio_uri"] == call["audio_uri"]
        assert float(row["emergency_score"]) == pytest.approx(call["emergency_score"], abs=5e-4)
        assert float(row["evidence_start_s"]) == pytest.approx(call["evidence_start_s"],
                                                               abs=0.05)
        assert row["category"] == call["category"]
        assert (row["verdict"], row["verdict_category"], row["note"]) == ("", "", "")
        if call["started_at"] is not None:  # the night's local time, with its offset
            local = dt.datetime.fromisoformat(row["started_at"])
            assert local == call["started_at"] and local.utcoffset() == dt.timedelta(hours=9)
    repeat = [row for row in queue if "repeat_caller" in row["prank_reasons"]]
    assert len(repeat) == 3 and all("repeat_caller 0.67" in row["prank_reasons"]
                                    for row in repeat)
    assert {row["line"] for row in queue} <= {*LINES.values(), ""}
    assert "112 종합상황실" in data.decode("utf-8")
    # never transcripts or caller hashes
    text = data.decode("utf-8")
    assert not any(transcript and transcript in text for transcript in night["transcripts"])
    assert not any(call["caller_hash"] and call["caller_hash"] in text
                   for call in night["calls"])

    # the default file may hold analysts' edits: not replaced without --overwrite
    assert main(["review", "export", "--out", night["out"]]) == EXIT_USAGE
    assert "--overwrite" in capsys.readouterr().err
    assert open(path, "rb").read() == data
    assert main(["review", "export", "--out", night["out"], "--overwrite",
                 "--run-date", RUN_DATE]) == 0


def test_export_with_normal_calls_puts_them_last(night, tmp_path):
    queue = _export(night, tmp_path, "--include-normal")
    assert len(queue) == len(night["calls"])
    normal = [row for row in queue if row["flag"] == "normal"]
    assert normal and queue[-len(normal):] == normal
    scores = [float(row["emergency_score"]) for row in normal]
    assert scores == sorted(scores, reverse=True)


def test_export_refuses_a_night_that_is_not_published(night, capsys):
    assert main(["review", "export", "--out", night["out"], "--run-date", "2026-11-21"]) \
        == EXIT_USAGE
    assert "no published night 2026-11-21" in capsys.readouterr().err
    assert main(["review", "export", "--out", night["out"], "--run-date", "22-11-2026"]) \
        == EXIT_USAGE
    assert "not a YYYY-MM-DD date" in capsys.readouterr().err


# --- import ----------------------------------------------------------------------------

def _fill(queue: list[dict]) -> tuple[list[dict], dict[str, tuple]]:
    """The queue with verdicts: the first emergency a fire (with a Korean note), the first
    prank candidate a prank, the silent call silent, the last normal call normal, and a row
    left without a verdict. Returns the rows and the verdicts by call id."""
    rows = [dict(row) for row in queue]
    first = {}
    for row in rows:
        first.setdefault(row["flag"], row)
    choices = {first["emergency"]["call_id"]: ("emergency", "fire", SECRET_NOTE),
               first["prank_candidate"]["call_id"]: ("prank", "", ""),
               first["silent"]["call_id"]: ("silent", "", "말 없음"),
               rows[-1]["call_id"]: ("Normal ", "normal_indoor", "")}
    for row in rows:
        if row["call_id"] in choices:
            row["verdict"], row["verdict_category"], row["note"] = choices[row["call_id"]]
    return rows, choices


def test_import_stores_verdicts_and_labels_and_merges_a_later_import(night, tmp_path, capsys):
    out = str(tmp_path / "reports")
    shutil.copytree(night["out"], out)
    rows, choices = _fill(_export({**night, "out": out}, tmp_path, "--include-normal"))
    assert rows[-1]["flag"] == "normal"
    path = _write_csv(tmp_path / "filled.csv", rows)

    assert main(["review", "import", path, "--out", out]) == 0
    printed = capsys.readouterr().out
    assert f"stored 4 verdict(s) of the night {RUN_DATE}: emergency 1, normal 1, prank 1, " \
           "silent 1" in printed
    assert f"skipped {len(rows) - 4} row(s) without a verdict" in printed
    folder = os.path.join(out, "reviews", f"run_date={RUN_DATE}")
    assert "3 of them training labels" in printed and folder in printed

    calls = {row["call_id"]: row for row in night["calls"]}
    stored = pq.read_table(os.path.join(folder, "verdicts.parquet"))
    assert stored.schema.names == ["call_id", "audio_uri", "flag", "verdict", "category",
                                   "note", "reviewed_at"]
    by_id = {row["call_id"]: row for row in stored.to_pylist()}
    assert set(by_id) == set(choices)
    for call_id, (verdict, category, note) in choices.items():
        row = by_id[call_id]
        assert (row["verdict"], row["category"], row["note"]) == (
            verdict.strip().lower(), category or None, note or None)
        assert (row["flag"], row["audio_uri"]) == (calls[call_id]["flag"],
                                                   calls[call_id]["audio_uri"])
        assert row["reviewed_at"].tzinfo is not None
    counts = dict(duckdb.sql(
        f"SELECT verdict, count(*) FROM read_parquet('{folder}/verdicts.parquet') "
        f"GROUP BY verdict").fetchall())
    assert counts == {"emergency": 1, "prank": 1, "silent": 1, "normal": 1}

    labels = read_labels(os.path.join(folder, "labels.csv"))
    silent_id = next(k for k, v in choices.items() if v[0] == "silent")
    assert set(labels) == set(choices) - {silent_id}  # silent is not a training label
    for call_id, fields in labels.items():
        verdict, category, _ = choices[call_id]
        assert (fields["label"], fields["category"]) == (verdict.strip().lower(),
                                                         category or None)
    record = json.load(open(os.path.join(folder, "review.json"), encoding="utf-8"))
    assert record["archive"] == night["summary"]["options"]["archive"] == night["archive"]
    assert record["counts"] == {"reviewed": 4, "labels": 3, "by_verdict": {
        "emergency": 1, "normal": 1, "prank": 1, "silent": 1}}

    # a later import replaces the verdicts of its calls and keeps the others
    prank_id = next(k for k, v in choices.items() if v[0] == "prank")
    new_id = next(row["call_id"] for row in rows if row["call_id"] not in choices)
    again = [{**row, "verdict": "", "verdict_category": "", "note": ""} for row in rows]
    for row in again:
        if row["call_id"] == prank_id:
            row.update(verdict="normal", verdict_category="normal_outdoor")
        if row["call_id"] == new_id:
            row.update(verdict="emergency", verdict_category="medical")
    assert main(["review", "import", _write_csv(tmp_path / "again.csv", again),
                 "--out", out, "--run-date", RUN_DATE]) == 0
    assert "stored 2 verdict(s)" in capsys.readouterr().out
    merged = {row["call_id"]: row for row in
              pq.read_table(os.path.join(folder, "verdicts.parquet")).to_pylist()}
    assert set(merged) == set(choices) | {new_id}
    assert (merged[prank_id]["verdict"], merged[prank_id]["category"]) == ("normal",
                                                                           "normal_outdoor")
    assert merged[prank_id]["reviewed_at"] > by_id[prank_id]["reviewed_at"]
    for call_id in set(choices) - {prank_id}:
        assert merged[call_id] == by_id[call_id]
    labels = read_labels(os.path.join(folder, "labels.csv"))
    assert labels[new_id]["label"] == "emergency" and labels[prank_id]["label"] == "normal"


def test_a_file_with_problems_is_refused_whole_naming_each_line(night, tmp_path, capsys):
    out = str(tmp_path / "reports")
    shutil.copytree(night["out"], out)
    queue = _export({**night, "out": out}, tmp_path, "--include-normal")
    assert len(queue) >= 8
    rows = [dict(row, note=SECRET_NOTE) for row in queue]
    rows[0].update(verdict="emergency", verdict_category="fire")  # line 2: fine
    rows[1].update(call_id="no-such-call", verdict="normal")  # line 3
    rows[2].update(verdict="emergancy")  # line 4
    rows[3].update(verdict="prank", verdict_category="fires")  # line 5
    rows[4].update(verdict="emergency")  # line 6: no category
    # line 7: a duplicate, and with another call's audio_uri
    rows[5].update(call_id=rows[0]["call_id"], verdict="normal")
    rows[6].update(verdict="silent", verdict_category="gas")  # line 8
    rows[7].update(verdict="normal", verdict_category="fire")  # line 9
    folder = os.path.join(out, "reviews")
    before = _files(folder)

    path = _write_csv(tmp_path / "bad.csv", rows)
    assert main(["review", "import", path, "--out", out]) == EXIT_USAGE
    message = capsys.readouterr().err
    for expected in ["line 3: call 'no-such-call' is not a call of the night 2026-11-22",
                     "line 4: verdict 'emergancy' is not one of emergency, normal, prank, "
                     "silent",
                     "line 5: verdict_category 'fires' is not a category of the taxonomy",
                     "line 6: emergency verdicts take an emergency category; "
                     "verdict_category is empty",
                     f"line 7: call '{rows[0]['call_id']}' is also on line 2",
                     f"line 7: call '{rows[0]['call_id']}' has another audio_uri in the "
                     f"night {RUN_DATE}'s calls report",
                     "line 8: silent verdicts take no category, not 'gas'",
                     "line 9: normal verdicts take a normal category or none, not 'fire'",
                     "8 problem(s); nothing was stored"]:
        assert expected in message, (expected, message)
    assert "line 2:" not in message
    assert SECRET_NOTE not in message
    assert _files(folder) == before  # nothing stored

    # the same in CP949 (Excel's "CSV" on Korean Windows), and without the verdict column
    with pytest.raises(ConfigError, match="line 6: emergency verdicts"):
        review.import_verdicts(_write_csv(tmp_path / "bad-cp949.csv", rows, encoding="cp949"),
                               out, RUN_DATE, now=dt.datetime.now(dt.timezone.utc))
    (tmp_path / "no-verdict.csv").write_text("call_id,note\nx,y\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"lacks the column\(s\) \['verdict'\]"):
        review.import_verdicts(str(tmp_path / "no-verdict.csv"), out, RUN_DATE,
                               now=dt.datetime.now(dt.timezone.utc))
    assert _files(folder) == before


def test_problem_rules_of_one_row():
    calls = {"a": {"audio_uri": "/x/a.wav", "flag": "emergency"}}

    def problems(**cells):
        row = {"call_id": "a", "verdict": "", "verdict_category": "", **cells}
        return review.row_problems(row, calls=calls, run_date=RUN_DATE)

    assert problems(verdict="prank", verdict_category="fire") == []
    assert problems(verdict="prank") == []
    assert problems(verdict="normal") == []
    assert problems(verdict="prank", verdict_category="normal_indoor") == [
        "prank verdicts take the emergency category it claims, or none, not 'normal_indoor'"]
    assert problems(verdict="emergency", verdict_category="normal_outdoor") == [
        "emergency verdicts take an emergency category, not 'normal_outdoor'"]
    assert problems(verdict="silent", audio_uri="/y/a.wav") == [
        f"call 'a' has another audio_uri in the night {RUN_DATE}'s calls report"]
    assert problems(call_id="", verdict="normal") == ["a verdict without a call_id"]
    long_value = "x" * 500
    assert problems(verdict=long_value)[0].startswith(f"verdict '{'x' * 40}…' is not one of")


# --- training on the verdicts ------------------------------------------------------------

@pytest.fixture(scope="module")
def reviewed(night, tmp_path_factory):
    """A copy of the night's reports with four verdicts imported (one of them silent), a
    tiny labelled corpus and a feature cache."""
    root = tmp_path_factory.mktemp("reviewed")
    out = str(root / "reports")
    shutil.copytree(night["out"], out)
    queue, _ = review.export_queue(out, RUN_DATE, to=str(root / "queue.csv"),
                                   include_normal=True)
    rows, choices = _fill(_read_csv(queue))
    review.import_verdicts(_write_csv(root / "filled.csv", rows), out, RUN_DATE,
                           now=dt.datetime.now(dt.timezone.utc))
    corpus = str(root / "corpus")
    write_tiny_archive(corpus)
    return {"out": out, "choices": choices, "corpus": corpus, "cache": str(root / "cache")}


def test_reviewed_calls_join_the_train_split_with_the_analysts_labels(night, reviewed):
    inputs = model_input_names("multimodal")
    common = {"config": DEFAULT_FEATURES, "input_names": inputs,
              "cache_dir": reviewed["cache"], "workers": 1}
    plain = prepare_archive(reviewed["corpus"], **common)
    prepared = prepare_archive(reviewed["corpus"], reviewed=[reviewed["out"]], **common)

    labelled = {call_id: choice for call_id, choice in reviewed["choices"].items()
                if choice[0] != "silent"}
    added = prepared.splits["train"][len(plain.splits["train"]):]
    assert [call.record for call in prepared.splits["train"][:len(plain.splits["train"])]] \
        == [call.record for call in plain.splits["train"]]
    assert {call.record.call_id for call in added} == set(labelled)
    for call in added:
        verdict, category, _ = labelled[call.record.call_id]
        assert (call.record.label, call.record.category, call.record.split) == (
            verdict.strip().lower(), category or None, "train")
        assert call.record.audio_uri.startswith(night["archive"] + os.sep)
    for split in ("validation", "test"):  # the corpus's own, so figures stay comparable
        assert [c.record for c in prepared.splits[split]] == \
            [c.record for c in plain.splits[split]]
    assert prepared.windows["train"].n_windows == sum(c.n_windows for c in
                                                      prepared.splits["train"])
    assert prepared.reviewed == ({"out": reviewed["out"], "run_date": RUN_DATE,
                                  "archive": night["archive"], "calls": 3},)


def test_reviewed_nights_are_refused_when_their_calls_cannot_be_found(reviewed, tmp_path):
    with pytest.raises(ConfigError, match="no reviewed night under"):
        reviewed_nights(str(tmp_path))
    out = str(tmp_path / "reports")
    shutil.copytree(reviewed["out"], out)
    record_path = os.path.join(out, "reviews", f"run_date={RUN_DATE}", "review.json")
    record = json.load(open(record_path, encoding="utf-8"))
    common = {"config": DEFAULT_FEATURES, "input_names": model_input_names("cnn_mel"),
              "cache_dir": None, "workers": 1, "reviewed": [out]}

    for archive, message in [(str(tmp_path / "gone"), "its archive cannot be read"),
                             (reviewed["corpus"], r"3 reviewed call\(s\) of archive .* cannot "
                                                  r"be trained on: '.+' is not in the archive")]:
        with open(record_path, "w", encoding="utf-8") as handle:
            json.dump({**record, "archive": archive}, handle)
        with pytest.raises(ConfigError, match=re.escape(
                f"reviewed night {RUN_DATE} under {out}: ") + message):
            prepare_archive(reviewed["corpus"], **common)


def test_train_cli_takes_reviewed_calls_and_names_them_in_the_model_card(reviewed, tmp_path):
    out = str(tmp_path / "bundle")
    assert main(["train", "--archive", reviewed["corpus"], "--model", "cnn_mel", "--out", out,
                 "--epochs", "1", "--batch-size", "4", "--cache-dir", reviewed["cache"],
                 "--workers", "1", "--reviewed", reviewed["out"]]) == 0
    training = load_bundle(out).metadata["training"]
    assert training["splits"]["train"]["calls"] == 12 + 3
    assert [(source["run_date"], source["calls"]) for source in training["reviewed"]] == [
        (RUN_DATE, 3)]
    card = open(os.path.join(out, MODEL_CARD_FILE), encoding="utf-8").read()
    assert (f"also holds 3 calls labelled by analysts (`call-triage review`): 3 of the "
            f"night {RUN_DATE} under `{reviewed['out']}`") in card
