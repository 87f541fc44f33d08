"""Tests of models.evaluate: metric functions on known arrays, and `call-triage evaluate`."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from models.aggregate import CallScores
from models.bundle import load_bundle, read_bundle_metadata
from models.precision import PRECISION_CHECKS_KEY, native_bfloat16, resolve_precision
from models.dataset import read_labels, relabel
from models.evaluate import (
    binary_metrics,
    calibration,
    call_errors,
    category_confusion,
    choose_threshold,
    choose_thresholds,
    compare_precisions,
    confusion,
    log_loss,
    recall_by_urgency,
    roc_auc,
    score_curves,
)
from models.plots import curve_svgs
from transforms.features import CallFeatures
from transforms.records import CallRecord
from pipelines.cli import main
from transforms.errors import ConfigError


def test_roc_auc_known_values():
    assert roc_auc(labels=[0, 0, 1, 1], scores=[0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc(labels=[1, 1, 0, 0], scores=[0.9, 0.8, 0.2, 0.1]) == 1.0
    assert roc_auc(labels=[1, 1, 0, 0], scores=[0.1, 0.2, 0.8, 0.9]) == 0.0
    # ties between classes count one half
    assert roc_auc(labels=[1, 0], scores=[0.5, 0.5]) == pytest.approx(0.5)
    assert roc_auc(labels=[1, 1, 0], scores=[0.7, 0.5, 0.5]) == pytest.approx(0.75)
    assert roc_auc(labels=[1, 1], scores=[0.2, 0.3]) is None


def test_roc_auc_matches_the_pairwise_definition():
    rng = np.random.default_rng(0)
    labels = rng.random(300) < 0.3
    scores = np.round(rng.random(300) + 0.3 * labels, 2)  # rounded: many ties
    pos, neg = scores[labels], scores[~labels]
    pairwise = np.mean((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :]))
    assert roc_auc(labels=labels, scores=scores) == pytest.approx(pairwise)


def test_confusion_and_binary_metrics():
    labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    scores = [0.9, 0.8, 0.6, 0.2, 0.7, 0.3, 0.1, 0.1, 0.0, 0.4]
    assert confusion(labels=labels, predicted=np.array(scores) >= 0.5) == {
        "tp": 3, "fp": 1, "fn": 1, "tn": 5}
    metrics = binary_metrics(labels=labels, scores=scores, threshold=0.5)
    assert metrics["accuracy"] == pytest.approx(0.8)
    assert metrics["precision"] == pytest.approx(0.75)
    assert metrics["recall"] == pytest.approx(0.75)
    assert metrics["f1"] == pytest.approx(0.75)
    assert metrics["roc_auc"] == pytest.approx(20 / 24)
    assert metrics["confusion_matrix"]["fp"] == 1 and metrics["positives"] == 4
    nothing_flagged = binary_metrics(labels=labels, scores=scores, threshold=0.95)
    assert nothing_flagged["precision"] is None and nothing_flagged["recall"] == 0.0
    with pytest.raises(ConfigError, match="differ"):
        binary_metrics(labels=[1, 0], scores=[0.5], threshold=0.5)


def test_log_loss():
    assert log_loss(labels=[1, 0], scores=[0.5, 0.5]) == pytest.approx(np.log(2))
    assert log_loss(labels=[1], scores=[1.0]) == pytest.approx(0.0, abs=1e-6)
    assert log_loss(labels=[1], scores=[0.0]) == pytest.approx(-np.log(1e-7))


def test_choose_threshold_keeps_recall_with_fewest_false_alarms():
    # 100 positives at 0.50..0.99, negatives at 0.005 and 0.6 and 0.95
    positives = np.linspace(0.50, 0.99, 100)
    negatives = np.array([0.005, 0.6, 0.95])
    labels = np.r_[np.ones(100, bool), np.zeros(3, bool)]
    scores = np.r_[positives, negatives]
    threshold = choose_threshold(labels=labels, scores=scores, min_recall=0.98)
    flagged = scores >= threshold
    recall = flagged[labels].mean()
    assert recall >= 0.98
    # the 98th positive is 0.51; no negative lies between 0.005 and it, so every positive
    # can be flagged at no extra cost: midway between 0.005 and the lowest positive
    assert threshold == pytest.approx((0.005 + 0.50) / 2)
    assert recall == 1.0 and flagged[~labels].sum() == 2  # 0.6 and 0.95 cannot be avoided


def test_choose_threshold_is_the_largest_cut_when_a_negative_sits_below():
    labels = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    scores = np.r_[np.linspace(0.3, 1.0, 50), np.linspace(0.0, 0.35, 50)]
    threshold = choose_threshold(labels=labels, scores=scores, min_recall=0.98)
    flagged = scores >= threshold
    assert flagged[labels].mean() >= 0.98
    # any larger threshold loses recall below 0.98
    larger = scores[labels][scores[labels] > threshold]
    assert (scores[labels] >= larger.min() + 1e-9).mean() < 0.98
    # among cuts with recall >= 0.98 it flags the fewest negatives
    for cut in np.linspace(0, 1, 201):
        if (scores[labels] >= cut).mean() >= 0.98:
            assert (scores[~labels] >= cut).sum() >= flagged[~labels].sum()


def test_choose_threshold_separable_lands_between_the_classes():
    threshold = choose_threshold(labels=[1, 1, 1, 0, 0], scores=[0.99, 0.97, 0.9, 0.1, 0.02],
                                 min_recall=0.98)
    assert threshold == pytest.approx((0.1 + 0.9) / 2)
    with pytest.raises(ConfigError, match="no positive"):
        choose_threshold(labels=[0, 0], scores=[0.1, 0.2], min_recall=0.98)
    with pytest.raises(ConfigError, match="min_recall"):
        choose_threshold(labels=[1], scores=[0.1], min_recall=0.0)


EXPECTED_KEYS = {
    "archive", "split", "model_name", "model_version", "n_errors", "n_calls", "n_windows",
    "calls_by_label", "n", "positives", "threshold", "accuracy", "precision", "recall", "f1",
    "roc_auc", "confusion_matrix", "flagged_by_label", "window_loss", "calibration",
    "category", "prank",
    "inference_precision", "missed_emergencies", "false_alarms", "recall_by_urgency",
    "category_confusion", "curves",
}


def test_evaluate_cli_writes_call_level_metrics(tiny_bundle, tiny_archive, feature_cache,
                                                tmp_path, capsys):
    out = tmp_path / "metrics.json"
    status = main(["evaluate", "--bundle", tiny_bundle, "--archive", tiny_archive,
                   "--split", "test", "--out", str(out), "--cache-dir", feature_cache])
    assert status == 0
    metrics = json.loads(out.read_text(encoding="utf-8"))
    assert set(metrics) == EXPECTED_KEYS
    assert metrics["split"] == "test" and metrics["model_name"] == "multimodal"
    assert metrics["inference_precision"] == resolve_precision(
        "auto", metadata=read_bundle_metadata(tiny_bundle), native=native_bfloat16())[0]
    assert metrics["n_calls"] == 6 and metrics["n_windows"] == 6
    assert sum(metrics["confusion_matrix"].values()) == 6
    assert metrics["accuracy"] >= 5 / 6
    assert metrics["calls_by_label"] == {"emergency": 3, "normal": 3, "prank": 0}
    categories = metrics["category"]["per_category"]
    assert sum(entry["n"] for entry in categories.values()) == 6
    assert set(categories) <= {"fire", "robbery", "medical", "normal_indoor", "normal_outdoor"}
    assert set(metrics["prank"]) >= {"precision", "recall", "roc_auc", "confusion_matrix"}
    printed = capsys.readouterr().out
    assert "accuracy" in printed and "true emergency" in printed

    assert metrics["curves"]["roc"]["tpr"][-1] == 1.0
    assert len(metrics["missed_emergencies"]) == metrics["confusion_matrix"]["fn"]
    assert len(metrics["false_alarms"]) == metrics["confusion_matrix"]["fp"]
    assert sum(map(sum, metrics["category_confusion"]["matrix"])) == 6

    all_calls = tmp_path / "all.json"
    assert main(["evaluate", "--bundle", tiny_bundle, "--archive", tiny_archive,
                 "--split", "all", "--out", str(all_calls), "--cache-dir", feature_cache]) == 0
    assert json.loads(all_calls.read_text(encoding="utf-8"))["n_calls"] == 24


def test_evaluate_cli_reports_a_missing_bundle(tiny_archive, tmp_path, capsys):
    status = main(["evaluate", "--bundle", str(tmp_path / "nope"), "--archive", tiny_archive])
    assert status == 2
    assert "does not exist" in capsys.readouterr().err


def _scores(emergency: float, prank: float | None, category: str = "fire") -> CallScores:
    return CallScores(emergency_score=emergency, audio_score=None if prank is None else 0.2,
                      text_score=None if prank is None else 0.9, prank_score=prank,
                      category=category, category_score=0.6, evidence_start_s=0.0,
                      evidence_end_s=7.0, evidence_window_index=0, n_windows=1)


def test_compare_precisions_counts_calls_that_cross_a_threshold_or_change_category():
    reference = [_scores(0.50, 0.10), _scores(0.70, 0.69), _scores(0.20, 0.95, "theft")]
    candidate = [_scores(0.49, 0.10), _scores(0.71, 0.70), _scores(0.23, 0.95, "robbery")]

    check = compare_precisions(reference=reference, candidate=candidate,
                               thresholds={"emergency": 0.5, "prank": 0.7})

    assert check["calls"] == 3
    assert check["decisions_changed"] == {"emergency": 1, "prank": 1, "category": 1}
    assert check["max_score_change"] == {"emergency": pytest.approx(0.03),
                                         "audio": 0.0, "text": 0.0, "prank": pytest.approx(0.01)}
    audio_only = compare_precisions(reference=[_scores(0.4, None)],
                                    candidate=[_scores(0.6, None)],
                                    thresholds={"emergency": 0.5, "prank": 0.7})
    assert audio_only["decisions_changed"] == {"emergency": 1, "category": 0}
    assert audio_only["max_score_change"] == {"emergency": pytest.approx(0.2)}
    with pytest.raises(ConfigError, match="cannot compare 1 calls with 3"):
        compare_precisions(reference=reference, candidate=candidate[:1],
                           thresholds={"emergency": 0.5})


def test_train_records_a_bfloat16_check_and_check_precision_reproduces_it(
        tiny_bundle, tiny_archive, feature_cache, tmp_path, capsys):
    bundle = str(tmp_path / "bundle")
    shutil.copytree(tiny_bundle, bundle)
    metadata = read_bundle_metadata(bundle)
    trained = metadata[PRECISION_CHECKS_KEY]["bfloat16"]
    assert trained["split"] == "validation"
    assert trained["calls"] == metadata["training"]["splits"]["validation"]["calls"]
    assert set(trained["decisions_changed"]) == set(metadata["thresholds"]) | {"category"}
    assert 0 < max(trained["max_score_change"].values()) < 0.05  # bfloat16 really ran
    with open(f"{bundle}/MODEL_CARD.md", encoding="utf-8") as handle:
        assert f"bfloat16 on the validation split ({trained['calls']} calls)" in handle.read()
    capsys.readouterr()

    assert main(["check-precision", "--bundle", bundle, "--archive", tiny_archive,
                 "--split", "test", "--dry-run", "--cache-dir", feature_cache]) == 0
    assert "on the test split (6 calls, 6 windows)" in capsys.readouterr().out
    assert read_bundle_metadata(bundle)[PRECISION_CHECKS_KEY]["bfloat16"] == trained

    assert main(["check-precision", "--bundle", bundle, "--archive", tiny_archive,
                 "--cache-dir", feature_cache]) == 0
    printed = capsys.readouterr().out
    assert "decisions changed: emergency" in printed and f"recorded in {bundle}" in printed
    checked = load_bundle(bundle).metadata[PRECISION_CHECKS_KEY]["bfloat16"]
    assert checked["archive"] == tiny_archive and checked["checked_at"] >= trained["checked_at"]
    assert checked["decisions_changed"] == trained["decisions_changed"]
    for head, change in trained["max_score_change"].items():
        assert checked["max_score_change"][head] == pytest.approx(change, abs=1e-5)


def _call(call_id: str, label: str, category: str | None,
          urgency_level: str | None = None) -> CallFeatures:
    return CallFeatures(
        record=CallRecord(call_id=call_id, audio_uri=f"{call_id}.wav", source_uri="m.csv",
                          label=label, category=category, urgency_level=urgency_level),
        log_mel=np.zeros((1, 2, 3), np.float32), window_starts_s=np.zeros(1, np.float32),
        tokens=(), duration_s=7.0, sample_rate_hz=8000, n_channels=1)


def test_call_errors_list_the_missed_emergencies_and_the_false_alarms_worst_first():
    calls = [_call("e1", "emergency", "fire"), _call("e2", "emergency", "gas"),
             _call("e3", "emergency", "fall"), _call("n1", "normal", "normal_indoor"),
             _call("p1", "prank", "fire"), _call("n2", "normal", "normal_outdoor")]
    scores = [_scores(0.29, 0.1), _scores(0.05, 0.1, "gas"), _scores(0.30, 0.1),
              _scores(0.31, 0.1, "normal_indoor"), _scores(0.90, 0.8), _scores(0.1, 0.1)]

    errors = call_errors(calls=calls, scores=scores, threshold=0.30)

    assert [row["call_id"] for row in errors["missed_emergencies"]] == ["e2", "e1"]
    assert [row["call_id"] for row in errors["false_alarms"]] == ["p1", "n1"]
    assert errors["missed_emergencies"][0] == {
        "call_id": "e2", "label": "emergency", "category": "gas", "urgency_level": None,
        "predicted_category": "gas", "emergency_score": 0.05, "audio_score": 0.2,
        "text_score": 0.9, "prank_score": 0.1}


def test_recall_by_urgency_counts_the_emergencies_of_each_level_most_urgent_first():
    calls = [_call("e1", "emergency", "fire", "하"), _call("e2", "emergency", "gas", "상"),
             _call("e3", "emergency", "fall", "상"), _call("e4", "emergency", "fall"),
             _call("n1", "normal", "normal_indoor", "하"), _call("p1", "prank", None, "상")]
    scores = [_scores(0.9, 0.1), _scores(0.05, 0.1), _scores(0.5, 0.1), _scores(0.9, 0.1),
              _scores(0.9, 0.1), _scores(0.9, 0.1)]

    by_level = recall_by_urgency(calls=calls, scores=scores, threshold=0.30)

    # only emergencies with a level count; 상 before 하
    assert list(by_level.items()) == [
        ("상", {"emergencies": 2, "flagged": 1, "recall": 0.5}),
        ("하", {"emergencies": 1, "flagged": 1, "recall": 1.0})]
    assert recall_by_urgency(calls=calls[3:4], scores=scores[3:4], threshold=0.3) == {}


def test_category_confusion_counts_true_against_predicted_emergency_and_normal_calls():
    calls = [_call("a", "emergency", "fire"), _call("b", "emergency", "fire"),
             _call("c", "normal", "normal_indoor"), _call("d", "prank", "gas"),
             _call("e", "emergency", None)]
    scores = [_scores(0.9, 0.1, "fire"), _scores(0.9, 0.1, "gas"),
              _scores(0.1, 0.1, "fire"), _scores(0.9, 0.9, "gas"), _scores(0.9, 0.1, "fall")]

    table = category_confusion(calls=calls, scores=scores)

    # the prank and the call without a category do not count; taxonomy order
    assert table == {"categories": ["gas", "fire", "normal_indoor"],
                     "matrix": [[0, 0, 0], [1, 1, 0], [0, 1, 0]]}


def test_score_curves_and_their_svg_plots():
    curves = score_curves(labels=[0, 0, 1, 1], scores=[0.1, 0.4, 0.35, 0.8])
    assert curves["roc"]["fpr"] == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert curves["roc"]["tpr"] == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert curves["roc"]["thresholds"][0] is None
    assert curves["average_precision"] == pytest.approx(0.8333, abs=1e-4)
    assert score_curves(labels=[1, 1], scores=[0.2, 0.3]) is None

    figures = curve_svgs(curves, title="test", threshold=0.35)
    assert set(figures) == {"roc.svg", "pr.svg"}
    for svg in figures.values():
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "threshold 0.350" in svg


def test_read_labels_validates_each_row_and_relabel_replaces_the_archives_labels(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("call_id,label,category,event_start_s,event_end_s,notes\n"
                    "a,emergency,fire,1.5,4,x\nb,normal,,,,\n", encoding="utf-8")
    labels = read_labels(str(path))
    assert labels == {
        "a": {"label": "emergency", "category": "fire", "split": None,
              "event_start_s": 1.5, "event_end_s": 4.0},
        "b": {"label": "normal", "category": None, "split": None,
              "event_start_s": None, "event_end_s": None}}

    calls = relabel([_call("a", "normal", "normal_indoor"), _call("z", "emergency", "gas")],
                    labels)
    assert [(c.record.label, c.record.category) for c in calls] == [
        ("emergency", "fire"), (None, None)]
    with pytest.raises(ConfigError, match="none of the archive"):
        relabel([_call("z", "emergency", "gas")], labels)

    for body, message in [("call_id,category\na,fire\n", "lack the column"),
                          ("call_id,label\na,urgent\n", "line 2: label must be one of"),
                          ("call_id,label,category\na,normal,kitchen\n", "not a slug"),
                          ("call_id,label\na,normal\na,prank\n", "line 3: call_id 'a' is "
                                                                     "labelled twice"),
                          ("call_id,label,event_start_s\na,normal,soon\n", "not a number")]:
        path.write_text(body, encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            read_labels(str(path))


def test_evaluate_cli_takes_a_label_file_and_writes_plots(tiny_bundle, tiny_archive,
                                                         feature_cache, tmp_path, capsys):
    labels = tmp_path / "labels.csv"
    # the test split's calls, two of them with their labels swapped
    rows = ["call_id,label,category"]
    for i in range(3):
        rows.append(f"test-emergency-{i},{'normal' if i == 0 else 'emergency'},")
        rows.append(f"test-normal-{i},{'emergency' if i == 0 else 'normal'},")
    labels.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out, plots = tmp_path / "metrics.json", tmp_path / "plots"

    assert main(["evaluate", "--bundle", tiny_bundle, "--archive", tiny_archive,
                 "--labels", str(labels), "--split", "all", "--out", str(out),
                 "--plots", str(plots), "--cache-dir", feature_cache]) == 0

    metrics = json.loads(out.read_text(encoding="utf-8"))
    assert metrics["n_calls"] == 6
    assert {row["call_id"] for row in metrics["missed_emergencies"]} >= {"test-normal-0"}
    assert {row["call_id"] for row in metrics["false_alarms"]} >= {"test-emergency-0"}
    assert sorted(p.name for p in plots.iterdir()) == ["pr.svg", "roc.svg"]
    printed = capsys.readouterr().out
    assert "missed emergencies:" in printed and "test-normal-0" in printed


def test_calibration_compares_scores_with_the_share_of_positives_in_each_bin():
    # bin [0.1, 0.2): 4 calls scored 0.15, 1 positive; bin [0.9, 1]: 2 calls at 0.95, both
    labels = [1, 0, 0, 0, 1, 1]
    scores = [0.15, 0.15, 0.15, 0.15, 0.95, 0.95]

    curve = calibration(labels=labels, scores=scores)

    assert curve["calls"] == [4, 2]
    assert curve["mean_score"] == [0.15, 0.95]
    assert curve["fraction_positive"] == [0.25, 1.0]
    assert curve["ece"] == pytest.approx((4 * 0.10 + 2 * 0.05) / 6, abs=1e-4)
    perfect = calibration(labels=[0, 1] * 50, scores=[0.5] * 100)
    assert perfect["ece"] == 0.0


def test_the_emergency_threshold_keeps_the_recall_target_asked_for():
    labels = ["emergency"] * 4 + ["normal"] * 2
    calls = [CallFeatures(record=CallRecord(call_id=f"c{i}", audio_uri=f"c{i}.wav",
                                            source_uri="m", label=label),
                          log_mel=np.zeros((1, 1, 1), np.float32),
                          window_starts_s=np.zeros(1, np.float32), tokens=(),
                          duration_s=7.0, sample_rate_hz=8000, n_channels=1)
             for i, label in enumerate(labels)]
    scores = [_scores(value, None) for value in (0.9, 0.8, 0.6, 0.2, 0.3, 0.1)]

    every = choose_thresholds(calls=calls, scores=scores)  # recall >= 0.98: all four
    half = choose_thresholds(calls=calls, scores=scores, recall_target=0.5)

    assert every["emergency"] <= 0.2  # all four, and so a false alarm at 0.3
    # half of them suffice: no false alarm, and as many emergencies as that allows
    assert 0.3 < half["emergency"] <= 0.6
