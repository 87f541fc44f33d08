"""The nightly job at scale: several worker processes, and Cloud Storage end to end."""

from __future__ import annotations

import csv
import datetime as dt
import logging
import os
import shutil

import pytest

from models.bundle import read_bundle_metadata
from models.precision import PRECISIONS, native_bfloat16, resolve_precision
from pipelines import reports
from models import DEFAULT_BUNDLE
from pipelines.triage import LOCAL_RUNNER, run

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(REPO, "examples", "archive")
RUN_DATE = "2026-11-22"
N_CALLS = 6
COLUMNS = ["call_id", "flag", "emergency_score", "audio_score", "text_score", "category",
           "prank_score", "evidence_start_s", "caller_hash", "duration_s"]


@pytest.fixture(scope="module")
def small_archive(tmp_path_factory):
    """The first calls of the example archive (several formats), plus one corrupt file."""
    archive = tmp_path_factory.mktemp("small") / "archive"
    (archive / "audio").mkdir(parents=True)
    with open(os.path.join(EXAMPLE, "manifest.csv"), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:N_CALLS]
    for row in rows:
        shutil.copy(os.path.join(EXAMPLE, row["audio"]), archive / row["audio"])
    (archive / "audio" / "corrupt.wav").write_bytes(b"not audio at all")
    with open(archive / "manifest.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), restval="")
        writer.writeheader()
        writer.writerows(rows + [{"call_id": "corrupt", "audio": "audio/corrupt.wav"}])
    return archive


@pytest.fixture(scope="module")
def key_file(tmp_path_factory) -> str:
    """One caller-hash key for every run, so that their reports compare row for row."""
    path = tmp_path_factory.mktemp("key") / "caller.key"
    path.write_text("k", encoding="utf-8")
    return str(path)


def _run(archive: str, out: str, *extra: str, key_file: str) -> dict:
    return run([f"--archive={archive}", f"--out={out}", f"--model={DEFAULT_BUNDLE}",
                f"--run_date={RUN_DATE}", f"--caller_hash_key_file={key_file}", *extra],
               environ={}, today=dt.date(2026, 11, 23))


def _rows(out: str) -> list[dict]:
    table = reports.read_report(out, reports.CALLS, RUN_DATE, columns=COLUMNS)
    return sorted(table.to_pylist(), key=lambda row: row["call_id"])


def _assert_same_calls(got: list[dict], expected: list[dict]) -> None:
    assert [row["call_id"] for row in got] == [row["call_id"] for row in expected]
    for mine, theirs in zip(got, expected):
        for column in COLUMNS:
            if isinstance(theirs[column], float):
                assert mine[column] == pytest.approx(theirs[column], abs=1e-4), column
            else:
                assert mine[column] == theirs[column], column


@pytest.fixture(scope="module")
def in_process(small_archive, key_file, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("in_process") / "reports")
    summary = _run(str(small_archive), out, key_file=key_file)
    return out, summary


def test_multi_process_direct_runner_gives_the_same_reports(small_archive, in_process,
                                                             key_file, tmp_path):
    out, summary = in_process
    multi_out = str(tmp_path / "reports")
    multi = _run(str(small_archive), multi_out, "--direct_running_mode=multi_processing",
                 "--direct_num_workers=2", key_file=key_file)
    _assert_same_calls(_rows(multi_out), _rows(out))
    assert multi["counts"] == summary["counts"]
    assert summary["counts"]["scored"] == N_CALLS and summary["counts"]["errors"] == 1


def test_gcs_to_gcs_end_to_end(small_archive, in_process, key_file, gcs_emulator):
    archive_uri = f"gs://{gcs_emulator.bucket}/archive"
    out_uri = f"gs://{gcs_emulator.bucket}/reports"
    gcs_emulator.upload_folder(small_archive, archive_uri)

    summary = _run(archive_uri, out_uri, key_file=key_file)

    local_out, local_summary = in_process
    gcs_rows = _rows(out_uri)
    _assert_same_calls([dict(row, caller_hash=row["caller_hash"]) for row in gcs_rows],
                       _rows(local_out))
    assert summary["counts"] == local_summary["counts"]
    errors = reports.read_report(out_uri, reports.ERRORS, RUN_DATE,
                                 columns=["call_id", "stage", "source_uri"]).to_pylist()
    assert [(e["call_id"], e["stage"]) for e in errors] == [("corrupt", "decode")]
    assert errors[0]["source_uri"].startswith(archive_uri)
    names = {blob.name for blob in gcs_emulator.client.list_blobs(gcs_emulator.bucket)}
    assert f"reports/summaries/run_date={RUN_DATE}/summary.json" in names
    assert not any(name.startswith("reports/_staging/" + summary["run_id"]) for name in names)


def test_bfloat16_inference_gives_the_same_verdicts_with_close_scores(small_archive,
                                                                      in_process, key_file,
                                                                      tmp_path):
    auto_out, auto = in_process
    outs = {precision: str(tmp_path / precision) for precision in PRECISIONS}
    summaries = {precision: _run(str(small_archive), out, f"--inference_precision={precision}",
                                 key_file=key_file)
                 for precision, out in outs.items()}
    rows = {precision: _rows(out) for precision, out in outs.items()}
    windows = sum(auto["model"]["windows_by_precision"].values())

    for precision, summary in summaries.items():
        assert summary["options"]["inference_precision"] == precision
        assert summary["model"]["windows_by_precision"] == {precision: windows}
        assert summary["counts"] == auto["counts"]
    for mine, theirs in zip(rows["bfloat16"], rows["float32"]):
        assert (mine["call_id"], mine["flag"]) == (theirs["call_id"], theirs["flag"])
        for column in ("emergency_score", "audio_score", "prank_score"):
            assert mine[column] == pytest.approx(theirs[column], abs=0.03), column
    # auto (the default) scored as the precision it resolves to on this CPU
    chosen, _ = resolve_precision("auto", metadata=read_bundle_metadata(DEFAULT_BUNDLE),
                                  native=native_bfloat16())
    assert auto["options"]["inference_precision"] == "auto"
    assert auto["model"]["windows_by_precision"] == {chosen: windows}
    _assert_same_calls(_rows(auto_out), rows[chosen])


def test_the_default_runner_is_local_and_never_fetches_prism(small_archive, key_file, tmp_path,
                                                             caplog):
    with caplog.at_level(logging.INFO):
        summary = _run(str(small_archive), str(tmp_path / "reports"), key_file=key_file)

    messages = [record.getMessage() for record in caplog.records]
    assert any(f"(runner {LOCAL_RUNNER})" in message for message in messages)
    assert not any("Prism" in message for message in messages)  # the DirectRunner tries it
    assert summary["counts"]["scored"] == N_CALLS
