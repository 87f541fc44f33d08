"""Tests of models.dataset and models.train: targets, feature cache, a short training run."""

from __future__ import annotations

import csv
import dataclasses
import datetime
import json
import os
import shutil

import numpy as np
import pytest

from models import dataset
from models.builders import DEFAULT_AUDIO_POOLING
from models.bundle import MODEL_CARD_FILE, load_bundle
from models.precision import PRECISION_CHECKS_KEY
from models.dataset import (
    balanced_weights,
    call_targets,
    event_windows,
    load_archive_features,
    split_calls,
    window_set,
)
from models.batches import (TrainingBatches, drop_unread_gate_weights, roll_frames,
                            swap_transcripts)
from models.model_card import model_card
from models import DEFAULT_BUNDLE
from models.train import (CallLevelValidation, TrainOptions, missing_labels, model_version,
                          train_bundle, with_reviewed)
from pipelines.cli import main
from tests.models.conftest import TINY_EPOCHS
from transforms import spec
from transforms.errors import ConfigError
from transforms.features import CallFeatures
from transforms.records import CallRecord
from transforms.spec import DEFAULT_FEATURES
from tests.calls import flat_call
from transforms.vocabulary import Vocabulary


def fake_call(*, label: str, category: str | None, n_windows: int, duration_s: float,
              event: tuple[float, float] | None = None, call_id: str = "c1") -> CallFeatures:
    """A call with 7-s windows every 7 s and zero log-mel (only targets are computed)."""
    record = CallRecord(call_id=call_id, audio_uri=f"{call_id}.wav", source_uri="manifest.csv",
                        label=label, category=category, split="train",
                        event_start_s=None if event is None else event[0],
                        event_end_s=None if event is None else event[1])
    return CallFeatures(record=record, log_mel=np.zeros((n_windows, 4, 3), np.float16),
                        window_starts_s=7.0 * np.arange(n_windows, dtype=np.float32),
                        tokens=("불", "나다"), duration_s=duration_s, sample_rate_hz=8000,
                        n_channels=1)


# --- per-window targets -------------------------------------------------------------------

def test_long_call_event_in_the_middle_marks_only_its_windows():
    # windows [0,7] [7,14] [14,21] [21,28] [28,33]; event [16, 19] lies inside window 2
    call = fake_call(label="emergency", category="fire", n_windows=5, duration_s=33.0,
                     event=(16.0, 19.0))
    targets, weights = call_targets(call, window_s=7.0)
    expected = np.array([0, 0, 1, 0, 0], np.float32)
    np.testing.assert_array_equal(targets[spec.EMERGENCY_OUTPUT][:, 0], expected)
    np.testing.assert_array_equal(targets[spec.AUDIO_OUTPUT][:, 0], expected)
    np.testing.assert_array_equal(targets[spec.TEXT_OUTPUT][:, 0], np.ones(5))
    np.testing.assert_array_equal(targets[spec.PRANK_OUTPUT][:, 0], np.zeros(5))
    assert targets[spec.CATEGORY_OUTPUT].tolist() == [spec.CATEGORIES.index("fire")] * 5
    np.testing.assert_array_equal(weights[spec.CATEGORY_OUTPUT], expected)  # masked elsewhere
    np.testing.assert_array_equal(weights[spec.EMERGENCY_OUTPUT], np.ones(5))


def test_event_overlap_rule_half_window_or_half_event():
    starts = 7.0 * np.arange(5)
    # event [12, 24]: window 1 overlaps 2 s (< 3.5, < 6), window 2 fully (7 s),
    # window 3 overlaps 3 s (< 3.5 = half window, < 6 = half event)
    holds = event_windows(window_starts_s=starts, window_s=7.0, duration_s=35.0,
                          event_start_s=12.0, event_end_s=24.0)
    assert holds.tolist() == [False, False, True, False, False]
    # event [10, 25]: window 3 now overlaps 4 s >= half a window
    holds = event_windows(window_starts_s=starts, window_s=7.0, duration_s=35.0,
                          event_start_s=10.0, event_end_s=25.0)
    assert holds.tolist() == [False, True, True, True, False]
    # a 2-s event across a window boundary: the window with >= 1 s (half the event) holds it
    holds = event_windows(window_starts_s=starts, window_s=7.0, duration_s=35.0,
                          event_start_s=13.0, event_end_s=15.0)
    assert holds.tolist() == [False, True, True, False, False]
    # the short last window [28, 30] counts as 2 s long
    holds = event_windows(window_starts_s=starts, window_s=7.0, duration_s=30.0,
                          event_start_s=28.5, event_end_s=40.0)
    assert holds.tolist() == [False, False, False, False, True]
    with pytest.raises(ConfigError, match="event"):
        event_windows(window_starts_s=starts, window_s=7.0, duration_s=35.0,
                      event_start_s=9.0, event_end_s=3.0)


