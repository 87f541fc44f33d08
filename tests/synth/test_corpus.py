"""Planning and generating a synthetic archive, read back through transforms.archive."""

import collections
import csv
import dataclasses
import io
import json
import os
import zlib

import numpy as np
import pytest

from pipelines.cli import main
from synth import channel, corpus, scripts, sounds
from transforms.archive import list_calls, open_audio
from transforms.audio import decode_audio
from transforms.errors import ConfigError
from transforms.records import CallError, CallRecord
from transforms.spec import EMERGENCY_CATEGORIES, LABELS, NORMAL_CATEGORIES

SEED = 11
N_CALLS = 16
EXAMPLE_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "archive")


def _small_plans() -> list[corpus.CallPlan]:
    """16 short calls in every format, plus one long emergency and one long normal call."""
    plans = corpus.plan_corpus(n_calls=N_CALLS, seed=SEED, long_fraction=0.0)
    formats = list(channel.FORMATS)
    plans = [dataclasses.replace(p, audio_format=formats[i % len(formats)])
             for i, p in enumerate(plans)]
    for label in ("emergency", "normal"):
        first = next(p for p in plans if p.label == label)
        plans[first.index] = dataclasses.replace(first, long=True, duration_s=corpus.MIN_LONG_S)
    return plans


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    plans = _small_plans()
    assert {p.label for p in plans} == set(LABELS), "pick a seed whose plan has every label"
    out = str(tmp_path_factory.mktemp("synth") / "archive")
    corpus.generate_corpus(plans=plans, out_dir=out, workers=2)
    with open(os.path.join(out, "manifest.csv"), encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    return out, plans, rows


def test_archive_reads_back_without_errors(archive):
    out, plans, rows = archive
    listed = list_calls(out)
    assert not [entry for entry in listed if isinstance(entry, CallError)]
    assert [r.call_id for r in listed] == [p.call_id for p in plans]
    assert list(rows[0]) == list(corpus.MANIFEST_COLUMNS)
    by_id = {r.call_id: r for r in listed}
    for row in rows:
        record: CallRecord = by_id[row["call_id"]]
        assert (record.label, record.category, record.split, record.line, record.caller_id) == \
            (row["label"], row["category"], row["split"], row["line"], row["caller_id"])
        assert record.transcript == row["transcript"] and record.transcript


def test_every_file_decodes_in_its_format(archive):
    out, plans, _ = archive
    records = {r.call_id: r for r in list_calls(out)}
    for plan in plans:
        fmt = channel.FORMATS[plan.audio_format]
        with open_audio(records[plan.call_id].audio_uri) as file:
            waveform = decode_audio(file.read(), name=plan.call_id)
        assert waveform.sample_rate_hz == fmt.sample_rate_hz
        assert waveform.n_channels == fmt.n_channels
        if plan.long:
            assert abs(waveform.duration_s - plan.duration_s) < 0.01
        else:
            assert 3.0 <= waveform.duration_s <= 45.0
        assert float(abs(waveform.samples).max()) > 0.1


def test_labels_categories_lines_splits_and_events_are_consistent(archive):
    out, plans, rows = archive
    splits = scripts.template_splits(seed=SEED)
    durations = {p.call_id: p.duration_s for p in plans if p.long}
    for row in rows:
        template = scripts.TEMPLATES_BY_ID[row["template_id"]]
        assert template.category == row["category"]
        assert splits[row["template_id"]] == row["split"]
        if row["label"] == "normal":
            assert row["category"] in NORMAL_CATEGORIES and row["line"] in ("112", "119")
        else:
            assert row["category"] in EMERGENCY_CATEGORIES
            assert row["line"] == scripts.line_for(row["category"])
        has_event = bool(row["event_start_s"])
        assert has_event == (row["label"] == "emergency" and row["call_id"] in durations)
        assert bool(row["event_end_s"]) == has_event
        if has_event:
            start, end = float(row["event_start_s"]), float(row["event_end_s"])
            assert 0 < start < end <= durations[row["call_id"]]


def _difference(first: bytes, second: bytes, *, name: str) -> str:
    """Where two encodings of one call differ, for the failure message: the first differing
    byte and, when both decode, the largest sample difference and the first time it shows."""
    byte = next((i for i, (a, b) in enumerate(zip(first, second)) if a != b),
                min(len(first), len(second)))
    text = f"{name}: {len(first)} vs {len(second)} bytes, first difference at byte {byte}"
    if not name.endswith(".csv"):
        a, b = (decode_audio(data, name=name) for data in (first, second))
        if a.samples.shape == b.samples.shape:
            gap = np.abs(a.samples - b.samples).max(axis=0)
            text += (f"; largest sample difference {gap.max():.3g} (full scale 1), from "
                     f"{np.argmax(gap > 0) / a.sample_rate_hz:.3f} s")
    return text


def test_same_seed_gives_identical_bytes_whatever_the_workers(archive, tmp_path):
    out, plans, _ = archive
    again = str(tmp_path / "again")
    corpus.generate_corpus(plans=plans, out_dir=again, workers=1)
    for name in ["manifest.csv"] + [p.audio_path for p in plans]:
        with open(os.path.join(out, name), "rb") as a, open(os.path.join(again, name), "rb") as b:
            first, second = a.read(), b.read()
        assert first == second, _difference(first, second, name=name)


def test_a_non_empty_out_dir_needs_overwrite(archive):
    out, plans, _ = archive
    with pytest.raises(ConfigError, match="not empty"):
        corpus.generate_corpus(plans=plans[:1], out_dir=out, workers=1)


def test_cli_writes_an_archive_and_prints_a_summary(tmp_path, capsys):
    out = str(tmp_path / "cli")
    assert main(["synth", "--out", out, "--calls", "3", "--seed", "5", "--workers", "1",
                 "--long-fraction", "0"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["calls"] == 3 and sum(summary["label"].values()) == 3
    assert len([e for e in list_calls(out) if isinstance(e, CallRecord)]) == 3
    assert main(["synth", "--out", out, "--calls", "3", "--seed", "5"]) == 2  # not empty


def test_plan_is_fixed_by_the_seed_and_mixes_as_documented():
    plans = corpus.plan_corpus(n_calls=3000, seed=2)
    assert plans == corpus.plan_corpus(n_calls=3000, seed=2)
    counts = corpus.summarise(plans)
    assert 0.40 < counts["label"]["emergency"] / 3000 < 0.50
    assert 0.12 < counts["label"]["prank"] / 3000 < 0.18
    assert 0.66 < counts["split"]["train"] / 3000 < 0.74
    telephone = sum(n for f, n in counts["format"].items() if channel.FORMATS[f].telephone)
    assert 0.60 < telephone / 3000 < 0.70
    long = [p for p in plans if p.long]
    assert 0.01 < len(long) / 3000 < 0.03
    assert all(p.label != "prank" and 120 <= p.duration_s <= 300 for p in long)
    prank_callers = collections.Counter(p.caller_id for p in plans if p.label == "prank")
    assert max(prank_callers.values()) >= 3
    others = collections.Counter(p.caller_id for p in plans if p.label != "prank")
    assert max(others.values()) == 1
    assert [p.started_at for p in plans] == sorted(p.started_at for p in plans)
    audio_only = [p for p in plans if p.audio_only]
    short = [p for p in plans if not p.long and p.label != "prank"]
    assert 0.09 < len(audio_only) / len(short) < 0.15
    assert all(not p.long and p.label != "prank" for p in audio_only)


def test_calls_without_a_transcript_are_spoken_and_the_real_voice_is_the_even_half():
    plans = [p for p in corpus.plan_corpus(n_calls=400, seed=3) if p.audio_only]
    normal = [p for p in plans if p.label == "normal"][:6]
    emergency = next(p for p in plans if p.label == "emergency")
    rendered = [corpus.render_call(p) for p in normal + [emergency]]
    assert all(call.transcript == "" for call in rendered)
    assert all(np.abs(call.samples).max() > 0.1 for call in rendered)
    real = sounds.calm_voice_files()
    assert real and all(zlib.crc32(os.path.basename(f).encode()) % 2 == 0 for f in real)
    voice = sounds.calm_real_voice(rng=np.random.default_rng(0), seconds=5.0,
                                   sample_rate_hz=8000)
    assert voice.size >= 5 * 8000 and np.abs(voice).max() == pytest.approx(1.0)


def test_long_calls_spread_over_the_requested_range():
    plans = corpus.plan_corpus(n_calls=500, seed=3, long_fraction=0.3, min_long_s=30,
                               max_long_s=120)
    lengths = sorted(p.duration_s for p in plans if p.long)
    assert len(lengths) > 100 and 30 <= lengths[0] < 40 and 110 < lengths[-1] <= 120
    assert 60 < lengths[len(lengths) // 2] < 90  # uniform: median near 75 s
    for low, high in ((10, 120), (100, 90)):
        with pytest.raises(ConfigError, match="min_long_s"):
            corpus.plan_corpus(n_calls=5, seed=3, min_long_s=low, max_long_s=high)


def test_example_plan_covers_every_label_split_format_and_a_repeat_prank_caller():
    plans = corpus.plan_corpus(n_calls=40, seed=7, example=True)
    assert {p.label for p in plans} == set(LABELS)
    assert {p.split for p in plans} == {"train", "validation", "test"}
    assert {p.audio_format for p in plans} == set(channel.FORMATS)
    long = [p for p in plans if p.long]
    assert len(long) == 1 and long[0].label == "emergency" and long[0].duration_s == 120
    assert all(p.duration_s <= 10 for p in plans if not p.long)
    callers = collections.Counter(p.caller_id for p in plans if p.label == "prank")
    assert callers.most_common(1)[0][1] == 3
    with pytest.raises(ConfigError):
        corpus.plan_corpus(n_calls=10, seed=7, example=True)


def test_bundled_example_archive_is_the_documented_command_output():
    """examples/archive is `call-triage synth --out examples/archive --calls 40 --seed 7
    --example` (metadata checked; bytes depend on the espeak-ng/libsndfile versions)."""
    plans = corpus.plan_corpus(n_calls=40, seed=7, example=True)
    listed = list_calls(EXAMPLE_DIR)
    assert not [e for e in listed if isinstance(e, CallError)]
    with open(os.path.join(EXAMPLE_DIR, "manifest.csv"), encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(io.StringIO(file.read())))
    assert [(r["call_id"], r["audio"], r["label"], r["category"], r["template_id"])
            for r in rows] == [(p.call_id, p.audio_path, p.label, p.category, p.template_id)
                               for p in plans]
    for record in listed:
        with open_audio(record.audio_uri) as file:
            assert decode_audio(file.read(), name=record.call_id).duration_s > 2.0
