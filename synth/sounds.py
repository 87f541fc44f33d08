"""Background sounds: ambience beds, short events, and the scenes that combine them.

Two kinds of generator, all pure functions of a numpy ``Generator``:

- a **bed** fills a whole call: ``bed(*, rng, n_samples, sample_rate_hz)`` -> float32
  ``(n_samples,)`` with RMS 1 (room tone, traffic, crowd babble, wind, fire roar, siren …);
- an **event** is one short sound: ``event(*, rng, sample_rate_hz)`` -> float32 ``(m,)``
  with peak 1 (a bang, a scream, breaking glass, a phone ringing …).

Most are synthesised with numpy/scipy. Crowd babble and television speech are overlapping
espeak-ng voices (built once per process and rate, from a fixed seed). A few real
recordings come from Debian packages (:data:`REAL_SOUNDS`; licences in synth/README.md):
a telephone ringing and an alarm clock from ``sound-theme-freedesktop``, and telephone
prompts of ``asterisk-core-sounds-en-wav`` used as a distant call-taker system.

A :class:`Scene` names the beds and events that fit a category: distress scenes for the
14 emergency categories, everyday scenes (indoor, outdoor) for normal and prank calls.
:func:`background` draws one scene's sound for one call.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import zlib
from typing import Callable, Mapping

import numpy as np
import scipy.signal

from synth.scripts import BABBLE_LINES, TV_LINES
from synth.speech import FEMALE_VARIANTS, MALE_VARIANTS, Voice, synthesize
from transforms.audio import decode_audio, resample
from transforms.errors import ConfigError

Bed = Callable[..., np.ndarray]
Event = Callable[..., np.ndarray]

_FREEDESKTOP = "/usr/share/sounds/freedesktop/stereo"
_ASTERISK = "/usr/share/asterisk/sounds/en_US_f_Allison"
#: Real recordings: name -> (path, Debian package).
REAL_SOUNDS: Mapping[str, tuple[str, str]] = {
    "phone_ring": (f"{_FREEDESKTOP}/phone-incoming-call.oga", "sound-theme-freedesktop"),
    "alarm_clock": (f"{_FREEDESKTOP}/alarm-clock-elapsed.oga", "sound-theme-freedesktop"),
    "message_ping": (f"{_FREEDESKTOP}/message-new-instant.oga", "sound-theme-freedesktop"),
    "ringback": (f"{_FREEDESKTOP}/phone-outgoing-calling.oga", "sound-theme-freedesktop"),
    "one_moment": (f"{_ASTERISK}/one-moment-please.wav", "asterisk-core-sounds-en-wav"),
    "please_hold": (f"{_ASTERISK}/pls-hold-while-try.wav", "asterisk-core-sounds-en-wav"),
    "transfer": (f"{_ASTERISK}/transfer.wav", "asterisk-core-sounds-en-wav"),
    "try_again": (f"{_ASTERISK}/please-try-again.wav", "asterisk-core-sounds-en-wav"),
    "thank_you": (f"{_ASTERISK}/queue-thankyou.wav", "asterisk-core-sounds-en-wav"),
}
#: The telephone-system prompts among :data:`REAL_SOUNDS` (a distant call-taker side).
PROMPTS = ("one_moment", "please_hold", "transfer", "try_again", "thank_you")
#: One real human voice saying calm sentences: the prompts of the same package whose file
#: name has an even CRC-32 (the other half is never used here, so it can check a model on
#: calm real speech it has not heard).
CALM_VOICE_DIR = _ASTERISK
_BED_SEED = 20240601  # fixed seed of the cached espeak-ng beds: the same in every process
_BED_KINDS = ("babble", "tv")
_BED_S = 24.0  # length of a cached espeak-ng bed; longer calls loop it
_ESPEAK_HZ = 22_050


# --- small DSP helpers --------------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _sos(low_hz: float | None, high_hz: float | None, sample_rate_hz: int,
         order: int) -> np.ndarray:
    """Butterworth second-order sections: band-, high- or low-pass (edges kept < Nyquist)."""
    nyquist = sample_rate_hz / 2
    if high_hz is not None and high_hz >= 0.95 * nyquist:
        high_hz = None
    if low_hz is not None and high_hz is not None:
        return scipy.signal.butter(order, (low_hz, high_hz), "bandpass", fs=sample_rate_hz,
                                   output="sos")
    if low_hz is not None:
        return scipy.signal.butter(order, low_hz, "highpass", fs=sample_rate_hz, output="sos")
    if high_hz is not None:
        return scipy.signal.butter(order, high_hz, "lowpass", fs=sample_rate_hz, output="sos")
    return np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]])


def band(samples: np.ndarray, *, sample_rate_hz: int, low_hz: float | None = None,
         high_hz: float | None = None, order: int = 4) -> np.ndarray:
    """``samples`` (n,) filtered by a Butterworth band/high/low-pass; float32 (n,).

    An edge at or above 95 % of Nyquist is dropped, so the same call works at 8 and 48 kHz.
    """
    sos = _sos(low_hz, high_hz, sample_rate_hz, order)
    return scipy.signal.sosfilt(sos, samples).astype(np.float32)


def unit_rms(samples: np.ndarray) -> np.ndarray:
    """``samples`` scaled to RMS 1 (silence stays silence); float32."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    return (samples / rms if rms > 0 else samples).astype(np.float32)