@pytest.mark.parametrize("label, emergency, text, prank", [
    ("emergency", 1, 1, 0), ("normal", 0, 0, 0), ("prank", 0, 1, 1)])
def test_targets_by_label_without_event(label, emergency, text, prank):
    call = fake_call(label=label, category="medical", n_windows=2, duration_s=10.0)
    targets, weights = call_targets(call, window_s=7.0)
    assert targets[spec.EMERGENCY_OUTPUT][:, 0].tolist() == [emergency] * 2
    assert targets[spec.TEXT_OUTPUT][:, 0].tolist() == [text] * 2
    assert targets[spec.PRANK_OUTPUT][:, 0].tolist() == [prank] * 2
    assert weights[spec.CATEGORY_OUTPUT].tolist() == [1.0, 1.0]


def test_unknown_category_is_masked_and_unlabelled_call_refused():
    _, weights = call_targets(fake_call(label="normal", category=None, n_windows=2,
                                        duration_s=9.0), window_s=7.0)
    assert weights[spec.CATEGORY_OUTPUT].tolist() == [0.0, 0.0]
    with pytest.raises(ConfigError, match="label"):
        call_targets(fake_call(label=None, category=None, n_windows=1, duration_s=3.0),
                     window_s=7.0)


def test_balanced_weights():
    weights = balanced_weights(np.array([[1], [0], [0], [0]], np.float32))
    np.testing.assert_allclose(weights, [2.0, 2 / 3, 2 / 3, 2 / 3])
    assert weights[0] * 1 == pytest.approx(weights[1:].sum())  # both classes weigh the same
    np.testing.assert_array_equal(balanced_weights(np.zeros((3, 1))), np.ones(3))


def test_split_calls_uses_the_column_or_a_stable_hash():
    calls = [fake_call(label="normal", category=None, n_windows=1, duration_s=3.0,
                       call_id=f"call-{i}") for i in range(200)]
    unsplit = [dataclasses.replace(call, record=dataclasses.replace(call.record, split=None))
               for call in calls]
    assert len(split_calls(calls)["train"]) == 200
    groups = split_calls(unsplit)
    assert sum(len(group) for group in groups.values()) == 200
    assert 120 <= len(groups["train"]) <= 190 and groups["validation"] and groups["test"]
    assert split_calls(unsplit) == groups  # stable


def test_window_set_stacks_calls_and_keeps_their_windows():
    config = DEFAULT_FEATURES
    calls = [fake_call(label="emergency", category="fire", n_windows=3, duration_s=20.0,
                       call_id="a"),
             fake_call(label="normal", category="normal_indoor", n_windows=1, duration_s=5.0,
                       call_id="b")]
    calls = [dataclasses.replace(call, log_mel=np.zeros(
        (call.n_windows, config.n_mels, config.n_frames), np.float16)) for call in calls]
    vocab = Vocabulary.build([call.tokens for call in calls], min_freq=1)
    windows = window_set(calls, vocab=vocab, config=config,
                         input_names=(spec.LOGMEL_INPUT, spec.TOKENS_INPUT))
    assert windows.n_windows == 4
    assert windows.inputs[spec.LOGMEL_INPUT].shape == (4, config.n_mels, config.n_frames, 1)
    assert windows.call_index.tolist() == [0, 0, 0, 1]
    assert windows.call_windows() == [slice(0, 3), slice(3, 4)]
    assert windows.targets[spec.EMERGENCY_OUTPUT][:, 0].tolist() == [1, 1, 1, 0]
    assert windows.inputs[spec.TOKENS_INPUT][0, :2].tolist() == [vocab.id_of("불"),
                                                                 vocab.id_of("나다")]



