"""Korean speech from espeak-ng: voices, deliveries, and synthesis to float samples.

A caller's :class:`Voice` is an espeak-ng Korean voice with a variant (``ko+f2``,
``ko+m3`` …) and settings: speed ``-s`` (words per minute), pitch ``-p`` (0–99), amplitude
``-a`` (0–200) and word gap ``-g`` (units of 10 ms). :func:`caller_voice` derives a base
voice from the caller id, so a repeat caller sounds the same in every call;
:func:`deliver` shifts it for the way the call is spoken: ``"distress"`` (emergencies:
faster, higher, louder, shorter gaps), ``"calm"`` (normal calls) or ``"amused"``
(pranks: slow, normal pitch, quiet, long gaps).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import zlib

import numpy as np

from transforms.audio import decode_audio
from transforms.errors import ConfigError

#: espeak-ng variants that give a usable Korean voice, female then male.
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5", "Andrea", "aunty", "belinda", "linda",
                   "steph", "Annie", "grandma")
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "adam", "david", "Michael",
                 "paul", "grandpa")
#: Deliveries and the ranges they draw from: speed (wpm), pitch, amplitude, word gap.
DELIVERIES = {
    "distress": {"speed": (25, 70), "pitch": (12, 30), "amplitude": (150, 190), "gap": (0, 1)},
    "calm": {"speed": (-10, 15), "pitch": (-5, 5), "amplitude": (100, 130), "gap": (1, 3)},
    "amused": {"speed": (-35, -10), "pitch": (-5, 5), "amplitude": (85, 115), "gap": (2, 5)},
}
_TIMEOUT_S = 30.0
#: espeak-ng opens a PulseAudio client even when it only writes to stdout. When that user
#: has no PulseAudio runtime directory yet (a fresh machine, a new HOME, a cleaned /tmp),
#: the client names a new one with twelve rand() draws per attempt. espeak-ng takes its
#: breath noise (variants such as f3 and f5) from the same unseeded rand(), so that one
#: utterance would differ from every later one. A server address that cannot exist makes
#: the client give up before it looks for the directory; the speech is unchanged.
_NO_SOUND_SERVER = {"PULSE_SERVER": "unix:/dev/null/no-sound-server"}


@dataclasses.dataclass(frozen=True)
class Voice:
    """espeak-ng settings: ``variant`` (e.g. "f2"), speed in words per minute, pitch
    0–99, amplitude 0–200, word gap in units of 10 ms."""

    variant: str
    speed_wpm: int
    pitch: int
    amplitude: int
    word_gap: int

    def __post_init__(self) -> None:
        if self.variant not in FEMALE_VARIANTS + MALE_VARIANTS:
            raise ConfigError(f"variant={self.variant!r} is not a known espeak-ng variant")
        for name, low, high in (("speed_wpm", 80, 450), ("pitch", 0, 99),
                                ("amplitude", 0, 200), ("word_gap", 0, 100)):
            value = getattr(self, name)
            if not low <= value <= high:
                raise ConfigError(f"{name}={value} must be in [{low}, {high}]")


def caller_voice(*, caller_id: str, seed: int) -> Voice:
    """The base voice of ``caller_id`` in the corpus of ``seed``: same id, same voice."""
    rng = np.random.default_rng([seed, zlib.crc32(caller_id.encode("utf-8"))])
    variants = FEMALE_VARIANTS if rng.random() < 0.5 else MALE_VARIANTS
    return Voice(variant=variants[int(rng.integers(len(variants)))],
                 speed_wpm=int(rng.integers(150, 181)), pitch=int(rng.integers(35, 66)),
                 amplitude=110, word_gap=1)


def deliver(voice: Voice, *, style: str, rng: np.random.Generator) -> Voice:
    """``voice`` as spoken in ``style`` (a key of :data:`DELIVERIES`).

    Speed and pitch are shifted from the base voice; amplitude and gap are drawn afresh.
    """
    if style not in DELIVERIES:
        raise ConfigError(f"style={style!r} must be one of {sorted(DELIVERIES)}")
    ranges = DELIVERIES[style]

    def draw(key: str) -> int:
        low, high = ranges[key]
        return int(rng.integers(low, high + 1))

    return dataclasses.replace(
        voice,
        speed_wpm=int(np.clip(voice.speed_wpm + draw("speed"), 80, 450)),
        pitch=int(np.clip(voice.pitch + draw("pitch"), 0, 99)),
        amplitude=draw("amplitude"),
        word_gap=draw("gap"),
    )


def synthesize(text: str, *, voice: Voice, sample_rate_hz: int) -> np.ndarray:
    """Speaks Korean ``text`` with espeak-ng; float32 (n,) at ``sample_rate_hz``.

    espeak-ng writes 22,050 Hz 16-bit WAV to stdout; it is decoded and resampled with
    :mod:`transforms.audio`. Numbers must already be Hangul words. Raises ConfigError when
    espeak-ng is missing or fails, or ``text`` is blank.
    """
    if not text.strip():
        raise ConfigError(f"text={text!r} is blank; nothing to speak")
    if shutil.which("espeak-ng") is None:
        raise ConfigError("espeak-ng is not installed; run scripts/install-system-deps.sh")
    command = ["espeak-ng", "-v", f"ko+{voice.variant}", "-s", str(voice.speed_wpm),
               "-p", str(voice.pitch), "-a", str(voice.amplitude), "-g", str(voice.word_gap),
               "--stdout", "--stdin"]
    try:
        result = subprocess.run(command, input=text.encode("utf-8"), capture_output=True,
                                env={**os.environ, **_NO_SOUND_SERVER}, timeout=_TIMEOUT_S,
                                check=True)
    except subprocess.CalledProcessError as error:
        raise ConfigError(
            f"espeak-ng failed on {text!r}: {error.stderr.decode(errors='replace')}") from error
    except subprocess.TimeoutExpired as error:
        raise ConfigError(f"espeak-ng took over {_TIMEOUT_S} s on {text!r}") from error
    waveform = decode_audio(result.stdout, name=f"espeak-ng {text[:20]!r}",
                            target_hz=sample_rate_hz)
    return waveform.samples[0]