def unit_peak(samples: np.ndarray) -> np.ndarray:
    """``samples`` scaled to peak |x| = 1 (silence stays silence); float32."""
    peak = float(np.abs(samples).max(initial=0.0))
    return (samples / peak if peak > 0 else samples).astype(np.float32)


def _times(n_samples: int, sample_rate_hz: int) -> np.ndarray:
    return np.arange(n_samples, dtype=np.float64) / sample_rate_hz


def _slow_envelope(rng: np.random.Generator, n_samples: int, sample_rate_hz: int, *,
                   rate_hz: float, floor: float) -> np.ndarray:
    """A smooth random envelope in [floor, 1]: random points every 1/rate_hz s, interpolated."""
    n_points = max(2, int(n_samples / sample_rate_hz * rate_hz) + 2)
    points = floor + (1 - floor) * rng.random(n_points)
    positions = np.linspace(0, n_samples - 1, n_points)
    return np.interp(np.arange(n_samples), positions, points).astype(np.float32)


def _brown(rng: np.random.Generator, n_samples: int) -> np.ndarray:
    """Brown (1/f²) noise, leaky-integrated white noise; float32 (n,)."""
    white = rng.standard_normal(n_samples)
    return unit_rms(scipy.signal.lfilter([1.0], [1.0, -0.995], white))


def _pink(rng: np.random.Generator, n_samples: int) -> np.ndarray:
    """Pink (1/f) noise from Paul Kellet's economy filter; float32 (n,)."""
    white = rng.standard_normal(n_samples)
    b = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
    a = [1.0, -2.494956002, 2.017265875, -0.522189400]
    return unit_rms(scipy.signal.lfilter(b, a, white))


def _impulses(rng: np.random.Generator, n_samples: int, sample_rate_hz: int, *,
              rate_hz: float, decay_s: float) -> np.ndarray:
    """Random clicks (Poisson, ``rate_hz``), heavy-tailed amplitudes, each decaying with
    time constant ``decay_s``; float32 (n,)."""
    train = np.zeros(n_samples)
    hits = rng.random(n_samples) < rate_hz / sample_rate_hz
    n_hits = int(hits.sum())
    train[hits] = (rng.pareto(2.5, n_hits) + 0.2) * rng.choice((-1.0, 1.0), n_hits)
    pole = np.exp(-1.0 / (decay_s * sample_rate_hz))
    return scipy.signal.lfilter([1.0], [1.0, -pole], train).astype(np.float32)


def _tone(frequency_hz: np.ndarray | float, n_samples: int, sample_rate_hz: int, *,
          harmonics: tuple[float, ...] = (1.0,)) -> np.ndarray:
    """A (possibly gliding) tone with the given harmonic amplitudes; partials above
    Nyquist are left out. ``frequency_hz``: scalar or (n,) Hz."""
    frequency = np.broadcast_to(np.asarray(frequency_hz, dtype=np.float64), (n_samples,))
    phase = 2 * np.pi * np.cumsum(frequency) / sample_rate_hz
    out = np.zeros(n_samples)
    for k, amplitude in enumerate(harmonics, start=1):
        if k * float(frequency.max(initial=0.0)) < sample_rate_hz / 2:
            out += amplitude * np.sin(k * phase)
    return out.astype(np.float32)


def _decay(n_samples: int, sample_rate_hz: int, *, tau_s: float,
           attack_s: float = 0.002) -> np.ndarray:
    """An envelope (n,): a linear attack over ``attack_s``, then exponential decay ``tau_s``."""
    t = _times(n_samples, sample_rate_hz)
    return (np.minimum(1.0, t / attack_s) * np.exp(-t / tau_s)).astype(np.float32)


def _n(seconds: float, sample_rate_hz: int) -> int:
    return max(1, int(round(seconds * sample_rate_hz)))


# --- beds ---------------------------------------------------------------------------------