def test_call_level_validation_needs_both_kinds_of_call():
    config = DEFAULT_FEATURES
    calls = [dataclasses.replace(
        fake_call(label="normal", category="normal_indoor", n_windows=1, duration_s=5.0,
                  call_id=call_id),
        log_mel=np.zeros((1, config.n_mels, config.n_frames), np.float16)) for call_id in "ab"]
    vocab = Vocabulary.build([call.tokens for call in calls], min_freq=1)
    windows = window_set(calls, vocab=vocab, config=config,
                         input_names=(spec.LOGMEL_INPUT, spec.TOKENS_INPUT))
    with pytest.raises(ConfigError, match="emergency and other calls"):
        CallLevelValidation(windows=windows, name="multimodal", vocabulary=vocab,
                            config=config)

# --- features and their cache ------------------------------------------------------------

def test_features_are_cached_and_read_back_identically(tiny_archive, tmp_path):
    first = load_archive_features(tiny_archive, config=DEFAULT_FEATURES,
                                  cache_dir=str(tmp_path), workers=1)
    cached = os.listdir(tmp_path)
    assert len(cached) == 1 and cached[0].endswith(".npz")
    assert len(first.calls) == 24 and not first.errors
    assert first.calls[0].log_mel.dtype == np.float16
    long_call = next(c for c in first.calls if c.record.event_start_s is not None)
    assert long_call.n_windows == 3 and long_call.duration_s == pytest.approx(21.0)
    assert long_call.tokens and "불" in long_call.tokens

    def fail(*args, **kwargs):
        raise AssertionError("features were extracted again instead of read from the cache")

    original = dataset.extract_features
    dataset.extract_features = fail
    try:
        again = load_archive_features(tiny_archive, config=DEFAULT_FEATURES,
                                      cache_dir=str(tmp_path), workers=1)
    finally:
        dataset.extract_features = original
    assert [c.record for c in again.calls] == [c.record for c in first.calls]
    for a, b in zip(first.calls, again.calls):
        np.testing.assert_array_equal(a.log_mel, b.log_mel)
        np.testing.assert_array_equal(a.window_starts_s, b.window_starts_s)
        assert (a.tokens, a.duration_s, a.sample_rate_hz) == (b.tokens, b.duration_s,
                                                             b.sample_rate_hz)


@pytest.fixture
def archive_copy(tiny_archive, tmp_path):
    """A copy of the tiny archive to edit, and a function loading its features through a
    fresh cache (``tmp_path / "cache"``)."""
    archive = tmp_path / "archive"
    shutil.copytree(tiny_archive, archive)

    def load():
        return load_archive_features(str(archive), config=DEFAULT_FEATURES,
                                     cache_dir=str(tmp_path / "cache"), workers=1)

    return archive, load


def test_a_relabelled_manifest_reuses_the_cache_and_a_changed_transcript_does_not(
        archive_copy, tmp_path):
    archive, load = archive_copy
    cache = tmp_path / "cache"
    load()
    manifest = archive / "manifest.csv"
    rows = list(csv.DictReader(manifest.open(encoding="utf-8")))

    def rewrite(**changes):
        rows[0].update(changes)
        with manifest.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        return load()

    relabelled = rewrite(label="normal", category="normal_indoor", split="test")
    assert len(os.listdir(cache)) == 1  # the same features, read back
    assert (relabelled.calls[0].record.label, relabelled.calls[0].record.split) == (
        "normal", "test")
    rewrite(transcript="사람이 쓰러졌어요")
    assert len(os.listdir(cache)) == 2  # extracted again: the tokens differ


def test_an_audio_file_rewritten_in_place_is_extracted_again(archive_copy, tmp_path):
    _, load = archive_copy
    first = load()
    rewritten, other = first.calls[0].record.audio_uri, first.calls[1].record.audio_uri
    assert first.calls[0].log_mel.shape != first.calls[1].log_mel.shape or not np.array_equal(
        first.calls[0].log_mel, first.calls[1].log_mel)
    shutil.copyfile(other, rewritten)  # the same path, another recording (as synth --overwrite)

    again = load()

    assert len(os.listdir(tmp_path / "cache")) == 2
    np.testing.assert_array_equal(again.calls[0].log_mel, first.calls[1].log_mel)


