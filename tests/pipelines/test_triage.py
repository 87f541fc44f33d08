"""The nightly job end to end on the DirectRunner, with the bundled model.

The archive is a slice of the bundled example archive (real synthetic calls in several
formats, one long call with an emergency episode in the middle) plus planted trouble:
a caller who calls three times, a corrupt file, an empty file, a missing file, a
transcript in neither UTF-8 nor CP949, and calls without a transcript: digital silence,
line hiss, a loud tone and a real human voice (an Asterisk telephone prompt).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import os
import shutil

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from pipelines import publish, reports
from pipelines import lease
from models import DEFAULT_BUNDLE
from pipelines.summary import format_summary
from pipelines.triage import run
from transforms import archive as archive_module
from transforms.audio import encode_audio
from transforms.errors import LeaseError, ReportError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(REPO, "examples", "archive")
RUN_DATE = "2026-11-22"
REPEAT_CALLER = "010-5555-0000"
BAD_CALLS = {"corrupt": "decode", "empty": "decode", "missing": "read", "encoding": "read"}
#: The caller-hash key of the test runs: planted, so that a test can look for it everywhere.
PLANTED_KEY = "planted-caller-key-7f3a9c"


def key_file(folder) -> str:
    """A file in ``folder`` holding :data:`PLANTED_KEY` (``--caller-hash-key-file``)."""
    path = folder / "caller.key"
    path.write_text(PLANTED_KEY + "\n", encoding="utf-8")
    return str(path)


REAL_VOICE = "/usr/share/asterisk/sounds/en_US_f_Allison/demo-echotest.wav"  # 22 s, 8 kHz


def _no_speech_calls(folder) -> dict[str, str]:
    """Calls without speech or transcript, as 8 kHz WAV files in ``folder``: call id →
    file name."""
    rng = np.random.default_rng(3)
    t = np.arange(12 * 8_000) / 8_000
    sounds = {"silence": np.zeros(t.size, np.float32),
              "hiss": (0.004 * rng.standard_normal(t.size)).astype(np.float32),
              "tone": (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)}
    for call_id, samples in sounds.items():
        (folder / f"{call_id}.wav").write_bytes(encode_audio(samples, sample_rate_hz=8_000))
    return {call_id: f"{call_id}.wav" for call_id in sounds}


def _example_rows() -> list[dict]:
    with open(os.path.join(EXAMPLE, "manifest.csv"), encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _pick(rows: list[dict]) -> tuple[list[dict], dict, list[str]]:
    long_call = next(row for row in rows if row["event_start_s"])
    normals = [row for row in rows if row["label"] == "normal"][:5]
    emergencies = [row for row in rows if row["label"] == "emergency"
                   and not row["event_start_s"]][:3]
    pranks = [row for row in rows if row["label"] == "prank"][:2]
    planted = [dict(row, caller_id=REPEAT_CALLER) for row in normals[:3]]
    return planted + normals[3:] + emergencies + pranks + [long_call], long_call, \
        [row["call_id"] for row in planted]


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """Run the job twice on the same night; yields what the tests read back."""
    root = tmp_path_factory.mktemp("night")
    archive = root / "archive"
    (archive / "audio").mkdir(parents=True)
    picked, long_call, planted_ids = _pick(_example_rows())
    for row in picked:
        shutil.copy(os.path.join(EXAMPLE, row["audio"]), archive / row["audio"])
    (archive / "audio" / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    (archive / "audio" / "empty.wav").write_bytes(b"")
    (archive / "audio" / "bad.txt").write_bytes(b"\xff\xfe\xfa\x00\x81")
    no_speech = _no_speech_calls(archive / "audio")
    shutil.copy(REAL_VOICE, archive / "audio" / "voice.wav")
    audio_only = [{"call_id": call_id, "audio": f"audio/{name}"}
                  for call_id, name in {**no_speech, "voice": "voice.wav"}.items()]
    fields = list(picked[0].keys()) + ["transcript_path"]
    bad_rows = [
        {"call_id": "corrupt", "audio": "audio/corrupt.wav"},
        {"call_id": "empty", "audio": "audio/empty.wav"},
        {"call_id": "missing", "audio": "audio/missing.wav"},
        {"call_id": "encoding", "audio": picked[0]["audio"], "transcript": "",
         "transcript_path": "audio/bad.txt"},
    ]
    with open(archive / "manifest.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(picked + audio_only + bad_rows)
    out = root / "reports"
    argv = [f"--archive={archive}", f"--out={out}", f"--model={DEFAULT_BUNDLE}",
            f"--run_date={RUN_DATE}", f"--caller_hash_key_file={key_file(root)}",
            # the rule's score limit is unit-tested; here the grouping across the run counts
            "--repeat_max_emergency=1.0"]
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    logging.getLogger().addHandler(handler)
    previous_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        first = run(argv, environ={}, today=dt.date(2026, 11, 23))
        first_rows = pq.read_table(str(out / "calls")).num_rows
        second = run(argv, environ={}, today=dt.date(2026, 11, 23))
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(previous_level)
    return {"out": out, "first": first, "second": second, "first_rows": first_rows,
            "log": log.getvalue(), "transcripts": [row["transcript"] for row in picked],
            "good_ids": {row["call_id"] for row in picked + audio_only},
            "long_call": long_call, "planted_ids": planted_ids, "no_speech": set(no_speech),
            "n_input": len(picked) + len(audio_only) + len(bad_rows)}


def _calls(night) -> list[dict]:
    return pq.read_table(str(night["out"] / "calls" / f"run_date={RUN_DATE}")).to_pylist()


def test_every_call_is_in_calls_or_errors_exactly_once(night):
    calls = _calls(night)
    errors = pq.read_table(str(night["out"] / "errors" / f"run_date={RUN_DATE}")).to_pylist()
    assert sorted(row["call_id"] for row in calls) == sorted(night["good_ids"])
    assert {row["call_id"]: row["stage"] for row in errors} == BAD_CALLS
    assert len(calls) + len(errors) == night["n_input"]
    counts = night["second"]["counts"]
    assert (counts["input"], counts["scored"], counts["errors"]) == \
        (night["n_input"], len(night["good_ids"]), len(BAD_CALLS))
    assert night["second"]["invariant"]["holds"] is True


def test_reports_have_the_designed_schema_and_partitions(night):
    out = night["out"]
    for report in reports.REPORTS:
        assert os.listdir(out / report) == [f"run_date={RUN_DATE}"]
    table = pq.read_table(str(out / "calls" / f"run_date={RUN_DATE}"))
    assert table.schema.equals(reports.calls_schema(), check_metadata=False)
    for report in reports.REPORTS:
        (path,) = (out / report / f"run_date={RUN_DATE}").glob("*.parquet")  # one file
        column = pq.ParquetFile(path).metadata.row_group(0).column(0)
        assert column.compression == "ZSTD"
    errors = pq.read_table(str(out / "errors" / f"run_date={RUN_DATE}"))
    assert errors.schema.equals(reports.ERRORS_SCHEMA, check_metadata=False)
    assert not os.path.exists(out / publish.STAGING / night["second"]["run_id"])
    summary = json.loads((out / "summaries" / f"run_date={RUN_DATE}" / "summary.json")
                         .read_text())
    assert summary["status"] == "complete" and summary["run_id"] == night["second"]["run_id"]
    assert PLANTED_KEY not in json.dumps(summary)


def test_duckdb_reads_the_partitions_and_the_flagged_subsets_match_calls(night):
    out = night["out"]
    con = duckdb.connect()

    def query(sql: str):
        return con.execute(sql.format(out=out)).fetchall()

    per_flag = dict(query("SELECT flag, count(*) FROM read_parquet('{out}/calls/*/*.parquet', "
                          "hive_partitioning = true) GROUP BY flag"))
    assert query("SELECT DISTINCT CAST(run_date AS VARCHAR) FROM "
                 "read_parquet('{out}/calls/*/*.parquet', hive_partitioning = true)") \
        == [(RUN_DATE,)]
    assert per_flag.get("silent", 0) >= len(night["no_speech"])
    for report, flag in reports.FLAGGED_REPORTS.items():
        subset = query(f"SELECT call_id FROM read_parquet('{{out}}/{report}/*/*.parquet') "
                       "ORDER BY call_id")
        expected = query("SELECT call_id FROM read_parquet('{out}/calls/*/*.parquet') "
                         f"WHERE flag = '{flag}' ORDER BY call_id")
        assert subset == expected and len(subset) == per_flag.get(flag, 0)
    assert query("SELECT count(*) FROM read_parquet('{out}/calls/*/*.parquet') "
                 "WHERE caller_hash LIKE '%5555%' OR caller_hash LIKE '010-%'") == [(0,)]


def test_rerunning_the_night_replaces_it_without_duplicates(night):
    assert night["first_rows"] == len(night["good_ids"])
    assert pq.read_table(str(night["out"] / "calls")).num_rows == night["first_rows"]
    assert night["first"]["run_id"] != night["second"]["run_id"]


def test_repeat_caller_is_a_prank_reason_for_the_planted_caller(night):
    by_id = {row["call_id"]: row for row in _calls(night)}
    planted = [by_id[call_id] for call_id in night["planted_ids"]]
    assert len({row["caller_hash"] for row in planted}) == 1
    assert all("repeat_caller" in row["prank_reasons"] for row in planted)
    others = [row for call_id, row in by_id.items() if call_id not in night["planted_ids"]]
    assert all("repeat_caller" not in row["prank_reasons"] for row in others)
    n_calls = len(night["planted_ids"])
    for row in planted:  # each reason beside its own score; the column shows the largest
        scores = dict(zip(row["prank_reasons"], row["prank_reason_scores"], strict=True))
        assert scores["repeat_caller"] == pytest.approx(1 - 1 / n_calls)
        assert row["prank_score"] >= max(scores.values())


def test_every_row_carries_the_threshold_its_flag_was_judged_by(night):
    threshold = night["second"]["model"]["emergency_threshold"]
    for row in _calls(night):
        assert row["emergency_threshold"] == threshold
        assert (row["flag"] == "emergency") == (
            row["flag"] != "silent" and row["emergency_score"] >= threshold)


def test_long_call_evidence_lies_in_its_emergency_episode(night):
    long_call = night["long_call"]
    row = next(r for r in _calls(night) if r["call_id"] == long_call["call_id"])
    start, end = float(long_call["event_start_s"]), float(long_call["event_end_s"])
    assert row["duration_s"] > 60
    assert row["flag"] == "emergency"
    # the evidence window overlaps the planted episode
    assert row["evidence_start_s"] < end and row["evidence_end_s"] > start


def test_included_transcripts_are_the_ones_the_call_was_scored_with(tmp_path, monkeypatch):
    inline, sidecar = _example_rows()[:2]
    archive = tmp_path / "archive"
    (archive / "audio").mkdir(parents=True)
    for row in (inline, sidecar):
        shutil.copy(os.path.join(EXAMPLE, row["audio"]), archive / row["audio"])
    (archive / "audio" / "sidecar.txt").write_bytes(sidecar["transcript"].encode("cp949"))
    with open(archive / "manifest.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["call_id", "audio", "transcript",
                                                    "transcript_path"], restval="")
        writer.writeheader()
        writer.writerow({key: inline[key] for key in ("call_id", "audio", "transcript")})
        writer.writerow({"call_id": sidecar["call_id"], "audio": sidecar["audio"],
                         "transcript_path": "audio/sidecar.txt"})
    out = tmp_path / "reports"
    sidecar_reads = []
    read_bytes = archive_module._read_bytes

    def counting_read(uri: str) -> bytes:
        sidecar_reads.extend([uri] if uri.endswith("sidecar.txt") else [])
        return read_bytes(uri)

    monkeypatch.setattr(archive_module, "_read_bytes", counting_read)  # a spy: reads are real

    summary = run([f"--archive={archive}", f"--out={out}", f"--model={DEFAULT_BUNDLE}",
                   f"--run_date={RUN_DATE}", f"--caller_hash_key_file={key_file(tmp_path)}", "--include_transcripts"],
                  environ={}, today=dt.date(2026, 11, 23))

    table = pq.read_table(str(out / "calls" / f"run_date={RUN_DATE}"))
    assert table.schema.equals(reports.calls_schema(include_transcript=True),
                               check_metadata=False)
    assert dict(zip(table["call_id"].to_pylist(), table["transcript"].to_pylist())) == {
        inline["call_id"]: inline["transcript"], sidecar["call_id"]: sidecar["transcript"]}
    assert len(sidecar_reads) == 1  # read once, for both the tokens and the report
    windows = sum(summary["model"]["windows_by_precision"].values())
    assert f"model windows:    {windows} in " in format_summary(summary)


def test_calls_without_speech_or_words_are_silent_never_emergencies(night):
    calls = {row["call_id"]: row for row in _calls(night)}
    for call_id in night["no_speech"]:
        assert calls[call_id]["flag"] == "silent", call_id
        assert calls[call_id]["speech_s"] == 0.0
    # a real voice without a transcript is speech: scored as any call
    assert calls["voice"]["flag"] != "silent" and calls["voice"]["speech_s"] > 5.0
    # every call with words or audible speech has its speech measured
    spoken = [row for call_id, row in calls.items() if call_id not in night["no_speech"]]
    assert all(row["speech_s"] > 0 for row in spoken)
    assert night["second"]["counts"]["silent"] == sum(
        row["flag"] == "silent" for row in calls.values())


def _published(out) -> tuple[list[str], str]:
    """The published night's call ids and its summary's run id."""
    calls = pq.read_table(str(out / "calls" / f"run_date={RUN_DATE}")).column("call_id")
    summary = json.loads((out / "summaries" / f"run_date={RUN_DATE}" / "summary.json")
                         .read_text())
    return sorted(calls.to_pylist()), summary["run_id"]


def test_a_broken_invariant_publishes_nothing_and_keeps_the_night(night, tmp_path,
                                                                 monkeypatch):
    out = tmp_path / "reports"
    shutil.copytree(night["out"], out)
    before = _published(out)
    real_ids = publish.read_input_ids
    monkeypatch.setattr(publish, "read_input_ids",
                        lambda staging: real_ids(staging) + ["a-call-nobody-scored"])
    archive = tmp_path / "archive"
    (archive / "audio").mkdir(parents=True)
    shutil.copy(REAL_VOICE, archive / "audio" / "voice.wav")
    (archive / "manifest.csv").write_text("call_id,audio\nvoice,audio/voice.wav\n",
                                          encoding="utf-8")

    with pytest.raises(ReportError, match="input = scored \\+ errors does not hold"):
        run([f"--archive={archive}", f"--out={out}", f"--run_date={RUN_DATE}",
             f"--caller_hash_key_file={key_file(tmp_path)}"], environ={},
            today=dt.date(2026, 11, 23))

    assert _published(out) == before
    assert os.listdir(out / publish.STAGING)  # left for inspection
    (failure,) = (out / "summaries" / f"run_date={RUN_DATE}").glob("failed-*.json")
    record = json.loads(failure.read_text())
    assert record["status"] == "failed" and record["error_type"] == "ReportError"
    assert not (out / lease.LEASES / f"run_date={RUN_DATE}.json").exists()  # given back


def test_an_empty_archive_keeps_the_published_night_unless_allowed(night, tmp_path):
    out = tmp_path / "reports"
    shutil.copytree(night["out"], out)
    before = _published(out)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "manifest.csv").write_text("call_id,audio\n", encoding="utf-8")
    argv = [f"--archive={empty}", f"--out={out}", f"--run_date={RUN_DATE}",
            f"--caller_hash_key_file={key_file(tmp_path)}"]

    with pytest.raises(ReportError, match=f"lists no calls; the published night of "
                                          f"{RUN_DATE} under {out} is kept"):
        run(argv, environ={}, today=dt.date(2026, 11, 23))
    assert _published(out) == before
    assert not os.listdir(out / publish.STAGING)

    summary = run(argv + ["--allow-empty"], environ={}, today=dt.date(2026, 11, 23))
    assert summary["counts"]["input"] == 0 and summary["status"] == "complete"
    assert _published(out) == ([], summary["run_id"])


def test_no_output_or_log_holds_the_key_a_caller_number_or_a_transcript(night):
    secrets = [PLANTED_KEY, REPEAT_CALLER, REPEAT_CALLER.replace("-", "")]
    secrets += [text[:12] for text in night["transcripts"] if len(text) >= 12]
    outputs = [path for path in night["out"].rglob("*") if path.is_file()]
    assert outputs and night["log"]
    for path in outputs:
        # Parquet pages are compressed: look at the values, not the bytes
        text = (str(pq.read_table(str(path)).to_pylist()) if path.suffix == ".parquet"
                else path.read_bytes().decode("utf-8", "replace"))
        for secret in secrets:
            assert secret not in text, (path, secret[:4])
    for secret in secrets:
        assert secret not in night["log"], secret[:4]


def test_a_run_of_a_night_another_run_holds_is_refused_and_stale_staging_goes(night, tmp_path):
    out = tmp_path / "reports"
    shutil.copytree(night["out"], out)
    before = _published(out)
    stale = out / publish.STAGING / f"{RUN_DATE}-000000-deadbeef" / "calls"
    other_night = out / publish.STAGING / "2026-11-21-000000-cafecafe"
    for folder in (stale, other_night):
        folder.mkdir(parents=True)
        (folder / "part-00000.parquet").write_bytes(b"left by a killed run")
    holder = lease.acquire(out=str(out), run_date=RUN_DATE, run_id="another-run",
                           now=dt.datetime.now(dt.timezone.utc))
    archive = tmp_path / "archive"
    archive.mkdir()
    shutil.copy(REAL_VOICE, archive / "voice.wav")
    (archive / "manifest.csv").write_text("call_id,audio\nvoice,voice.wav\n", encoding="utf-8")
    argv = [f"--archive={archive}", f"--out={out}", f"--run_date={RUN_DATE}",
            f"--caller_hash_key_file={key_file(tmp_path)}"]

    with pytest.raises(LeaseError, match="run another-run"):
        run(argv, environ={}, today=dt.date(2026, 11, 23))
    assert _published(out) == before and stale.exists()

    lease.release(holder)
    summary = run(argv, environ={}, today=dt.date(2026, 11, 23))
    assert _published(out) == (["voice"], summary["run_id"])
    assert not stale.parent.exists() and other_night.exists()


def test_one_night_survives_every_bad_input_at_once(tmp_path):
    """A JSON-lines manifest holding each per-call trouble an operator has met: every call
    ends in calls or errors exactly once, and the night is published."""
    archive = tmp_path / "archive"
    archive.mkdir()
    good = "good.wav"
    shutil.copy(REAL_VOICE, archive / good)
    wav = (archive / good).read_bytes()
    absurd = bytearray(wav)
    absurd[24:28] = (2_000_000_000).to_bytes(4, "little")
    (archive / "absurd.wav").write_bytes(bytes(absurd))
    (archive / "truncated.wav").write_bytes(wav[:len(wav) // 2])
    (archive / "one-sample.wav").write_bytes(wav[:44] + wav[44:46])
    outside = tmp_path / "outside.wav"
    outside.write_bytes(wav)
    (archive / "link.wav").symlink_to(outside)
    rows = [
        '{"call_id": "ok", "audio": "good.wav", "caller_id": NaN}',
        '{"call_id": "long-text", "audio": "good.wav", "transcript": "%s"}' % ("불" * 131_073),
        '{"call_id": "\\udc80", "audio": "good.wav"}',
        '{"call_id": "bad-caller", "audio": "good.wav", "caller_id": "\\ud800"}',
        '{"call_id": "absurd", "audio": "absurd.wav"}',
        '{"call_id": "truncated", "audio": "truncated.wav"}',
        '{"call_id": "tiny", "audio": "one-sample.wav"}',
        '{"call_id": "linked", "audio": "link.wav"}',
    ] + ['{"call_id": "dup", "audio": "good.wav"}'] * 300
    (archive / "manifest.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "reports"

    summary = run([f"--archive={archive}", f"--out={out}", f"--run_date={RUN_DATE}",
                   f"--caller_hash_key_file={key_file(tmp_path)}"],
                  environ={}, today=dt.date(2026, 11, 23))

    calls = {row["call_id"]: row for row in _calls({"out": out})}
    errors = pq.read_table(str(out / "errors" / f"run_date={RUN_DATE}")).to_pylist()
    assert set(calls) == {"ok", "truncated"}
    assert calls["truncated"]["audio_warnings"] == ["truncated"]
    assert calls["ok"]["caller_hash"] is None and calls["ok"]["audio_warnings"] == []
    stages = {}
    for row in errors:
        stages.setdefault(row["call_id"], set()).add(row["stage"])
    assert stages == {"long-text": {"read"}, "<manifest.jsonl row 3>": {"read"},
                      "bad-caller": {"read"}, "absurd": {"decode"}, "tiny": {"decode"},
                      "linked": {"read"}, "dup": {"read"}}
    assert len(calls) + len(errors) == len(rows) == summary["counts"]["input"]
    assert max(len(row["message"]) for row in errors) < 500
    assert summary["status"] == "complete"


def test_the_log_shows_the_run_progressing(night):
    n = night["n_input"]  # every row of this archive is a call to featurise
    assert f"listed {n} calls" in night["log"]
    assert f"featurised {n} of {n} calls (" in night["log"]
