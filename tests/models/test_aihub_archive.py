"""End to end: a synthetic archive in the AI Hub layouts trains and evaluates as it comes."""

from __future__ import annotations

import collections
import datetime
import json
import os

import duckdb
import pytest

from models.bundle import load_bundle
from pipelines.cli import main
from synth import corpus

CALLS, SEED = 60, 5


@pytest.fixture(scope="module")
def aihub_archive(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("aihub") / "archive")
    assert main(["synth", "--out", root, "--calls", str(CALLS), "--seed", str(SEED),
                 "--layout", "aihub", "--workers", "2"]) == 0
    return root


@pytest.fixture(scope="module")
def aihub_bundle(aihub_archive, tmp_path_factory) -> tuple[str, str]:
    """A bundle trained on the archive as it comes, and its feature cache."""
    folder = tmp_path_factory.mktemp("aihub-bundle")
    bundle_dir, cache = str(folder / "bundle"), str(folder / "cache")
    assert main(["train", "--archive", aihub_archive, "--out", bundle_dir, "--epochs", "2",
                 "--patience", "2", "--batch-size", "8", "--cache-dir", cache,
                 "--workers", "2"]) == 0
    return bundle_dir, cache


def test_synth_writes_the_aihub_layouts_and_no_manifest(aihub_archive):
    plans = corpus.plan_corpus(n_calls=CALLS, seed=SEED)
    assert not os.path.exists(os.path.join(aihub_archive, "manifest.csv"))
    with open(os.path.join(aihub_archive, "emotion_dialogue.csv"), "rb") as handle:
        table = handle.read().decode("cp949").splitlines()
    everyday = [plan for plan in plans if plan.category == "normal_indoor"]
    assert table[0].startswith("wav_id,발화문,상황,1번 감정,1번 감정세기")
    assert [line.split(",")[0] for line in table[1:]] == [plan.call_id for plan in everyday]
    for plan in plans:
        label_path = os.path.join(aihub_archive, "audio", f"{plan.call_id}.json")
        assert os.path.exists(label_path) == (plan not in everyday)
    fire = next(plan for plan in plans if plan.category == "fire" and plan.label == "emergency")
    with open(os.path.join(aihub_archive, "audio", f"{fire.call_id}.json"),
              encoding="utf-8") as handle:
        label = json.load(handle)
    assert (label["disasterLarge"], label["disasterMedium"]) == ("소방안전", "화재")
    assert (label["startedAt"], label["callerId"], label["line"]) == (
        fire.started_at, fire.caller_id, fire.line)
    assert [u["speaker"] for u in label["utterances"]][0] == 0


def test_an_aihub_archive_trains_and_evaluates_with_no_conversion(aihub_archive, aihub_bundle,
                                                                   tmp_path):
    plans = corpus.plan_corpus(n_calls=CALLS, seed=SEED)
    bundle_dir, cache = aihub_bundle

    training = load_bundle(bundle_dir).metadata["training"]
    # every call labelled, as planned, from its JSON label or the emotion table
    trained = collections.Counter()
    for size in training["splits"].values():
        trained.update({label: size[label] for label in ("emergency", "normal", "prank")})
    assert trained == collections.Counter(plan.label for plan in plans)
    sources = training["data_sources"]
    assert sources["labels"] == {
        "aihub_119": sum(plan.category != "normal_indoor" for plan in plans),
        "emotion_dialogue": sum(plan.category == "normal_indoor" for plan in plans)}
    assert sources["aihub_labels"]["mapping"] == "transforms/data/aihub_labels.toml"
    assert sources["aihub_labels"]["problems"] == {}
    with open(os.path.join(bundle_dir, "MODEL_CARD.md"), encoding="utf-8") as handle:
        card = handle.read()
    assert "AI Hub's terms of use (aihub.or.kr)" in card
    assert "감정 분류를 위한 대화 음성" in card and "화재 → fire" in card

    metrics_path = str(tmp_path / "metrics.json")
    assert main(["evaluate", "--archive", aihub_archive, "--bundle", bundle_dir,
                 "--split", "all", "--out", metrics_path, "--cache-dir", cache]) == 0
    with open(metrics_path, encoding="utf-8") as handle:
        metrics = json.load(handle)
    assert metrics["n_calls"] == CALLS and metrics["n_errors"] == 0
    assert metrics["flagged_by_label"].keys() == {"emergency", "normal", "prank"}
    # synth gives 119 emergencies urgency 상 and 112 ones 중
    urgent = collections.Counter("상" if plan.line == "119" else "중" for plan in plans
                                 if plan.label == "emergency")
    assert {level: entry["emergencies"] for level, entry in
            metrics["recall_by_urgency"].items()} == dict(urgent)


def test_an_edited_mapping_changes_the_labels_and_reports_what_it_leaves_out(
        aihub_archive, aihub_bundle, tmp_path, capfd):
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('format = "call-triage-aihub-labels"\nversion = 1\n'
                       '[disasterMedium]\n"화재" = "fire"\n[disasterLarge]\n"소방안전" = "emergency"\n',
                       encoding="utf-8")
    plans = corpus.plan_corpus(n_calls=CALLS, seed=SEED)
    fires = [plan for plan in plans if plan.category == "fire" and plan.label == "emergency"]
    out = str(tmp_path / "metrics.json")
    bundle_dir, cache = aihub_bundle
    assert main(["evaluate", "--archive", aihub_archive, "--bundle", bundle_dir, "--split",
                 "all", "--out", out, "--aihub-labels", str(mapping), "--cache-dir", cache]) == 0
    with open(out, encoding="utf-8") as handle:
        metrics = json.load(handle)
    # only the fire emergencies and the everyday calls of the emotion table keep a label
    assert metrics["n_calls"] == len(fires) + sum(p.category == "normal_indoor" for p in plans)
    unmapped = [line for line in capfd.readouterr().err.splitlines()
                if "unmapped AI Hub label" in line]
    assert len(unmapped) == CALLS - len(fires) - sum(p.category == "normal_indoor" for p in plans)


def test_the_nightly_job_reads_the_call_metadata_of_aihub_labels(aihub_archive, tmp_path):
    plans = corpus.plan_corpus(n_calls=CALLS, seed=SEED)
    out = str(tmp_path / "reports")
    assert main(["run", "--archive", aihub_archive, "--out", out, "--run-date", "2026-12-05",
                 "--no-report"]) == 0
    calls = duckdb.sql(f"SELECT call_id, started_at, line, caller_hash FROM read_parquet("
                       f"'{out}/calls/*/*.parquet')").fetchall()
    by_id = {call_id: (started, line, caller) for call_id, started, line, caller in calls}
    assert len(by_id) == CALLS
    callers = collections.defaultdict(set)
    for plan in plans:
        started, line, caller = by_id[plan.call_id]
        if plan.category == "normal_indoor":  # an emotion-table row has no metadata
            assert (started, line, caller) == (None, None, None)
            continue
        assert started == datetime.datetime.fromisoformat(plan.started_at)
        assert line == plan.line and caller is not None
        callers[plan.caller_id].add(caller)
    # one hash per caller, so the repeat-caller rule sees a caller's calls together
    assert all(len(hashes) == 1 for hashes in callers.values())
    assert len({next(iter(h)) for h in callers.values()}) == len(callers)