def test_failed_calls_are_reported_not_dropped(tiny_archive, tmp_path):
    root = tmp_path / "archive"
    root.mkdir()
    manifest = open(os.path.join(tiny_archive, "manifest.csv"), encoding="utf-8").read()
    lines = manifest.splitlines()
    (root / "manifest.csv").write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    (root / "audio").mkdir()
    first_audio = lines[1].split(",")[1]
    (root / first_audio).write_bytes(b"RIFF not really a wav")  # second row: file missing
    features = load_archive_features(str(root), config=DEFAULT_FEATURES, cache_dir=None,
                                     workers=1)
    assert features.calls == ()
    assert sorted(error.stage for error in features.errors) == ["decode", "read"]


# --- training --------------------------------------------------------------------------------

def test_short_training_learns_the_tiny_archive_and_writes_a_bundle(tiny_bundle):
    bundle = load_bundle(tiny_bundle)
    assert bundle.model_name == "multimodal"
    training = bundle.metadata["training"]
    assert training["splits"]["train"] == {"calls": 12, "windows": 14, "emergency": 6,
                                           "normal": 6, "prank": 0}
    assert training["epochs_run"] == TINY_EPOCHS and training["seed"] == 3
    assert training["parameter_count"] == bundle.model.count_params()
    assert training["audio_pooling"] == DEFAULT_AUDIO_POOLING["multimodal"]
    assert bundle.metadata["weights_origin"] == "random-init"
    assert bundle.model_version.startswith(bundle.metadata["created_at"][:10].replace("-", "."))
    history = bundle.metrics["training"]["history"]
    assert history["loss"][-1] < 0.7 * history["loss"][0]
    assert history["val_loss"][-1] < history["val_loss"][0]
    auc = history["val_call_auc"]  # the kept epoch is the one of the best validation AUC
    assert len(auc) == TINY_EPOCHS and training["best_epoch"] == int(np.argmax(auc)) + 1
    test = bundle.metrics["test"]
    assert test["n_calls"] == 6 and test["accuracy"] >= 5 / 6
    assert 0.0 < bundle.thresholds["emergency"] < 1.0
    assert bundle.metrics["validation"]["recall"] >= 0.98
    card = open(os.path.join(tiny_bundle, "MODEL_CARD.md"), encoding="utf-8").read()
    assert "synthetic" in card and bundle.model_version in card
    # no optimizer state in the shipped model: weights only
    assert os.path.getsize(os.path.join(tiny_bundle, "model.keras")) < \
        4.2 * bundle.model.count_params() + 200_000
    with open(os.path.join(tiny_bundle, "bundle.json"), encoding="utf-8") as handle:
        assert json.load(handle)["thresholds"] == bundle.thresholds


def test_training_batches_cover_every_window_and_blank_transcripts():
    n = 400
    tokens = np.tile(np.arange(2, 8, dtype=np.int32), (n, 1))
    window_ids = np.arange(n, dtype=np.float32)[:, np.newaxis]
    batches = TrainingBatches(
        inputs={spec.TOKENS_INPUT: tokens, spec.LOGMEL_INPUT: window_ids},
        targets={spec.EMERGENCY_OUTPUT: window_ids, spec.TEXT_OUTPUT: np.ones((n, 1))},
        weights={spec.EMERGENCY_OUTPUT: np.ones(n), spec.TEXT_OUTPUT: np.ones(n)},
        batch_size=64, seed=0, text_dropout=0.5, token_dropout=0.2)
    assert len(batches) == 7
    seen, blanked, oov, kept_tokens = [], 0, 0, 0
    for index in range(len(batches)):
        inputs, targets, weights = batches[index]
        rows = inputs[spec.LOGMEL_INPUT][:, 0]
        np.testing.assert_array_equal(targets[spec.EMERGENCY_OUTPUT][:, 0], rows)
        blank = (inputs[spec.TOKENS_INPUT] == 0).all(axis=1)
        assert weights[spec.TEXT_OUTPUT][blank].sum() == 0
        assert (weights[spec.TEXT_OUTPUT][~blank] == 1).all()
        kept = inputs[spec.TOKENS_INPUT][~blank]
        assert kept.min() >= 1 and kept.max() <= 7
        seen += rows.astype(int).tolist()
        blanked += int(blank.sum())
        oov += int((kept == 1).sum())
        kept_tokens += kept.size
    assert sorted(seen) == list(range(n))  # each window once per epoch
    assert 0.4 < blanked / n < 0.6 and 0.15 < oov / kept_tokens < 0.25
    assert tokens.min() == 2  # the training arrays themselves are left alone
    batches.on_epoch_end()
    assert not np.array_equal(batches[0][0][spec.LOGMEL_INPUT][:, 0], seen[:64])


