"""Background beds, events and scenes."""

import numpy as np
import pytest

from synth import sounds
from transforms.spec import CATEGORIES

SR = 16_000


def _peak_frequency(x: np.ndarray, sample_rate_hz: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / sample_rate_hz)[np.argmax(spectrum)])


@pytest.mark.parametrize("name", sorted(sounds.BEDS))
@pytest.mark.parametrize("rate", [8_000, 44_100])
def test_beds_fill_the_call_at_unit_rms(name, rate):
    n = 3 * rate
    bed = sounds.BEDS[name](rng=np.random.default_rng(0), n_samples=n, sample_rate_hz=rate)
    assert bed.shape == (n,) and bed.dtype == np.float32 and np.isfinite(bed).all()
    assert np.sqrt(np.mean(np.square(bed, dtype=np.float64))) == pytest.approx(1.0, rel=1e-3)


@pytest.mark.parametrize("name", sorted(sounds.EVENTS))
def test_events_are_short_and_peak_normalised(name):
    event = sounds.EVENTS[name](rng=np.random.default_rng(0), sample_rate_hz=8_000)
    assert event.ndim == 1 and 0.05 * 8_000 < event.size < 15 * 8_000
    assert np.isfinite(event).all() and np.abs(event).max() == pytest.approx(1.0)


def test_smoke_alarm_beeps_near_3_khz_in_a_pattern():
    alarm = sounds.smoke_alarm(rng=np.random.default_rng(1), n_samples=8 * SR, sample_rate_hz=SR)
    assert 2_900 < _peak_frequency(alarm, SR) < 3_300
    frames = np.sqrt(np.mean(alarm.reshape(-1, SR // 10) ** 2, axis=1))
    assert 0.3 < np.mean(frames > 0.1) < 0.5  # 3 × 0.5 s on in every 4 s


def test_siren_sweeps_within_its_band():
    wail = sounds.siren(rng=np.random.default_rng(2), n_samples=4 * SR, sample_rate_hz=SR)
    peaks = [_peak_frequency(wail[i:i + SR // 10], SR) for i in range(0, wail.size, SR // 10)]
    assert 500 < min(peaks) and max(peaks) < 1_400 and max(peaks) - min(peaks) > 200


def test_real_sounds_load_from_their_debian_packages():
    for name in sounds.REAL_SOUNDS:
        sound = sounds.real_sound(name, sample_rate_hz=8_000)
        assert sound.size > 800 and np.abs(sound).max() == pytest.approx(1.0), name


def test_every_category_has_a_scene_and_distress_scenes_have_events():
    assert set(sounds.SCENES) == set(CATEGORIES)
    for category, scene in sounds.SCENES.items():
        assert scene.min_events >= (0 if category.startswith("normal") else 1), category


def test_background_is_reproducible_from_its_generator():
    scene = sounds.SCENES["fire"]
    first = sounds.background(scene=scene, rng=np.random.default_rng(9), n_samples=2 * SR,
                              sample_rate_hz=SR)
    second = sounds.background(scene=scene, rng=np.random.default_rng(9), n_samples=2 * SR,
                               sample_rate_hz=SR)
    other = sounds.background(scene=scene, rng=np.random.default_rng(10), n_samples=2 * SR,
                              sample_rate_hz=SR)
    assert np.array_equal(first, second) and not np.array_equal(first, other)
    assert np.sqrt(np.mean(np.square(first, dtype=np.float64))) == pytest.approx(1.0, rel=1e-3)
