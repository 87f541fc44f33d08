"""The night's HTML report: written by real runs, opened in a real headless Chromium."""

from __future__ import annotations

import csv
import datetime as dt
import os
import shutil
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
from playwright.sync_api import sync_playwright

from models import DEFAULT_BUNDLE
from pipelines import night_report
from pipelines.cli import main
from pipelines.summary import format_summary
from pipelines.triage import run
from transforms.audio import encode_audio
from transforms.errors import ConfigError, ReportError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(REPO, "examples", "archive")
NIGHTS = ("2026-11-21", "2026-11-22")
#: Korean line names: the page must escape and render them (a Hangul font is installed).
LINES = {"112": "112 종합상황실", "119": "119 구급상황관리센터"}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _archive(root, rows: list[dict]) -> str:
    """An archive in ``root`` with ``rows`` of the example archive (lines renamed), a silent
    call and a corrupt file."""
    archive = root / "archive"
    (archive / "audio").mkdir(parents=True)
    for row in rows:
        shutil.copy(os.path.join(EXAMPLE, row["audio"]), archive / row["audio"])
    silence = np.zeros(10 * 8_000, np.float32)
    (archive / "audio" / "silence.wav").write_bytes(encode_audio(silence, sample_rate_hz=8_000))
    (archive / "audio" / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk")
    extra = [{"call_id": "pocket-dial", "audio": "audio/silence.wav"},
             {"call_id": "corrupt", "audio": "audio/corrupt.wav"}]
    with open(archive / "manifest.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), restval="")
        writer.writeheader()
        writer.writerows([dict(row, line=LINES[row["line"]]) for row in rows] + extra)
    return str(archive)


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    """Two published nights under one output; the second with audio clips in its report."""
    root = tmp_path_factory.mktemp("report")
    with open(os.path.join(EXAMPLE, "manifest.csv"), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_label = {label: [row for row in rows if row["label"] == label]
                for label in ("emergency", "prank", "normal")}
    key = root / "caller.key"
    key.write_text("report-test-key", encoding="utf-8")
    out = root / "reports"
    summaries = []
    for index, run_date in enumerate(NIGHTS):
        picked = (by_label["emergency"][index * 4:index * 4 + 4] + by_label["prank"][:3]
                  + by_label["normal"][index * 3:index * 3 + 3])
        archive = _archive(root / run_date, picked)
        summaries.append(run([f"--archive={archive}", f"--out={out}",
                              f"--bundle={DEFAULT_BUNDLE}", f"--run-date={run_date}",
                              f"--caller-hash-key-file={key}",
                              *(["--include-audio-clips"] if index else [])],
                             environ={}, today=dt.date(2026, 11, 23)))
    return {"out": out, "summaries": summaries}


def _calls(out, run_date: str) -> list[dict]:
    return pq.read_table(str(out / "calls" / f"run_date={run_date}")).to_pylist()


def test_psi_is_zero_for_the_same_distribution_and_grows_with_the_shift():
    uniform = night_report.bin_counts(np.arange(1000) / 1000 + 0.0005)
    assert uniform.tolist() == [100] * 10
    shares = night_report.smoothed_shares(uniform)
    assert night_report.population_stability(shares, shares) == pytest.approx(0.0)
    low = night_report.smoothed_shares(night_report.bin_counts(np.full(100, 0.05)))
    # all the mass in one bin of ten, the others at the prior's half call each
    observed = np.array([100.5] + [0.5] * 9) / 105
    expected = float(np.sum((observed - 0.1) * np.log(observed / 0.1)))
    assert night_report.population_stability(shares, low) == pytest.approx(expected)
    assert expected > 3


def test_a_night_drawn_from_the_reference_is_stable_and_a_small_one_is_not_judged():
    rng = np.random.default_rng(0)
    reference = np.array([96, 13, 6, 5, 4, 8, 10, 9, 14, 113])  # the bundle's validation
    draw = lambda n: rng.choice(10, size=n, p=reference / reference.sum()) / 10 + 0.05
    psis = [night_report.population_stability(
        night_report.smoothed_shares(reference),
        night_report.smoothed_shares(night_report.bin_counts(draw(300)))) for _ in range(50)]
    assert max(psis) < night_report.PSI_WARNING
    small = night_report.Drift("x", psi=1.0, n_calls=40)
    assert not small.judged and not small.shifted
    assert night_report.Drift("x", psi=0.3, n_calls=300).shifted
    assert not night_report.Drift("x", psi=0.2, n_calls=300).shifted


def test_each_run_writes_its_report_and_the_summary_says_where(nights):
    for run_date, summary in zip(NIGHTS, nights["summaries"]):
        path = nights["out"] / "report" / f"run_date={run_date}" / "index.html"
        assert summary["report_path"] == str(path) and path.stat().st_size > 5_000


def test_the_report_command_rewrites_a_night_and_refuses_unknown_ones(nights, capsys):
    out = nights["out"]
    path = out / "report" / f"run_date={NIGHTS[0]}" / "index.html"
    path.unlink()
    assert main(["report", "--out", str(out), "--run-date", NIGHTS[0], "--nights", "1"]) == 0
    assert capsys.readouterr().out.strip() == str(path) and path.exists()
    assert "<audio" not in path.read_text(encoding="utf-8")  # no clips unless asked
    with pytest.raises(ReportError, match="no published night 2026-01-01"):
        night_report.write_report(str(out), "2026-01-01")
    with pytest.raises(ConfigError, match="nights=0"):
        night_report.write_report(str(out), NIGHTS[0], nights=0)
    assert main(["report", "--out", str(out), "--run-date", "22/11/2026"]) == 2


def test_the_trend_shows_both_nights_from_their_summaries(nights):
    night = night_report.load_night(str(nights["out"]), NIGHTS[1])
    earlier = night_report.load_night(str(nights["out"]), NIGHTS[0],
                                      columns=night_report.TREND_COLUMNS)
    rows = [night_report.trend_row(other) for other in (earlier, night)]
    for row, summary in zip(rows, nights["summaries"]):
        assert row["calls"] == summary["counts"]["input"]
        assert row["emergency"] == summary["counts"]["emergencies"]
    checks = night_report.drift_checks(night, earlier=[earlier])
    assert [check.against for check in checks] == ["the bundle's validation calls",
                                                    "the 1 nights before"]


def test_chromium_shows_every_count_flagged_call_and_clip_without_the_network(
        nights, tmp_path):
    assert CHROMIUM, "no chromium: scripts/install-system-deps.sh installs it"
    out, run_date = nights["out"], NIGHTS[1]
    calls = _calls(out, run_date)
    errors = pq.read_table(str(out / "errors" / f"run_date={run_date}")).to_pylist()
    path = out / "report" / f"run_date={run_date}" / "index.html"
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--autoplay-policy="
                                                   "no-user-gesture-required"])
        page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
        page.on("request", lambda request: requests.append(request.url))
        page.goto(path.as_uri())
        screenshot = tmp_path / "report.png"
        page.screenshot(path=str(screenshot), full_page=True)

        def count(key: str) -> int:
            return int(page.locator(f'[data-count="{key}"] b').inner_text())

        def ids(selector: str) -> set[str]:
            return set(page.eval_on_selector_all(
                selector, "rows => rows.map(row => row.dataset.callId)"))

        flags = [row["flag"] for row in calls]
        assert count("input") == len(calls) + len(errors)
        for flag in ("emergency", "prank_candidate", "silent", "normal"):
            assert count(flag) == flags.count(flag)
        assert count("errors") == len(errors) >= 1
        emergencies = {row["call_id"] for row in calls if row["flag"] == "emergency"}
        assert emergencies and ids("#emergencies tr[data-flag=emergency]") == emergencies
        assert ids("#prank-candidates tr[data-flag=prank_candidate]") == {
            row["call_id"] for row in calls if row["flag"] == "prank_candidate"}
        assert "pocket-dial" in ids("#silent tr[data-flag=silent]")
        assert ids("#errors tbody tr") == {row["call_id"] for row in errors}
        shown = page.eval_on_selector_all(
            "#emergencies tr[data-flag=emergency] td:nth-child(5)",
            "cells => cells.map(cell => Number(cell.textContent))")
        assert shown == sorted(shown, reverse=True)  # highest score first
        assert LINES["119"] in page.content() or LINES["112"] in page.content()
        # Hangul is drawn with a real font, not as the empty boxes of characters it lacks
        widths = page.evaluate("""() => {
            const context = document.createElement('canvas').getContext('2d');
            context.font = getComputedStyle(document.body).fontSize + ' ' +
                           getComputedStyle(document.body).fontFamily;
            return ['구급상황', '\\uE000\\uE001\\uE002\\uE003'].map(
                text => context.measureText(text).width);
        }""")
        assert widths[0] != pytest.approx(widths[1])
        durations = page.evaluate("""async () => Promise.all(
            [...document.querySelectorAll('audio[data-seconds]')].map(async audio => {
                const bytes = await (await fetch(audio.src)).arrayBuffer();
                const context = new OfflineAudioContext(1, 8000, 8000);
                const decoded = await context.decodeAudioData(bytes);
                return [Number(audio.dataset.seconds), decoded.duration];
            }))""")
        browser.close()
    flagged = [row for row in calls if row["flag"] in ("emergency", "prank_candidate")]
    assert len(durations) == len(flagged)
    for expected, decoded in durations:
        assert decoded == pytest.approx(expected, abs=0.05)
    assert screenshot.stat().st_size > 20_000
    assert not [url for url in requests if not url.startswith(("file:", "data:"))]


def test_the_printed_duckdb_command_runs_as_printed_from_another_folder(nights, tmp_path):
    summary = nights["summaries"][1]
    text = format_summary(summary)
    assert text.splitlines()[-1] == f"report: {summary['report_path']}"
    command = next(line.strip() for line in text.splitlines()
                   if line.strip().startswith(sys.executable))
    result = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True,
                            text=True, check=True)
    calls = _calls(nights["out"], NIGHTS[1])
    for flag in {row["flag"] for row in calls}:
        assert flag in result.stdout


def test_no_report_leaves_the_night_without_one_even_when_it_had_one(tmp_path):
    with open(os.path.join(EXAMPLE, "manifest.csv"), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:2]
    archive = _archive(tmp_path, rows)
    key = tmp_path / "caller.key"
    key.write_text("k", encoding="utf-8")
    argv = [f"--archive={archive}", f"--out={tmp_path / 'out'}", f"--run-date={NIGHTS[0]}",
            f"--caller-hash-key-file={key}"]
    first = run(argv, environ={})
    assert os.path.exists(first["report_path"])
    summary = run(argv + ["--no-report"], environ={})
    # the first run's report described calls the second run replaced: it is gone
    assert "report_path" not in summary and not os.path.exists(first["report_path"])
    assert "not written (--no-report)" in format_summary(summary)