def test_the_gate_learns_only_from_transcripts_it_reads_whole():
    n = 300
    tokens = np.zeros((n, 4), dtype=np.int32)
    tokens[:, :2] = 5
    tokens[::3] = [5, 6, 7, 8]  # every third transcript fills the input: maybe cut off
    ones = np.ones((n, 1))
    batches = TrainingBatches(
        inputs={spec.TOKENS_INPUT: tokens},
        targets={spec.EMERGENCY_OUTPUT: ones, spec.TEXT_OUTPUT: ones, spec.GATE_OUTPUT: ones},
        weights={name: np.ones(n) for name in (spec.EMERGENCY_OUTPUT, spec.TEXT_OUTPUT,
                                               spec.GATE_OUTPUT)},
        batch_size=100, seed=0, text_dropout=0.3, token_dropout=0.0)
    counts = {"blank": 0, "full": 0, "read": 0}
    for index in range(len(batches)):
        inputs, _, weights = batches[index]
        words = inputs[spec.TOKENS_INPUT]
        blank, full = (words == 0).all(axis=1), words[:, -1] != 0
        assert (weights[spec.GATE_OUTPUT][blank | full] == 0).all()
        assert (weights[spec.GATE_OUTPUT][~(blank | full)] == 1).all()
        # the LSTM's claim head still learns from long transcripts
        assert (weights[spec.TEXT_OUTPUT][full] == 1).all()
        assert (weights[spec.EMERGENCY_OUTPUT] == 1).all()
        counts["blank"] += int(blank.sum())
        counts["full"] += int(full.sum())
        counts["read"] += int((~(blank | full)).sum())
    assert all(count > 30 for count in counts.values()), counts

    weights = {spec.GATE_OUTPUT: np.ones(n), spec.TEXT_OUTPUT: np.ones(n)}
    drop_unread_gate_weights(weights, tokens)
    np.testing.assert_array_equal(weights[spec.GATE_OUTPUT], (tokens[:, -1] == 0).astype(float))
    np.testing.assert_array_equal(weights[spec.TEXT_OUTPUT], 1.0)


def test_swap_transcripts_moves_the_text_and_prank_targets_with_the_words():
    inputs = {spec.TOKENS_INPUT: np.array([[2, 3], [4, 5], [6, 7]], np.int32)}
    targets = {spec.EMERGENCY_OUTPUT: np.array([[1.0], [0.0], [0.0]]),
               spec.TEXT_OUTPUT: np.array([[1.0], [0.0], [1.0]]),
               spec.PRANK_OUTPUT: np.array([[0.0], [0.0], [1.0]])}

    swap_transcripts(inputs, targets, swapped=np.array([True, True, False]),
                     donor_tokens=np.array([[8, 9], [10, 11]], np.int32),
                     donor_targets={spec.TEXT_OUTPUT: np.array([[0.0], [1.0]])})

    np.testing.assert_array_equal(inputs[spec.TOKENS_INPUT], [[8, 9], [10, 11], [6, 7]])
    # Without a gate the verdict's target stays the window's own.
    np.testing.assert_array_equal(targets[spec.EMERGENCY_OUTPUT][:, 0], [1, 0, 0])
    np.testing.assert_array_equal(targets[spec.TEXT_OUTPUT][:, 0], [0, 1, 1])
    # Emergency audio under everyday words: no prank. Everyday audio under a claim: prank.
    np.testing.assert_array_equal(targets[spec.PRANK_OUTPUT][:, 0], [0, 1, 1])


