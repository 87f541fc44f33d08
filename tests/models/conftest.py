"""A tiny separable labelled archive and a multimodal bundle trained on it, shared by the
model tests (trained once per test session)."""

from __future__ import annotations

import csv
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
import pytest

from pipelines.cli import main
from transforms.audio import encode_audio

RATE_HZ = 8_000
TINY_EPOCHS = 8

EMERGENCY_TEXTS = {
    "fire": "불이 났어요 빨리 와주세요 연기가 가득해요 살려주세요",
    "robbery": "강도가 들어왔어요 칼을 들고 있어요 빨리 와주세요 살려주세요",
    "medical": "사람이 쓰러졌어요 숨을 안 쉬어요 구급차 빨리 와주세요",
}
NORMAL_TEXTS = {
    "normal_indoor": "오늘 점심 같이 먹을래요 식당 예약했어요 메뉴 골라요",
    "normal_outdoor": "오늘 날씨가 좋네요 공원에 산책 가요 커피 마셔요",
}


def noise_bursts(seconds: float, *, rng: np.random.Generator) -> np.ndarray:
    """Loud white-noise bursts, 0.25 s on / 0.25 s off."""
    n = int(seconds * RATE_HZ)
    gate = (np.arange(n) // (RATE_HZ // 4)) % 2 == 0
    return (0.8 * rng.uniform(-1, 1, n) * gate).astype(np.float32)


def quiet_tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    return (0.02 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def write_tiny_archive(root: str) -> None:
    """24 calls: per split, emergencies (noise bursts + an emergency sentence) and normal
    calls (a quiet tone + an everyday sentence); one long train emergency (21 s) whose
    event (bursts) lies in [8, 13] s, quiet elsewhere."""
    rng = np.random.default_rng(7)
    os.makedirs(os.path.join(root, "audio"), exist_ok=True)
    counts = {"train": 6, "validation": 3, "test": 3}  # per label
    rows = []
    for split, count in counts.items():
        for i in range(count):
            for label, texts in (("emergency", EMERGENCY_TEXTS), ("normal", NORMAL_TEXTS)):
                category = list(texts)[i % len(texts)]
                call_id = f"{split}-{label}-{i}"
                seconds = 3.0 + i % 3
                samples = (noise_bursts(seconds, rng=rng) if label == "emergency"
                           else quiet_tone(seconds))
                row = {"call_id": call_id, "audio": f"audio/{call_id}.wav",
                       "transcript": texts[category], "label": label, "category": category,
                       "split": split, "event_start_s": "", "event_end_s": ""}
                if split == "train" and label == "emergency" and i == 0:
                    samples = quiet_tone(21.0)
                    samples[8 * RATE_HZ:13 * RATE_HZ] = noise_bursts(5.0, rng=rng)
                    row.update(event_start_s="8.0", event_end_s="13.0")
                with open(os.path.join(root, row["audio"]), "wb") as handle:
                    handle.write(encode_audio(samples, sample_rate_hz=RATE_HZ))
                rows.append(row)
    with open(os.path.join(root, "manifest.csv"), "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="session")
def tiny_archive(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("tiny-archive"))
    write_tiny_archive(root)
    return root


@pytest.fixture(scope="session")
def feature_cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("feature-cache"))


@pytest.fixture(scope="session")
def tiny_bundle(tiny_archive, feature_cache, tmp_path_factory) -> str:
    """A multimodal bundle trained by ``call-triage train`` on the tiny archive."""
    out = str(tmp_path_factory.mktemp("bundles") / "multimodal")
    status = main(["train", "--archive", tiny_archive, "--model", "multimodal", "--out", out,
                   "--epochs", str(TINY_EPOCHS), "--batch-size", "4", "--patience",
                   str(TINY_EPOCHS), "--seed", "3", "--cache-dir", feature_cache,
                   "--workers", "2"])
    assert status == 0
    return out
