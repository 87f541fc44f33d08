"""Report staging, publishing and the invariant check, on real files."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import publish, reports


def _stage(root, report: str, run_date: str, ids: list[str], name: str = "part-0.parquet"):
    folder = root / report / f"run_date={run_date}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"call_id": ids}), folder / name)


def test_invariant_holds_only_when_every_input_row_is_reported_once():
    assert publish.check_invariant(input_ids=["a", "b", "c"], scored_ids=["a", "c"],
                                   error_ids=["b"]) == []
    missing = publish.check_invariant(input_ids=["a", "b"], scored_ids=["a"], error_ids=[])
    assert missing and "neither" in missing[0] and "'b'" in missing[0]
    twice = publish.check_invariant(input_ids=["a"], scored_ids=["a"], error_ids=["a"])
    assert any("both" in problem for problem in twice)
    # a duplicated manifest id is two input rows and must be two error rows
    assert publish.check_invariant(input_ids=["d", "d"], scored_ids=[],
                                   error_ids=["d", "d"]) == []


def test_publish_replaces_the_night_and_leaves_other_nights(tmp_path):
    out = tmp_path / "out"
    _stage(out, reports.CALLS, "2026-11-21", ["old-night"])
    _stage(out, reports.CALLS, "2026-11-22", ["stale-1", "stale-2"], name="part-9.parquet")
    staging = tmp_path / "out" / "_staging" / "run1"
    _stage(staging, reports.CALLS, "2026-11-22", ["new-1"])
    _stage(staging, reports.ERRORS, "2026-11-22", ["bad-1"])

    publish.publish_reports(out=str(out), staging=str(staging), run_date="2026-11-22")
    publish.write_summary(out=str(out), run_date="2026-11-22", summary={"status": "complete"})

    night = reports.read_report(str(out), reports.CALLS, "2026-11-22", columns=["call_id"])
    assert night["call_id"].to_pylist() == ["new-1"]
    errors = reports.read_report(str(out), reports.ERRORS, "2026-11-22", columns=["call_id"])
    assert errors["call_id"].to_pylist() == ["bad-1"]
    older = reports.read_report(str(out), reports.CALLS, "2026-11-21", columns=["call_id"])
    assert older["call_id"].to_pylist() == ["old-night"]
    summary = out / publish.SUMMARIES / "run_date=2026-11-22" / publish.SUMMARY_FILE
    assert json.loads(summary.read_text())["status"] == "complete"