def test_swap_transcripts_gates_the_verdict_by_the_donor_words():
    # Rows: emergency audio (x3), everyday audio, not swapped.
    inputs = {spec.TOKENS_INPUT: np.array([[2, 0], [4, 0], [4, 0], [6, 0], [8, 0]], np.int32)}
    audio = np.array([[1.0], [1.0], [1.0], [0.0], [1.0]])
    targets = {spec.EMERGENCY_OUTPUT: audio.copy(), spec.AUDIO_OUTPUT: audio.copy(),
               spec.TEXT_OUTPUT: np.array([[1.0], [1.0], [1.0], [0.0], [1.0]]),
               spec.GATE_OUTPUT: np.array([[1.0], [1.0], [1.0], [0.0], [1.0]]),
               spec.PRANK_OUTPUT: np.zeros((5, 1))}
    # Donors: a prank's words (claim, no real emergency), everyday words, everyday words
    # that fill the input (the gate does not read them), an emergency's words.
    donors = {spec.TEXT_OUTPUT: np.array([[1.0], [0.0], [0.0], [1.0]]),
              spec.GATE_OUTPUT: np.array([[0.0], [0.0], [0.0], [1.0]])}

    swap_transcripts(inputs, targets, swapped=np.array([True, True, True, True, False]),
                     donor_tokens=np.array([[10, 0], [12, 0], [12, 13], [14, 0]], np.int32),
                     donor_targets=donors)

    np.testing.assert_array_equal(targets[spec.GATE_OUTPUT][:, 0], [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(targets[spec.TEXT_OUTPUT][:, 0], [1, 0, 0, 1, 1])
    # The verdict needs emergency audio and words that report a real emergency; words
    # the gate does not read leave it to the audio.
    np.testing.assert_array_equal(targets[spec.EMERGENCY_OUTPUT][:, 0], [0, 0, 1, 0, 1])
    np.testing.assert_array_equal(targets[spec.AUDIO_OUTPUT][:, 0], [1, 1, 1, 0, 1])
    np.testing.assert_array_equal(targets[spec.PRANK_OUTPUT][:, 0], [0, 0, 0, 1, 0])


def test_training_batches_swap_transcripts_between_windows():
    n = 400
    window_ids = np.arange(n)
    claims = (window_ids % 2).astype(np.float32)[:, np.newaxis]  # odd windows' words claim
    emergency = (window_ids % 4 == 1).astype(np.float32)[:, np.newaxis]
    batches = TrainingBatches(
        inputs={spec.TOKENS_INPUT: np.repeat(window_ids[:, np.newaxis] + 2, 3, axis=1),
                spec.LOGMEL_INPUT: window_ids.astype(np.float32)[:, np.newaxis]},
        targets={spec.EMERGENCY_OUTPUT: emergency, spec.TEXT_OUTPUT: claims,
                 spec.PRANK_OUTPUT: claims * (1 - emergency)},
        weights={name: np.ones(n) for name in (spec.EMERGENCY_OUTPUT, spec.TEXT_OUTPUT,
                                               spec.PRANK_OUTPUT)},
        batch_size=100, seed=0, text_dropout=0.0, token_dropout=0.0, text_swap=0.5)
    swapped = 0
    for index in range(len(batches)):
        inputs, targets, _ = batches[index]
        rows = inputs[spec.LOGMEL_INPUT][:, 0].astype(int)
        words = inputs[spec.TOKENS_INPUT][:, 0] - 2
        swapped += int((words != rows).sum())
        np.testing.assert_array_equal(targets[spec.EMERGENCY_OUTPUT], emergency[rows])
        np.testing.assert_array_equal(targets[spec.TEXT_OUTPUT], claims[words])
        np.testing.assert_array_equal(targets[spec.PRANK_OUTPUT],
                                      claims[words] * (1 - emergency[rows]))
    assert 0.4 < swapped / n < 0.6


def test_roll_frames_rolls_each_window_by_its_own_shift():
    log_mel = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5, 1)
    rolled = roll_frames(log_mel, np.array([0, 2]))
    np.testing.assert_array_equal(rolled[0], log_mel[0])
    np.testing.assert_array_equal(rolled[1], np.roll(log_mel[1], 2, axis=1))
    assert rolled.shape == log_mel.shape and rolled.dtype == np.float32


def test_train_builds_the_audio_pooling_asked_for_and_records_it(tiny_archive, feature_cache,
                                                                tmp_path):
    out = str(tmp_path / "cnn")
    status = main(["train", "--archive", tiny_archive, "--model", "cnn_mel", "--out", out,
                   "--epochs", "1", "--batch-size", "4", "--audio-pooling", "time",
                   "--cache-dir", feature_cache, "--workers", "2"])

    assert status == 0
    bundle = load_bundle(out)
    assert bundle.metadata["training"]["audio_pooling"] == "time"
    assert bundle.model.get_layer("audio_pooled").output.shape[1:] == (2 * 7 * 48,)
    with open(os.path.join(out, MODEL_CARD_FILE), encoding="utf-8") as card:
        assert "audio pooling `time`" in card.read()


def test_time_shift_rolls_training_windows_and_keeps_their_content():
    n, n_mels, n_frames = 64, 4, 50
    frames = np.tile(np.arange(n_frames, dtype=np.float32), (n, n_mels, 1))[..., np.newaxis]
    common = {"targets": {spec.EMERGENCY_OUTPUT: np.zeros((n, 1))},
              "weights": {spec.EMERGENCY_OUTPUT: np.ones(n)}, "batch_size": n, "seed": 0,
              "text_dropout": 0.0, "token_dropout": 0.0}
    still = TrainingBatches(inputs={spec.LOGMEL_INPUT: frames}, **common)[0][0]
    shifted = TrainingBatches(inputs={spec.LOGMEL_INPUT: frames}, time_shift=True,
                              **common)[0][0]
    np.testing.assert_array_equal(still[spec.LOGMEL_INPUT], frames)
    starts = shifted[spec.LOGMEL_INPUT][:, 0, 0, 0]
    assert len(set(starts.tolist())) > 10  # windows start at many different frames
    np.testing.assert_array_equal(np.sort(shifted[spec.LOGMEL_INPUT], axis=2), frames)
    assert frames[0, 0, 0, 0] == 0  # the training array itself is left alone


def test_train_options_and_version_are_checked():
    with pytest.raises(ConfigError, match="epochs"):
        TrainOptions(epochs=0)
    with pytest.raises(ConfigError, match="max_train_windows"):
        TrainOptions(max_train_windows=1)
    with pytest.raises(ConfigError, match="text_dropout"):
        TrainOptions(text_dropout=1.0)
    created = datetime.datetime(2026, 11, 23, tzinfo=datetime.timezone.utc)
    assert model_version(created=created, digest="abcdef0123") == "2026.11.23-abcdef0"


def test_train_cli_rejects_unknown_arguments(tiny_archive, tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["train", "--archive", tiny_archive, "--out", str(tmp_path / "b"),
              "--frobnicate", "3"])
    assert caught.value.code == 2
    assert "unknown option(s): --frobnicate" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_model_card_says_what_auto_precision_does_with_the_recorded_check(tiny_bundle):
    bundle = load_bundle(tiny_bundle)
    metadata = {**bundle.metadata, "thresholds": bundle.thresholds}
    check = metadata[PRECISION_CHECKS_KEY]["bfloat16"]
    changed = {**check, "decisions_changed": {**check["decisions_changed"], "emergency": 2}}
    unchanged = {**check, "decisions_changed": dict.fromkeys(check["decisions_changed"], 0)}

    for record, says in ((changed, "keeps float32"), (unchanged, "scores in bfloat16")):
        card = model_card(metadata={**metadata, PRECISION_CHECKS_KEY: {"bfloat16": record}},
                          metrics=bundle.metrics)
        assert f"bfloat16 on the validation split ({check['calls']} calls)" in card
        assert f"`--inference_precision auto` {says}" in card


def test_logdir_writes_tensorboard_scalars_of_every_epoch(tiny_archive, feature_cache,
                                                          tmp_path):
    import tensorflow as tf

    logdir = tmp_path / "logs"
    status = main(["train", "--archive", tiny_archive, "--model", "cnn_mel",
                   "--out", str(tmp_path / "bundle"), "--epochs", "2", "--patience", "2",
                   "--batch-size", "4", "--logdir", str(logdir), "--cache-dir", feature_cache,
                   "--workers", "2"])

    assert status == 0
    steps_by_tag: dict[str, set[int]] = {}
    for events in logdir.glob("*/events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                steps_by_tag.setdefault(f"{events.parent.name}/{value.tag}", set()).add(
                    event.step)
    assert steps_by_tag["train/epoch_loss"] == {0, 1}
    assert steps_by_tag["validation/epoch_loss"] == {0, 1}


def test_reviewed_calls_replace_their_train_copy_and_never_leak_into_training():
    train = [flat_call("corpus-a", 1), flat_call("corpus-b", 1)]
    held_out = [flat_call("held", 1)]
    first = dataclasses.replace(flat_call("corpus-a", 1), record=dataclasses.replace(
        flat_call("corpus-a", 1).record, label="prank"))
    latest = dataclasses.replace(first, record=dataclasses.replace(first.record,
                                                                   label="emergency"))
    leak = flat_call("held", 1)

    merged = with_reviewed(train, [first, leak, latest], held_out=held_out)

    by_uri = {call.record.audio_uri: call.record.label for call in merged}
    assert by_uri == {"corpus-b.wav": None, "corpus-a.wav": "emergency"}


def _labelled(call_id: str, label: str):
    call = flat_call(call_id, 1)
    return dataclasses.replace(call, record=dataclasses.replace(call.record, label=label))


def test_a_split_without_a_label_is_named_and_one_without_what_it_needs_is_refused():
    splits = {"train": [_labelled("a", "emergency"), _labelled("b", "normal")],
              "validation": [_labelled("c", "emergency"), _labelled("d", "normal")],
              "test": [_labelled("e", "normal")]}
    assert missing_labels(splits) == [
        "the train split has no prank calls",
        "the validation split has no prank calls; the prank threshold keeps its default "
        "and the prank figures are missing",
        "the test split has no emergency calls", "the test split has no prank calls"]
    with pytest.raises(ConfigError, match="the train split has no normal calls; the "
                                          "validation split has no emergency calls"):
        missing_labels({"train": [_labelled("a", "emergency")],
                        "validation": [_labelled("d", "normal")], "test": []})


def test_train_defaults_are_the_bundled_models_recipe():
    recipe = TrainOptions()
    assert (recipe.epochs, recipe.patience, recipe.text_dropout, recipe.token_dropout,
            recipe.text_swap, recipe.seed) == (12, 4, 0.8, 0.4, 0.5, 1)
    with open(os.path.join(DEFAULT_BUNDLE, "bundle.json"), encoding="utf-8") as handle:
        bundled = json.load(handle)["training"]
    assert [bundled[key] for key in ("epochs_requested", "seed", "text_dropout",
                                     "token_dropout", "text_swap", "batch_size")] == [
        recipe.epochs, recipe.seed, recipe.text_dropout, recipe.token_dropout,
        recipe.text_swap, recipe.batch_size]
    with pytest.raises(ConfigError, match="recall_target=0"):
        TrainOptions(recall_target=0)


def test_fine_tuning_starts_from_the_bundles_weights_vocabulary_and_config(
        tiny_archive, tiny_bundle, feature_cache, tmp_path):
    start = load_bundle(tiny_bundle)
    out = str(tmp_path / "tuned")
    status = main(["train", "--archive", tiny_archive, "--from", tiny_bundle, "--out", out,
                   "--epochs", "1", "--batch-size", "4", "--learning-rate", "1e-9",
                   "--cache-dir", feature_cache, "--workers", "2"])

    assert status == 0
    tuned = load_bundle(out)
    assert tuned.model_name == "multimodal" and tuned.config == start.config
    assert tuned.vocabulary.tokens == start.vocabulary.tokens
    assert tuned.metadata["weights_origin"] == f"fine-tuned:multimodal:{start.model_version}"
    # a learning rate of 1e-9 leaves the network where the bundle had it
    for name in ("audio_conv2", "text_lstm"):
        for got, want in zip(tuned.model.get_layer(name).get_weights(),
                             start.model.get_layer(name).get_weights()):
            np.testing.assert_allclose(got, want, atol=1e-6)
    with pytest.raises(ConfigError, match="is a multimodal model, not cnn_mel"):
        train_bundle(archive=tiny_archive, model_name="cnn_mel", out=str(tmp_path / "x"),
                     options=TrainOptions(epochs=1), cache_dir=feature_cache,
                     start_from=tiny_bundle)