def room_tone(*, rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """A quiet room: soft pink noise and the 60 Hz hum of appliances (RMS 1)."""
    hiss = band(_pink(rng, n_samples), sample_rate_hz=sample_rate_hz, high_hz=2_500)
    hum = _tone(60.0, n_samples, sample_rate_hz, harmonics=(1.0, 0.5, 0.3, 0.2, 0.1))
    return unit_rms(unit_rms(hiss) + 0.3 * hum)


def traffic(*, rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """Road traffic: a low rumble and cars passing every few seconds (RMS 1)."""
    rumble = band(_brown(rng, n_samples), sample_rate_hz=sample_rate_hz, high_hz=500)
    tyres = band(rng.standard_normal(n_samples), sample_rate_hz=sample_rate_hz,
                 low_hz=150, high_hz=2_500)
    t = _times(n_samples, sample_rate_hz)
    passes = np.full(n_samples, 0.2)
    for centre in rng.uniform(0, t[-1] + 1, max(1, int(t[-1] / 6))):
        passes += np.exp(-0.5 * ((t - centre) / rng.uniform(0.8, 2.0)) ** 2)
    return unit_rms(unit_rms(rumble) + 0.8 * unit_rms(tyres) * passes.astype(np.float32))


def wind(*, rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """Storm wind: low roaring noise in gusts, with a whistling band (RMS 1)."""
    gusts = _slow_envelope(rng, n_samples, sample_rate_hz, rate_hz=0.4, floor=0.15)
    roar = band(rng.standard_normal(n_samples), sample_rate_hz=sample_rate_hz, high_hz=700,
                order=2)
    centre = rng.uniform(500, 1_200)
    whistle = band(rng.standard_normal(n_samples), sample_rate_hz=sample_rate_hz,
                   low_hz=centre * 0.9, high_hz=centre * 1.1, order=2)
    return unit_rms((unit_rms(roar) + 0.4 * unit_rms(whistle)) * gusts ** 2)


def rain(*, rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """Heavy rain: bright hiss with drops (RMS 1)."""
    hiss = band(rng.standard_normal(n_samples), sample_rate_hz=sample_rate_hz, low_hz=1_500)
    drops = band(_impulses(rng, n_samples, sample_rate_hz, rate_hz=60, decay_s=0.003),
                 sample_rate_hz=sample_rate_hz, low_hz=800)
    return unit_rms(unit_rms(hiss) + 0.7 * unit_rms(drops))


def fire_roar(*, rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """A fire: a low roar under dense crackling (RMS 1)."""
    roar = band(_brown(rng, n_samples), sample_rate_hz=sample_rate_hz, high_hz=400)
    flicker = _slow_envelope(rng, n_samples, sample_rate_hz, rate_hz=3, floor=0.5)
    crackle = band(_impulses(rng, n_samples, sample_rate_hz, rate_hz=rng.uniform(15, 40),
                             decay_s=0.002), sample_rate_hz=sample_rate_hz, low_hz=900)
    return unit_rms(0.6 * unit_rms(roar) * flicker + unit_rms(crackle))


def hiss(*, rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """Gas escaping from a pipe: steady high hiss with a little flutter (RMS 1)."""
    flutter = _slow_envelope(rng, n_samples, sample_rate_hz, rate_hz=2, floor=0.7)
    noise = band(rng.standard_normal(n_samples), sample_rate_hz=sample_rate_hz,
                 low_hz=min(2_500, 0.3 * sample_rate_hz))
    return unit_rms(noise * flutter)


def electric_buzz(*, rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """An electrical fault: a harsh 120 Hz buzz with arcing bursts (RMS 1)."""
    buzz = np.sign(_tone(120.0, n_samples, sample_rate_hz))
    buzz = band(buzz, sample_rate_hz=sample_rate_hz, high_hz=3_000)
    bursts = _slow_envelope(rng, n_samples, sample_rate_hz, rate_hz=4, floor=0.0) ** 4
    arcs = band(_impulses(rng, n_samples, sample_rate_hz, rate_hz=300, decay_s=0.0008),
                sample_rate_hz=sample_rate_hz, low_hz=1_000)
    return unit_rms(0.5 * unit_rms(buzz) + unit_rms(arcs) * bursts)


def rumble(*, rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """An earthquake or a collapse: deep rumble and rattling objects (RMS 1)."""
    shaking = _slow_envelope(rng, n_samples, sample_rate_hz, rate_hz=0.5, floor=0.2)
    deep = band(_brown(rng, n_samples), sample_rate_hz=sample_rate_hz, high_hz=250)
    rattle = band(_impulses(rng, n_samples, sample_rate_hz, rate_hz=rng.uniform(10, 30),
                            decay_s=0.01), sample_rate_hz=sample_rate_hz, low_hz=700,
                  high_hz=3_500)
    return unit_rms((unit_rms(deep) + 0.8 * unit_rms(rattle)) * shaking)


def siren(*, rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """An emergency vehicle's siren, wail or yelp, drawing nearer (RMS 1)."""
    t = _times(n_samples, sample_rate_hz)
    period = rng.uniform(2.5, 5.0) if rng.random() < 0.6 else rng.uniform(0.25, 0.4)
    frequency = 950 + 380 * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    tone = _tone(frequency, n_samples, sample_rate_hz, harmonics=(1.0, 0.35, 0.15))
    approach = np.linspace(rng.uniform(0.2, 0.6), 1.0, n_samples, dtype=np.float32)
    return unit_rms(tone * approach)


def smoke_alarm(*, rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """A smoke or CO alarm: ~3.1 kHz beeps in the temporal-3 pattern (RMS 1)."""
    t = _times(n_samples, sample_rate_hz)
    cycle = (t + rng.uniform(0, 4)) % 4.0
    on = (cycle < 3.0) & ((cycle % 1.0) < 0.5)
    frequency = min(rng.uniform(2_950, 3_250), 0.45 * sample_rate_hz)
    tone = np.clip(2 * _tone(frequency, n_samples, sample_rate_hz), -1, 1)
    return unit_rms(tone * on)


def alarm_bell(*, rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """An electric alarm bell (shop alarm, lift alarm): a clapper striking ~18 times/s (RMS 1)."""
    strike_hz = rng.uniform(15, 22)
    t = _times(n_samples, sample_rate_hz)
    envelope = np.exp(-((t * strike_hz) % 1.0) / (strike_hz * 0.03))
    fundamental = rng.uniform(800, 1_100)
    partials = sum(amp * _tone(fundamental * ratio, n_samples, sample_rate_hz)
                   for ratio, amp in ((1.0, 1.0), (2.76, 0.6), (5.4, 0.3)))
    return unit_rms(partials * envelope.astype(np.float32))


def car_alarm(*, rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """A car alarm: a tone sweeping up over and over (RMS 1)."""
    t = _times(n_samples, sample_rate_hz)
    period = rng.uniform(0.2, 0.35)
    frequency = 800 + 1_000 * ((t % period) / period)
    return unit_rms(_tone(frequency, n_samples, sample_rate_hz, harmonics=(1.0, 0.4)))


def breathing(*, rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """Heavy, fast breathing close to the phone (RMS 1)."""
    t = _times(n_samples, sample_rate_hz)
    rate = rng.uniform(0.6, 1.2)
    cycle = np.sin(np.pi * t * rate * 2) ** 2
    air = band(rng.standard_normal(n_samples), sample_rate_hz=sample_rate_hz, low_hz=400,
               high_hz=2_500)
    return unit_rms(air * cycle.astype(np.float32))


def birds(*, rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """A park: soft wind and bird chirps (quick high frequency sweeps) (RMS 1)."""
    base = 0.3 * band(rng.standard_normal(n_samples), sample_rate_hz=sample_rate_hz,
                      high_hz=500, order=2)
    out = unit_rms(base)
    top = 0.45 * sample_rate_hz
    for start in rng.uniform(0, n_samples / sample_rate_hz, max(1, n_samples // sample_rate_hz)):
        length = _n(rng.uniform(0.05, 0.15), sample_rate_hz)
        begin = int(start * sample_rate_hz)
        sweep = np.linspace(min(2_000, top), min(rng.uniform(2_500, 4_500), top), length)
        chirp = _tone(sweep, length, sample_rate_hz) * np.hanning(length).astype(np.float32)
        end = min(n_samples, begin + length)
        out[begin:end] += 3 * chirp[: end - begin]
    return unit_rms(out)


@functools.lru_cache(maxsize=8)
def _speech_bed(kind: str, sample_rate_hz: int) -> np.ndarray:
    """A cached :data:`_BED_S`-second espeak-ng bed at ``sample_rate_hz`` (RMS 1).

    ``kind`` "babble": six talkers over each other, distant (low-passed); "tv": one
    announcer reading news over a soft chord, band-limited like a TV speaker. Built from a
    fixed seed, so every process builds the same bed.
    """
    if sample_rate_hz != _ESPEAK_HZ:
        return unit_rms(resample(_speech_bed(kind, _ESPEAK_HZ), orig_hz=_ESPEAK_HZ,
                                 target_hz=sample_rate_hz))
    if kind not in _BED_KINDS:
        raise ConfigError(f"kind={kind!r} must be one of {_BED_KINDS}")
    rng = np.random.default_rng([_BED_SEED, _BED_KINDS.index(kind)])
    n_samples = _n(_BED_S, _ESPEAK_HZ)
    talkers, lines = (6, BABBLE_LINES) if kind == "babble" else (1, TV_LINES)
    bed = np.zeros(n_samples, dtype=np.float32)
    for talker in range(talkers):
        variants = FEMALE_VARIANTS if talker % 2 else MALE_VARIANTS
        voice = Voice(variant=variants[talker % len(variants)],
                      speed_wpm=int(rng.integers(150, 190)), pitch=int(rng.integers(30, 70)),
                      amplitude=100, word_gap=1)
        position = int(rng.integers(0, _ESPEAK_HZ))
        while position < n_samples:
            speech = synthesize(lines[int(rng.integers(len(lines)))], voice=voice,
                                sample_rate_hz=_ESPEAK_HZ)
            end = min(n_samples, position + speech.size)
            bed[position:end] += unit_rms(speech)[: end - position]
            position = end + int(rng.uniform(0.2, 1.0) * _ESPEAK_HZ)
    if kind == "babble":
        return unit_rms(band(bed, sample_rate_hz=_ESPEAK_HZ, high_hz=3_000))
    chord = sum(_tone(f, n_samples, _ESPEAK_HZ, harmonics=(1.0, 0.3)) for f in (220, 277, 330))
    return unit_rms(band(unit_rms(bed) + 0.3 * unit_rms(chord), sample_rate_hz=_ESPEAK_HZ,
                         low_hz=200, high_hz=5_000))


def _looped(bed: np.ndarray, *, rng: np.random.Generator, n_samples: int) -> np.ndarray:
    """``n_samples`` of a cached bed from a random offset, wrapping around."""
    start = int(rng.integers(bed.size))
    return bed[(start + np.arange(n_samples)) % bed.size]


def babble(*, rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """Crowd or café babble: overlapping espeak-ng talkers (RMS 1)."""
    bed = _speech_bed("babble", sample_rate_hz)
    return unit_rms(_looped(bed, rng=rng, n_samples=n_samples)
                    + _looped(bed, rng=rng, n_samples=n_samples))


def television(*, rng: np.random.Generator, n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """A television in the room: an announcer over music (RMS 1)."""
    return unit_rms(_looped(_speech_bed("tv", sample_rate_hz), rng=rng, n_samples=n_samples))


# --- events -------------------------------------------------------------------------------

def bang(*, rng: np.random.Generator, sample_rate_hz: int) -> np.ndarray:
    """A blow, a door slammed, a thing thrown: a decaying noise burst over a thump (peak 1)."""
    n = _n(0.6, sample_rate_hz)
    burst = band(rng.standard_normal(n), sample_rate_hz=sample_rate_hz,
                 high_hz=rng.uniform(800, 4_000))
    thump = _tone(rng.uniform(60, 140), n, sample_rate_hz)
    return unit_peak((burst * _decay(n, sample_rate_hz, tau_s=rng.uniform(0.02, 0.12))
                      + thump * _decay(n, sample_rate_hz, tau_s=0.08)))


def thud(*, rng: np.random.Generator, sample_rate_hz: int) -> np.ndarray:
    """A body or a heavy object hitting the floor: a dull low thud (peak 1)."""
    n = _n(0.5, sample_rate_hz)
    burst = band(rng.standard_normal(n), sample_rate_hz=sample_rate_hz,
                 high_hz=rng.uniform(300, 900))
    return unit_peak(burst * _decay(n, sample_rate_hz, tau_s=rng.uniform(0.05, 0.15)))


def glass_break(*, rng: np.random.Generator, sample_rate_hz: int) -> np.ndarray:
    """Breaking glass: an impact and a shower of ringing shards (peak 1)."""
    n = _n(1.0, sample_rate_hz)
    out = 0.5 * bang(rng=rng, sample_rate_hz=sample_rate_hz)
    out = np.pad(out, (0, n - out.size))
    top = 0.45 * sample_rate_hz
    for _ in range(int(rng.integers(12, 30))):
        start = int(rng.uniform(0, 0.6) * sample_rate_hz)
        length = n - start
        shard = _tone(min(rng.uniform(2_000, 7_000), top), length, sample_rate_hz)
        out[start:] += rng.uniform(0.1, 0.5) * shard * _decay(length, sample_rate_hz,
                                                              tau_s=rng.uniform(0.02, 0.1))
    return unit_peak(out)


def scream(*, rng: np.random.Generator, sample_rate_hz: int) -> np.ndarray:
    """A scream: a loud high voice gliding up and down with vibrato (peak 1)."""
    n = _n(rng.uniform(0.6, 1.6), sample_rate_hz)
    t = _times(n, sample_rate_hz)
    low, high = rng.uniform(380, 520), rng.uniform(750, 1_000)
    contour = low + (high - low) * np.clip(np.sin(np.pi * t / t[-1]), 0, 1) ** 0.7
    frequency = contour * (1 + 0.03 * np.sin(2 * np.pi * rng.uniform(5, 7) * t))
    voice = _tone(frequency, n, sample_rate_hz, harmonics=(1.0, 0.8, 0.6, 0.5, 0.35, 0.25))
    rasp = band(rng.standard_normal(n), sample_rate_hz=sample_rate_hz, low_hz=1_000,
                high_hz=3_500)
    envelope = np.minimum(1, t / 0.05) * np.minimum(1, (t[-1] - t) / 0.2)
    return unit_peak((voice + 0.3 * rasp) * envelope.astype(np.float32))


def laughter(*, rng: np.random.Generator, sample_rate_hz: int) -> np.ndarray:
    """Laughter: a run of breathy voiced "ha" bursts, falling in pitch and loudness (peak 1)."""
    pulses = int(rng.integers(4, 9))
    spacing, length = rng.uniform(0.17, 0.25), rng.uniform(0.09, 0.14)
    n = _n(pulses * spacing + length, sample_rate_hz)
    out = np.zeros(n, dtype=np.float32)
    f0 = rng.uniform(180, 320)
    m = _n(length, sample_rate_hz)
    for k in range(pulses):
        voiced = _tone(f0 * (1 - 0.03 * k), m, sample_rate_hz,
                       harmonics=(1.0, 0.7, 0.5, 0.4, 0.3, 0.2, 0.1))
        breath = band(rng.standard_normal(m), sample_rate_hz=sample_rate_hz, low_hz=600,
                      high_hz=3_000)
        begin = int(k * spacing * sample_rate_hz)
        window = np.hanning(m).astype(np.float32)
        out[begin:begin + m] += (0.9 ** k) * (voiced + 0.5 * breath) * window
    return unit_peak(out)


def footsteps(*, rng: np.random.Generator, sample_rate_hz: int) -> np.ndarray:
    """Someone running away: 4–10 quick steps (peak 1)."""
    steps, rate = int(rng.integers(4, 11)), rng.uniform(2.5, 3.8)
    n = _n(steps / rate + 0.2, sample_rate_hz)
    out = np.zeros(n, dtype=np.float32)
    m = _n(0.06, sample_rate_hz)
    for k in range(steps):
        step = band(rng.standard_normal(m), sample_rate_hz=sample_rate_hz, high_hz=1_500)
        begin = int(k / rate * sample_rate_hz)
        out[begin:begin + m] += (1 - 0.07 * k) * step * _decay(m, sample_rate_hz, tau_s=0.012)
    return unit_peak(out)


def horn(*, rng: np.random.Generator, sample_rate_hz: int) -> np.ndarray:
    """A car horn: two clashing tones, one blast (peak 1)."""
    n = _n(rng.uniform(0.3, 1.0), sample_rate_hz)
    tones = (_tone(rng.uniform(400, 440), n, sample_rate_hz, harmonics=(1.0, 0.6, 0.4, 0.3))
             + _tone(rng.uniform(500, 540), n, sample_rate_hz, harmonics=(1.0, 0.6, 0.4, 0.3)))
    return unit_peak(np.tanh(2 * tones) * np.hanning(n).astype(np.float32) ** 0.1)


def thunder(*, rng: np.random.Generator, sample_rate_hz: int) -> np.ndarray:
    """Thunder: a sharp crack rolling into a long rumble (peak 1)."""
    n = _n(rng.uniform(2.0, 4.0), sample_rate_hz)
    crack = band(rng.standard_normal(n), sample_rate_hz=sample_rate_hz, low_hz=500)
    roll = band(_brown(rng, n), sample_rate_hz=sample_rate_hz, high_hz=300)
    return unit_peak(crack * _decay(n, sample_rate_hz, tau_s=0.08)
                     + 2 * roll * _decay(n, sample_rate_hz, tau_s=1.0, attack_s=0.2))


def crash(*, rng: np.random.Generator, sample_rate_hz: int) -> np.ndarray:
    """Something big collapsing: an impact followed by falling debris (peak 1)."""
    n = _n(rng.uniform(1.5, 3.0), sample_rate_hz)
    out = np.zeros(n, dtype=np.float32)
    impact = bang(rng=rng, sample_rate_hz=sample_rate_hz)
    out[:impact.size] += impact
    for _ in range(int(rng.integers(15, 40))):
        piece = rng.uniform(0.05, 0.5) * bang(rng=rng, sample_rate_hz=sample_rate_hz)
        begin = int(rng.uniform(0.05, 1.0) * (n - piece.size))
        out[begin:begin + piece.size] += piece
    return unit_peak(out)


def explosion(*, rng: np.random.Generator, sample_rate_hz: int) -> np.ndarray:
    """An explosion: a deep boom and debris (peak 1)."""
    n = _n(2.5, sample_rate_hz)
    boom = band(_brown(rng, n), sample_rate_hz=sample_rate_hz, high_hz=rng.uniform(200, 600))
    debris = crash(rng=rng, sample_rate_hz=sample_rate_hz)[:n]
    out = 2 * boom * _decay(n, sample_rate_hz, tau_s=0.6, attack_s=0.005)
    out[:debris.size] += 0.5 * debris
    return unit_peak(out)


def knocking(*, rng: np.random.Generator, sample_rate_hz: int) -> np.ndarray:
    """Banging on a door or a wall: 3–6 heavy knocks (peak 1)."""
    knocks, rate = int(rng.integers(3, 7)), rng.uniform(3, 5)
    n = _n(knocks / rate + 0.3, sample_rate_hz)
    out = np.zeros(n, dtype=np.float32)
    m = _n(0.15, sample_rate_hz)
    resonance = rng.uniform(150, 400)
    for k in range(knocks):
        knock = (_tone(resonance, m, sample_rate_hz, harmonics=(1.0, 0.5, 0.3))
                 + 0.5 * band(rng.standard_normal(m), sample_rate_hz=sample_rate_hz,
                              high_hz=2_000)) * _decay(m, sample_rate_hz, tau_s=0.03)
        begin = int(k / rate * sample_rate_hz)
        out[begin:begin + m] += knock
    return unit_peak(out)


def clink(*, rng: np.random.Generator, sample_rate_hz: int) -> np.ndarray:
    """Cups and dishes: a short bright ring (peak 1)."""
    n = _n(0.3, sample_rate_hz)
    top = 0.45 * sample_rate_hz
    ring = sum(_tone(min(rng.uniform(1_800, 5_000), top), n, sample_rate_hz) for _ in range(3))
    return unit_peak(ring * _decay(n, sample_rate_hz, tau_s=rng.uniform(0.03, 0.08)))


def siren_passing(*, rng: np.random.Generator, sample_rate_hz: int) -> np.ndarray:
    """An ambulance passing by in the street, rising and fading over a few seconds (peak 1)."""
    n = _n(rng.uniform(5.0, 9.0), sample_rate_hz)
    tone = siren(rng=rng, n_samples=n, sample_rate_hz=sample_rate_hz)
    return unit_peak(tone * np.hanning(n).astype(np.float32))


def real_sound(name: str, *, sample_rate_hz: int) -> np.ndarray:
    """A recording of :data:`REAL_SOUNDS`, mono at ``sample_rate_hz`` (peak 1).

    Raises ConfigError naming the Debian package when the file is missing.
    """
    if name not in REAL_SOUNDS:
        raise ConfigError(f"name={name!r} must be one of {sorted(REAL_SOUNDS)}")
    return _real_sound(name, sample_rate_hz)


@functools.lru_cache(maxsize=64)
def _real_sound(name: str, sample_rate_hz: int) -> np.ndarray:
    path, package = REAL_SOUNDS[name]
    if not os.path.exists(path):
        raise ConfigError(f"{path} is missing: install the Debian package {package} "
                          f"(scripts/install-system-deps.sh)")
    with open(path, "rb") as file:
        waveform = decode_audio(file, name=path, target_hz=sample_rate_hz)
    return unit_peak(waveform.samples[0])


def calm_voice_files() -> tuple[str, ...]:
    """The recordings :func:`calm_real_voice` draws from: the ``.wav`` prompts directly in
    :data:`CALM_VOICE_DIR` whose file name has an even CRC-32, sorted. Raises ConfigError
    naming the Debian package when the folder is missing."""
    if not os.path.isdir(CALM_VOICE_DIR):
        raise ConfigError(f"{CALM_VOICE_DIR} is missing: install the Debian package "
                          "asterisk-core-sounds-en-wav (scripts/install-system-deps.sh)")
    return tuple(sorted(
        os.path.join(CALM_VOICE_DIR, name) for name in os.listdir(CALM_VOICE_DIR)
        if name.endswith(".wav") and zlib.crc32(name.encode()) % 2 == 0))


@functools.lru_cache(maxsize=256)
def _recording(path: str, sample_rate_hz: int) -> np.ndarray:
    with open(path, "rb") as file:
        return unit_peak(decode_audio(file, name=path, target_hz=sample_rate_hz).samples[0])


def calm_real_voice(*, rng: np.random.Generator, seconds: float,
                    sample_rate_hz: int) -> np.ndarray:
    """About ``seconds`` of a real person speaking calmly (peak 1): recordings of
    :func:`calm_voice_files` drawn at random, 0.3–1.2 s apart."""
    files = calm_voice_files()
    pieces, total = [], 0
    while total < seconds * sample_rate_hz:
        piece = _recording(files[int(rng.integers(len(files)))], sample_rate_hz)
        gap = np.zeros(int(rng.uniform(0.3, 1.2) * sample_rate_hz), dtype=np.float32)
        pieces += [piece, gap]
        total += piece.size + gap.size
    return np.concatenate(pieces)


def _real_event(name: str) -> Event:
    def event(*, rng: np.random.Generator, sample_rate_hz: int) -> np.ndarray:
        sound = real_sound(name, sample_rate_hz=sample_rate_hz)
        repeats = int(rng.integers(1, 4)) if name == "phone_ring" else 1
        return np.tile(sound, repeats)
    event.__doc__ = f"The recording {REAL_SOUNDS[name][0]} (peak 1)."
    return event


BEDS: Mapping[str, Bed] = {
    "room_tone": room_tone, "traffic": traffic, "wind": wind, "rain": rain,
    "fire_roar": fire_roar, "hiss": hiss, "electric_buzz": electric_buzz, "rumble": rumble,
    "siren": siren, "smoke_alarm": smoke_alarm, "alarm_bell": alarm_bell,
    "car_alarm": car_alarm, "breathing": breathing, "birds": birds, "babble": babble,
    "television": television,
}
EVENTS: Mapping[str, Event] = {
    "bang": bang, "thud": thud, "glass_break": glass_break, "scream": scream,
    "laughter": laughter, "footsteps": footsteps, "horn": horn, "thunder": thunder,
    "crash": crash, "explosion": explosion, "knocking": knocking, "clink": clink,
    "siren_passing": siren_passing,
    "phone_ring": _real_event("phone_ring"), "alarm_clock": _real_event("alarm_clock"),
    "message_ping": _real_event("message_ping"),
}


# --- scenes -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Scene:
    """What a place sounds like: ``beds`` (one or two are drawn per call) and ``events``
    (drawn at ``events_per_min`` on average, at least ``min_events``)."""

    beds: tuple[str, ...]
    events: tuple[str, ...]
    events_per_min: float
    min_events: int

    def __post_init__(self) -> None:
        unknown = [b for b in self.beds if b not in BEDS] + [e for e in self.events
                                                               if e not in EVENTS]
        if unknown or not self.beds:
            raise ConfigError(f"scene names unknown sounds {unknown} or has no bed")


def _distress(beds: tuple[str, ...], events: tuple[str, ...]) -> Scene:
    return Scene(beds=beds, events=events, events_per_min=8.0, min_events=1)


#: Scene of each category: distress for emergencies, everyday for normal calls (and pranks).
SCENES: Mapping[str, Scene] = {
    "sexual_assault": _distress(("traffic", "room_tone", "breathing"),
                                ("scream", "footsteps", "bang")),
    "robbery": _distress(("alarm_bell", "room_tone", "traffic"), ("glass_break", "bang", "scream")),
    "theft": _distress(("traffic", "car_alarm", "room_tone"), ("footsteps", "glass_break", "horn")),
    "violence": _distress(("babble", "room_tone", "traffic"), ("bang", "scream", "glass_break")),
    "trapped": _distress(("alarm_bell", "breathing", "room_tone"), ("knocking", "bang")),
    "electrical": _distress(("electric_buzz", "room_tone"), ("bang", "explosion")),
    "gas": _distress(("hiss", "smoke_alarm", "room_tone"), ("explosion", "glass_break")),
    "fire": _distress(("fire_roar", "smoke_alarm", "siren", "babble"),
                      ("bang", "glass_break", "scream")),
    "medical": _distress(("breathing", "room_tone", "television"), ("thud", "scream")),
    "storm": _distress(("wind", "rain"), ("thunder", "bang", "crash")),
    "earthquake": _distress(("rumble", "room_tone", "babble"), ("crash", "glass_break", "bang")),
    "fall": _distress(("breathing", "room_tone", "traffic"), ("thud", "bang")),
    "collapse": _distress(("rumble", "babble", "siren"), ("crash", "bang", "scream")),
    "help_request": _distress(("wind", "traffic", "babble", "siren"), ("scream", "horn", "bang")),
    "normal_indoor": Scene(beds=("room_tone", "television", "babble"),
                           events=("phone_ring", "alarm_clock", "message_ping", "clink",
                                   "laughter"),
                           events_per_min=3.0, min_events=0),
    "normal_outdoor": Scene(beds=("traffic", "babble", "birds", "wind"),
                            events=("horn", "footsteps", "siren_passing", "laughter"),
                            events_per_min=3.0, min_events=0),
}


def background(*, scene: Scene, rng: np.random.Generator, n_samples: int,
               sample_rate_hz: int) -> np.ndarray:
    """One call's background from ``scene``: float32 (n_samples,), RMS 1.

    One or two beds (the second 0–10 dB below the first) plus events at random times, each
    0–9 dB above the beds' RMS over its own length.
    """
    if n_samples <= 0:
        raise ConfigError(f"n_samples={n_samples} must be > 0")
    n_beds = min(len(scene.beds), int(rng.integers(1, 3)))
    chosen = rng.choice(len(scene.beds), size=n_beds, replace=False)
    out = np.zeros(n_samples, dtype=np.float32)
    for rank, index in enumerate(chosen):
        gain = 1.0 if rank == 0 else 10 ** (-rng.uniform(0, 10) / 20)
        out += gain * BEDS[scene.beds[index]](rng=rng, n_samples=n_samples,
                                               sample_rate_hz=sample_rate_hz)
    out = unit_rms(out)
    minutes = n_samples / sample_rate_hz / 60
    n_events = max(scene.min_events, int(rng.poisson(scene.events_per_min * minutes)))
    for _ in range(n_events):
        sound = EVENTS[scene.events[int(rng.integers(len(scene.events)))]](
            rng=rng, sample_rate_hz=sample_rate_hz)[:n_samples]
        begin = int(rng.integers(0, n_samples - sound.size + 1))
        out[begin:begin + sound.size] += 10 ** (rng.uniform(0, 9) / 20) * unit_rms(sound)
    return unit_rms(out)
