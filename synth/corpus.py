"""Plan and generate a synthetic archive: audio files plus ``manifest.csv``, or the AI Hub
layouts (:mod:`synth.aihub`) (docs/archive.md).

:func:`plan_corpus` decides every call up front, from the seed alone: label, category,
template (and so split), line, caller, start time, format and length. :func:`render_call`
turns one plan into audio with a generator seeded by (seed, call index), so calls can be
rendered in any order, by any number of processes, with byte-identical results.
:func:`generate_corpus` renders in parallel and writes the archive.

A call is three tracks laid on a timeline: the caller's espeak-ng lines, the call-taker's
lines (and, now and then, a telephone-system prompt), and the line itself (a ringback tone
before the answer). The caller's track is mixed with the background of the category's
scene at a drawn SNR (see :mod:`synth.channel` for the convention); the call-taker is
heard faintly in mono files and on the right channel of stereo ones. Long calls (2–5 min)
are ordinary talk with, for emergencies, an episode in the middle: its distress sounds and
emergency lines fill [event_start_s, event_end_s].
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import csv
import dataclasses
import datetime
import logging
import math
import multiprocessing
import os
import shutil
import zlib
from typing import Mapping, Sequence

import numpy as np

from synth import aihub, channel, registers, scripts, sounds, speech
from transforms.errors import ConfigError
from transforms.spec import EMERGENCY_CATEGORIES, NORMAL_CATEGORIES

LOGGER = logging.getLogger(__name__)

MANIFEST_COLUMNS = ("call_id", "audio", "transcript", "started_at", "caller_id", "line",
                    "label", "category", "split", "template_id", "event_start_s", "event_end_s")
LABEL_WEIGHTS = {"emergency": 0.45, "normal": 0.40, "prank": 0.15}
NORMAL_WEIGHTS = {"normal_indoor": 0.6, "normal_outdoor": 0.4}
SPLIT_WEIGHTS = {"train": 0.70, "validation": 0.15, "test": 0.15}
#: Share of prank calls made by repeat callers (each makes ~3 calls in the corpus).
REPEAT_PRANK_SHARE = 0.4
SHORT_S = (3.0, 30.0)  # short calls: target length, log-uniform (s)
EXAMPLE_SHORT_S = (3.0, 10.0)  # the bundled example keeps its calls short (small files)
LONG_S = (120.0, 300.0)  # long calls: default length range (s), uniform
EXAMPLE_LONG_S = 120.0
MIN_LONG_S = 30.0  # shortest a long call may be set to last: the longest short-call target
EPISODE_S = (20.0, 50.0)  # length of the emergency episode of a long call (s)
SNR_DB = {"emergency": (-3.0, 15.0), "normal": (3.0, 25.0), "prank": (5.0, 30.0)}
BASE_TIME = datetime.datetime(2024, 6, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=9)))
SPAN_S = 7 * 24 * 3600  # started_at falls within a week from BASE_TIME
STYLES = {"emergency": "distress", "normal": "calm", "prank": "amused"}
#: Share of short emergency calls whose caller speaks calmly (the words carry the emergency).
CALM_EMERGENCY_SHARE = 0.2
#: Share of short emergency calls whose caller keeps pleading (빨리요!, 살려 주세요!) at the end.
PLEADING_SHARE = 0.5
#: Share of short normal and prank calls heard over a distress scene, and of short
#: emergencies heard over an everyday one (:func:`_scene`).
MISLEADING_SCENE_SHARE = 0.2
QUIET_EMERGENCY_SHARE = 0.15
#: Share of short emergency and normal calls archived without a transcript.
AUDIO_ONLY_SHARE = 0.12
#: Share of the normal calls without a transcript whose caller is a real person speaking
#: calmly (:func:`synth.sounds.calm_real_voice`) instead of espeak-ng.
REAL_VOICE_SHARE = 0.5
_PLAN_STREAM, _RENDER_STREAM = 1, 2


@dataclasses.dataclass(frozen=True)
class CallPlan:
    """Everything decided about one call before it is rendered.

    ``duration_s``: the target length (a short call grows to fit its lines); ``long``: a
    2–5 min call; ``audio_format``: a key of :data:`synth.channel.FORMATS`;
    ``audio_only``: the call has no transcript (its words are still spoken).
    """

    index: int
    seed: int
    call_id: str
    label: str
    category: str
    template_id: str
    split: str
    line: str
    caller_id: str
    started_at: str
    audio_format: str
    duration_s: float
    long: bool
    audio_only: bool = False

    @property
    def audio_path(self) -> str:
        """The audio file's path relative to the archive root."""
        return f"audio/{self.call_id}.{channel.FORMATS[self.audio_format].extension}"


@dataclasses.dataclass(frozen=True)
class RenderedCall:
    """A rendered call: float32 ``samples`` (n_channels, n) in [-1, 1] at the format's rate,
    the caller's ``transcript``, and the emergency episode in seconds (long emergency
    calls only, else ``None``)."""

    samples: np.ndarray
    sample_rate_hz: int
    transcript: str
    event_start_s: float | None
    event_end_s: float | None


# --- planning -----------------------------------------------------------------------------

def _weighted(rng: np.random.Generator, weights: Mapping[str, float], size: int) -> list[str]:
    keys = list(weights)
    p = np.array([weights[k] for k in keys])
    return [keys[i] for i in rng.choice(len(keys), size=size, p=p / p.sum())]


def _category(rng: np.random.Generator, label: str) -> str:
    if label == "normal":
        return _weighted(rng, NORMAL_WEIGHTS, 1)[0]
    return EMERGENCY_CATEGORIES[int(rng.integers(len(EMERGENCY_CATEGORIES)))]


def _apportion(weights: Mapping[str, float], n: int) -> list[str]:
    """``n`` keys in proportion to ``weights`` (largest remainders), each at least once."""
    total = sum(weights.values())
    exact = {k: max(1.0, n * w / total) for k, w in weights.items()}
    counts = {k: int(v) for k, v in exact.items()}
    for key in sorted(exact, key=lambda k: counts[k] - exact[k])[:max(0, n - sum(counts.values()))]:
        counts[key] += 1
    return [key for key in weights for _ in range(counts[key])][:n]


def _random_mix(rng: np.random.Generator, n_calls: int, long_fraction: float) -> list[tuple]:
    """(label, category, split, format, long) per call, drawn independently."""
    formats = {name: f.weight for name, f in channel.FORMATS.items()}
    labels = _weighted(rng, LABEL_WEIGHTS, n_calls)
    splits = _weighted(rng, SPLIT_WEIGHTS, n_calls)
    fmts = _weighted(rng, formats, n_calls)
    mix = []
    long_odds = long_fraction / (1 - LABEL_WEIGHTS["prank"])  # pranks are never long
    for label, split, fmt in zip(labels, splits, fmts):
        long = label != "prank" and rng.random() < long_odds
        mix.append((label, _category(rng, label), split, fmt, long))
    return mix


def _covering_mix(rng: np.random.Generator, n_calls: int) -> list[tuple]:
    """Like :func:`_random_mix` but guaranteeing coverage: every label and split, every
    format once and then only 8 kHz telephone formats (small files), emergencies cycling
    through the categories, one long emergency call in μ-law."""
    if n_calls < 20:
        raise ConfigError(f"calls={n_calls} is too few for --example; give at least 20")

    def shuffled(keys: Sequence[str]) -> list[str]:
        return [keys[i] for i in rng.permutation(len(keys))]

    labels = shuffled(_apportion(LABEL_WEIGHTS, n_calls))
    splits = shuffled(_apportion(SPLIT_WEIGHTS, n_calls))
    telephone = {name: f.weight for name, f in channel.FORMATS.items() if f.telephone}
    fmts = shuffled(list(channel.FORMATS) + _weighted(rng, telephone,
                                                      n_calls - len(channel.FORMATS)))
    first, ulaw = labels.index("emergency"), fmts.index("ulaw_8k")
    fmts[first], fmts[ulaw] = fmts[ulaw], fmts[first]  # the long call is μ-law
    cycle = shuffled(EMERGENCY_CATEGORIES)
    mix, n_emergencies = [], 0
    for label, split, fmt in zip(labels, splits, fmts):
        if label == "emergency":
            category = cycle[n_emergencies % len(cycle)]
            long = n_emergencies == 0
            n_emergencies += 1
            mix.append((label, category, split, fmt, long))
        else:
            mix.append((label, _category(rng, label), split, fmt, False))
    return mix


def _phone_number(number: int) -> str:
    return f"010-{number // 10_000:04d}-{number % 10_000:04d}"


def plan_corpus(*, n_calls: int, seed: int, example: bool = False, long_fraction: float = 0.02,
                min_long_s: float = LONG_S[0], max_long_s: float = LONG_S[1]) -> list[CallPlan]:
    """Plans ``n_calls`` calls from ``seed``; the same arguments give the same plans.

    Labels ~45 % emergency, 40 % normal, 15 % prank; splits ~70/15/15 by template;
    :data:`AUDIO_ONLY_SHARE` of the short emergency and normal calls without a transcript
    (never in the example); about
    ``long_fraction`` of all calls (never a prank) last uniform(``min_long_s``,
    ``max_long_s``) seconds, 2–5 min by default (30 s–2 min gives a benchmark an even
    spread of lengths above the short calls' 3–30 s); 40 %
    of the pranks come from a few repeat callers. ``example=True`` guarantees coverage for
    the bundled example (:func:`_covering_mix`): short calls of 3–10 s, one 2-minute
    emergency, and one prank caller who calls three times.
    """
    if n_calls < 1:
        raise ConfigError(f"calls={n_calls} must be >= 1")
    if seed < 0:
        raise ConfigError(f"seed={seed} must be >= 0")
    if not 0 <= long_fraction <= 1 - LABEL_WEIGHTS["prank"]:
        raise ConfigError(f"long_fraction={long_fraction} must be in [0, "
                          f"{1 - LABEL_WEIGHTS['prank']}] (pranks are never long)")
    if not MIN_LONG_S <= min_long_s <= max_long_s:
        raise ConfigError(f"long calls' length range min_long_s={min_long_s}, max_long_s="
                          f"{max_long_s} must satisfy {MIN_LONG_S} <= min <= max")
    rng = np.random.default_rng([seed, _PLAN_STREAM])
    mix = _covering_mix(rng, n_calls) if example else _random_mix(rng, n_calls, long_fraction)
    splits = scripts.template_splits(seed=seed)
    n_pranks = sum(1 for label, *_ in mix if label == "prank")
    repeaters = max(1, round(n_pranks * REPEAT_PRANK_SHARE / 3))
    numbers = [_phone_number(int(k)) for k in rng.choice(10 ** 8, size=n_calls + repeaters,
                                                        replace=False)]
    offsets = np.sort(rng.uniform(0, SPAN_S, n_calls))
    low, high = EXAMPLE_SHORT_S if example else SHORT_S
    plans, pranks_seen = [], 0
    for index, (label, category, split, fmt, long) in enumerate(mix):
        template = scripts.templates_in(splits, categories=(category,), split=split,
                                       pranks=label == "prank")
        chosen = template[int(rng.integers(len(template)))]
        caller = numbers[repeaters + index]
        if label == "prank":
            repeat = pranks_seen < 3 if example else rng.random() < REPEAT_PRANK_SHARE
            if repeat:
                caller = numbers[0 if example else int(rng.integers(repeaters))]
            pranks_seen += 1
        if long:
            duration = (EXAMPLE_LONG_S if example
                        else float(rng.uniform(min_long_s, max_long_s)))
        else:
            duration = float(np.exp(rng.uniform(np.log(low), np.log(high))))
        line = (str(rng.choice(("112", "119"))) if label == "normal"
                else scripts.line_for(category))
        audio_only = (not example and not long and label != "prank"
                      and rng.random() < AUDIO_ONLY_SHARE)
        started = BASE_TIME + datetime.timedelta(seconds=int(offsets[index]))
        plans.append(CallPlan(
            index=index, seed=seed, call_id=f"syn{seed}-{index:05d}", label=label,
            category=category, template_id=chosen.template_id, split=split, line=line,
            caller_id=caller, started_at=started.isoformat(), audio_format=fmt,
            duration_s=round(duration, 3), long=long, audio_only=audio_only))
    return plans


# --- rendering ----------------------------------------------------------------------------

class _Timeline:
    """Sounds placed in time on named tracks, rendered to arrays at the end."""

    def __init__(self, sample_rate_hz: int) -> None:
        self.sample_rate_hz = sample_rate_hz
        self.pieces: dict[str, list[tuple[int, np.ndarray]]] = {}

    def add(self, track: str, start_s: float, samples: np.ndarray, gain: float = 1.0) -> float:
        """Places ``samples`` (n,) at ``start_s`` on ``track``; returns where they end (s)."""
        start = int(round(start_s * self.sample_rate_hz))
        self.pieces.setdefault(track, []).append((start, gain * samples))
        return (start + samples.size) / self.sample_rate_hz

    def render(self, track: str, n_samples: int) -> np.ndarray:
        """The track as float32 (n_samples,), cut at ``n_samples``."""
        out = np.zeros(n_samples, dtype=np.float32)
        for start, samples in self.pieces.get(track, []):
            end = min(n_samples, start + samples.size)
            if end > start:
                out[start:end] += samples[:end - start]
        return out


@dataclasses.dataclass(frozen=True)
class _Speaker:
    """Who speaks on a track: a voice and the pause range after each line (s)."""

    track: str
    voice: speech.Voice
    gap_s: tuple[float, float]


def _say(timeline: _Timeline, speaker: _Speaker, phrase: scripts.Phrase, *, at_s: float,
         rng: np.random.Generator, until_s: float = math.inf) -> float | None:
    """Speaks ``phrase`` at ``at_s`` if it ends by ``until_s``: returns the time after it
    and a pause, or ``None`` (nothing placed) when it would not fit."""
    audio = speech.synthesize(phrase.spoken, voice=speaker.voice,
                              sample_rate_hz=timeline.sample_rate_hz)
    if at_s + audio.size / timeline.sample_rate_hz > until_s:
        return None
    return timeline.add(speaker.track, at_s, audio) + float(rng.uniform(*speaker.gap_s))


def _taker(rng: np.random.Generator) -> _Speaker:
    variant = ("f3", "m1", "f5", "m4")[int(rng.integers(4))]
    voice = speech.Voice(variant=variant, speed_wpm=int(rng.integers(160, 185)),
                         pitch=int(rng.integers(40, 55)), amplitude=100, word_gap=1)
    return _Speaker("taker", voice, (0.3, 0.8))


_CALLER_GAPS_S = {"distress": (0.15, 0.6), "calm": (0.4, 1.2), "amused": (0.6, 1.6)}


def _caller(plan: CallPlan, rng: np.random.Generator, style: str, *,
            gap_s: tuple[float, float] | None = None) -> _Speaker:
    base = speech.caller_voice(caller_id=plan.caller_id, seed=plan.seed)
    return _Speaker("caller", speech.deliver(base, style=style, rng=rng),
                    gap_s or _CALLER_GAPS_S[style])


def _opening(timeline: _Timeline, plan: CallPlan, taker: _Speaker,
             rng: np.random.Generator) -> float:
    """Ringback (sometimes), the call-taker's greeting and (sometimes) a system prompt."""
    t = float(rng.uniform(0.1, 0.6))
    if rng.random() < 0.2:
        ring = sounds.real_sound("ringback", sample_rate_hz=timeline.sample_rate_hz)
        for _ in range(int(rng.integers(1, 3))):
            t = timeline.add("line", t, 0.3 * ring)
    greetings = scripts.TAKER_GREETINGS[plan.line]
    t = _say(timeline, taker, greetings[int(rng.integers(len(greetings)))], at_s=t, rng=rng)
    if rng.random() < 0.15:
        prompt = sounds.PROMPTS[int(rng.integers(len(sounds.PROMPTS)))]
        recording = sounds.real_sound(prompt, sample_rate_hz=timeline.sample_rate_hz)
        t = timeline.add("taker", t, recording, gain=0.5) + 0.3
    return t


def _script(plan: CallPlan, rng: np.random.Generator) -> tuple[list[scripts.Phrase],
                                                               scripts.Phrase | None, int]:
    """The caller's lines; a prank's closing joke (said even when lines are cut short);
    the index of the template's first line (said even when the call runs long)."""
    written = scripts.render_template(scripts.TEMPLATES_BY_ID[plan.template_id], rng=rng)
    _, lines = registers.speak_in(written, label=plan.label, rng=rng)
    first = len(lines) - len(written)  # the lines a register put before the template's
    if plan.label != "prank":
        return lines, None, first
    opening, ending = scripts.prank_markers(rng=rng)
    if opening is None:
        return lines, ending, first
    return [opening] + lines, ending, first + 1


def _short_call(plan: CallPlan, timeline: _Timeline, rng: np.random.Generator,
                words: list[scripts.Phrase]) -> float:
    """Lays out a short call: as many lines as fit in its target length (at least the
    template's first line, and a prank's closing joke); returns its length (s)."""
    taker = _taker(rng)
    calm = plan.label == "emergency" and rng.random() < CALM_EMERGENCY_SHARE
    caller = _caller(plan, rng, "calm" if calm else STYLES[plan.label])
    t = _opening(timeline, plan, taker, rng)
    if plan.audio_only and plan.label == "normal" and rng.random() < REAL_VOICE_SHARE:
        voice = sounds.calm_real_voice(rng=rng, seconds=max(plan.duration_s - t, 2.0),
                                       sample_rate_hz=timeline.sample_rate_hz)
        return timeline.add("caller", t, voice) + float(rng.uniform(0.3, 1.0))
    lines, ending, first = _script(plan, rng)
    replies = scripts.TAKER_REPLIES[plan.label]
    for number, phrase in enumerate(lines):
        end = _say(timeline, caller, phrase, at_s=t, rng=rng,
                   until_s=plan.duration_s if number > first else math.inf)
        if end is None:
            break
        t = end
        words.append(phrase)
        if number + 1 < len(lines) and rng.random() < 0.3:
            reply = replies[int(rng.integers(len(replies)))]
            t = _say(timeline, taker, reply, at_s=t, rng=rng, until_s=plan.duration_s) or t
    if ending is not None:
        t = _say(timeline, caller, ending, at_s=t, rng=rng)
        words.append(ending)
    if plan.label == "prank" and rng.random() < 0.6:
        laugh = sounds.laughter(rng=rng, sample_rate_hz=timeline.sample_rate_hz)
        t = timeline.add("caller", t, 0.7 * laugh) + 0.3
    pleas = 3 if plan.label == "emergency" and rng.random() < PLEADING_SHARE else 0
    for _ in range(pleas):
        phrase = scripts.URGENT_REPEATS[int(rng.integers(len(scripts.URGENT_REPEATS)))]
        end = _say(timeline, caller, phrase, at_s=t, rng=rng, until_s=plan.duration_s)
        if end is None:
            break
        t = end
        words.append(phrase)
    return max(plan.duration_s, t + float(rng.uniform(0.3, 1.0)))


def _chatter(timeline: _Timeline, speaker: _Speaker, fillers: Sequence[scripts.Template], *,
             start_s: float, end_s: float, rng: np.random.Generator,
             words: list[scripts.Phrase]) -> None:
    """Everyday talk from ``fillers`` between ``start_s`` and ``end_s``, with long pauses."""
    t = start_s
    while True:
        template = fillers[int(rng.integers(len(fillers)))]
        for phrase in scripts.render_template(template, rng=rng):
            end = _say(timeline, speaker, phrase, at_s=t, rng=rng, until_s=end_s)
            if end is None:
                return
            t = end
            words.append(phrase)
        t += float(rng.uniform(2.0, 12.0))


def _long_call(plan: CallPlan, timeline: _Timeline, rng: np.random.Generator,
               words: list[scripts.Phrase]) -> tuple[float, float] | None:
    """Lays out a 2–5 min call of everyday talk; an emergency call gets its episode in the
    middle. Returns the episode (start, end) in seconds, or None."""
    taker = _taker(rng)
    calm = _caller(plan, rng, "calm", gap_s=(1.0, 4.0))
    fillers = scripts.templates_in(scripts.template_splits(seed=plan.seed),
                                   categories=NORMAL_CATEGORIES, split=plan.split)
    t = _opening(timeline, plan, taker, rng)
    if plan.label != "emergency":
        _chatter(timeline, calm, fillers, start_s=t, end_s=plan.duration_s - 1.0, rng=rng,
                 words=words)
        return None
    start = float(rng.uniform(0.25, 0.6)) * plan.duration_s
    end = start + min(float(rng.uniform(*EPISODE_S)), 0.3 * plan.duration_s)
    _chatter(timeline, calm, fillers, start_s=t, end_s=start - 1.0, rng=rng, words=words)
    caller = _caller(plan, rng, "distress")
    lines, _, _ = _script(plan, rng)
    t = start + float(rng.uniform(0.5, 2.0))
    for number, phrase in enumerate(lines):
        t = _say(timeline, caller, phrase, at_s=t, rng=rng)
        words.append(phrase)
        if number == 0:
            replies = scripts.TAKER_REPLIES["emergency"]
            t = _say(timeline, taker, replies[int(rng.integers(len(replies)))], at_s=t, rng=rng)
    while t + 3.0 < end:
        phrase = scripts.URGENT_REPEATS[int(rng.integers(len(scripts.URGENT_REPEATS)))]
        t = _say(timeline, caller, phrase, at_s=t, rng=rng)
        words.append(phrase)
    end = min(max(end, t), plan.duration_s - 1.0)
    _chatter(timeline, calm, fillers, start_s=end + 3.0, end_s=plan.duration_s - 1.0, rng=rng,
             words=words)
    return start, end


def _fade(n_samples: int, sample_rate_hz: int) -> np.ndarray:
    """A window (n,) rising and falling over 0.5 s at each end."""
    ramp = min(n_samples // 2, int(0.5 * sample_rate_hz))
    window = np.ones(n_samples, dtype=np.float32)
    if ramp:
        window[:ramp] = np.linspace(0, 1, ramp)
        window[-ramp:] = np.linspace(1, 0, ramp)
    return window


def _at_level(track: np.ndarray, *, level: float, sample_rate_hz: int) -> np.ndarray:
    """``track`` scaled so its active RMS is ``level`` (silence stays silence)."""
    current = channel.active_rms(track, sample_rate_hz=sample_rate_hz)
    return track * (level / current) if current > 0 else track


def _everyday(plan: CallPlan, rng: np.random.Generator) -> str:
    if plan.label == "normal":
        return plan.category
    return NORMAL_CATEGORIES[int(rng.integers(len(NORMAL_CATEGORIES)))]


def _scene(plan: CallPlan, rng: np.random.Generator) -> str:
    """The background scene of a short call: an emergency's own distress scene, an
    everyday one otherwise; but :data:`MISLEADING_SCENE_SHARE` of the other calls are heard
    over a distress scene (a siren passing, a television scream, a drill's alarm) and
    :data:`QUIET_EMERGENCY_SHARE` of the emergencies over an everyday one, so that the
    sound alone is evidence, not proof."""
    if plan.label == "emergency":
        if rng.random() < QUIET_EMERGENCY_SHARE:
            return _everyday(plan, rng)
        return plan.category
    if rng.random() < MISLEADING_SCENE_SHARE:
        return EMERGENCY_CATEGORIES[int(rng.integers(len(EMERGENCY_CATEGORIES)))]
    return _everyday(plan, rng)


def render_call(plan: CallPlan) -> RenderedCall:
    """Renders one planned call; the same plan always gives the same samples."""
    audio_format = channel.FORMATS[plan.audio_format]
    sr = audio_format.sample_rate_hz
    rng = np.random.default_rng([plan.seed, _RENDER_STREAM, plan.index])
    timeline = _Timeline(sr)
    words: list[scripts.Phrase] = []
    episode = None
    if plan.long:
        episode = _long_call(plan, timeline, rng, words)
        duration = plan.duration_s
    else:
        duration = _short_call(plan, timeline, rng, words)
    n = int(round(duration * sr))
    if episode is None:
        noise = sounds.background(scene=sounds.SCENES[_scene(plan, rng)], rng=rng, n_samples=n,
                                  sample_rate_hz=sr)
    else:
        noise = sounds.background(scene=sounds.SCENES[_everyday(plan, rng)], rng=rng,
                                  n_samples=n, sample_rate_hz=sr)
        begin, end = (int(round(x * sr)) for x in episode)
        distress = sounds.background(scene=sounds.SCENES[plan.category], rng=rng,
                                     n_samples=end - begin, sample_rate_hz=sr)
        lift = 10 ** (rng.uniform(6, 12) / 20)
        noise[begin:end] += lift * distress * _fade(end - begin, sr)
    voice_track = timeline.render("caller", n)
    mixed = channel.mix_at_snr(signal=voice_track, noise=noise,
                               snr_db=float(rng.uniform(*SNR_DB[plan.label])), sample_rate_hz=sr)
    taker_track = timeline.render("taker", n)
    line_track = timeline.render("line", n)
    level = channel.active_rms(voice_track, sample_rate_hz=sr)
    taker_track = _at_level(taker_track, level=level, sample_rate_hz=sr)
    line_track = _at_level(line_track, level=0.5 * level, sample_rate_hz=sr)
    if audio_format.n_channels == 2:
        hiss = 0.003 * level * rng.standard_normal(n).astype(np.float32)
        channels = [mixed + line_track, taker_track + line_track + hiss]
    else:
        taker_gain = 10 ** (-rng.uniform(6, 14) / 20) if rng.random() < 0.6 else 0.0
        channels = [mixed + taker_gain * taker_track + line_track]
    if audio_format.telephone:
        channels = [channel.telephone_band(c, sample_rate_hz=sr) for c in channels]
    if plan.label == "emergency":
        peak = rng.uniform(1.1, 1.6) if rng.random() < 0.15 else rng.uniform(0.6, 1.0)
    else:
        peak = rng.uniform(0.3, 0.9)
    samples = channel.set_level(np.stack(channels), peak=float(peak))
    return RenderedCall(
        samples=samples, sample_rate_hz=sr,
        transcript="" if plan.audio_only else " ".join(p.text for p in words),
        event_start_s=None if episode is None else round(episode[0], 3),
        event_end_s=None if episode is None else round(episode[1], 3))


# --- writing ------------------------------------------------------------------------------

def manifest_row(plan: CallPlan, call: RenderedCall) -> dict[str, str]:
    """The manifest row of a rendered call; every value as text, empty when absent."""
    def seconds(value: float | None) -> str:
        return "" if value is None else f"{value:.3f}"

    return {
        "call_id": plan.call_id, "audio": plan.audio_path, "transcript": call.transcript,
        "started_at": plan.started_at, "caller_id": plan.caller_id, "line": plan.line,
        "label": plan.label, "category": plan.category, "split": plan.split,
        "template_id": plan.template_id, "event_start_s": seconds(call.event_start_s),
        "event_end_s": seconds(call.event_end_s),
    }


def write_call(plan: CallPlan, *, out_dir: str) -> dict[str, str]:
    """Renders ``plan``, writes its audio under ``out_dir``; returns its manifest row."""
    call = render_call(plan)
    data = channel.encode_call(call.samples, audio_format=channel.FORMATS[plan.audio_format],
                               ogg_serial=zlib.crc32(plan.call_id.encode("utf-8")))
    path = os.path.join(out_dir, plan.audio_path)
    with open(path, "wb") as file:
        file.write(data)
    return manifest_row(plan, call)


def write_manifest(rows: Sequence[Mapping[str, str]], *, out_dir: str) -> str:
    """Writes ``manifest.csv`` (UTF-8, :data:`MANIFEST_COLUMNS`) atomically; returns its path."""
    path = os.path.join(out_dir, "manifest.csv")
    partial = path + ".partial"
    with open(partial, "w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(partial, path)
    return path


def _write_indexed(job: tuple[CallPlan, str]) -> tuple[int, dict[str, str]]:
    plan, out_dir = job
    return plan.index, write_call(plan, out_dir=out_dir)


#: How an archive describes its calls: ``manifest`` (``manifest.csv``) or ``aihub``
#: (119-call JSON labels and an emotion-dialogue table, :mod:`synth.aihub`).
LAYOUTS = ("manifest", "aihub")


def generate_corpus(*, plans: Sequence[CallPlan], out_dir: str, workers: int,
                    overwrite: bool = False, layout: str = "manifest") -> list[dict[str, str]]:
    """Renders ``plans`` with ``workers`` processes into ``out_dir`` and describes the
    calls in ``layout`` (:data:`LAYOUTS`); returns the manifest rows.

    ``out_dir`` must be empty or absent, unless ``overwrite``: then its ``manifest.csv``,
    emotion-dialogue table and ``audio/`` are replaced (nothing else is touched). Long
    calls are started first so no process is left alone with one at the end.
    """
    if layout not in LAYOUTS:
        raise ConfigError(f"layout={layout!r} is not one of {', '.join(LAYOUTS)}")
    if workers < 1:
        raise ConfigError(f"workers={workers} must be >= 1")
    if os.path.isdir(out_dir) and os.listdir(out_dir):
        if not overwrite:
            raise ConfigError(f"out_dir={out_dir} is not empty; pass --overwrite to replace "
                              f"its manifest.csv and audio/")
        shutil.rmtree(os.path.join(out_dir, "audio"), ignore_errors=True)
        for name in ("manifest.csv", aihub.EMOTION_TABLE):
            if os.path.exists(os.path.join(out_dir, name)):
                os.remove(os.path.join(out_dir, name))
    os.makedirs(os.path.join(out_dir, "audio"), exist_ok=True)
    jobs = sorted(((plan, out_dir) for plan in plans), key=lambda job: not job[0].long)
    rows: dict[int, dict[str, str]] = {}
    step = max(1, len(jobs) // 10)
    with contextlib.ExitStack() as stack:
        if workers == 1:
            results = map(_write_indexed, jobs)
        else:
            # an executor, not a Pool: a worker that dies fails the run instead of hanging it
            executor = stack.enter_context(concurrent.futures.ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("spawn")))
            futures = [executor.submit(_write_indexed, job) for job in jobs]
            results = (future.result() for future in concurrent.futures.as_completed(futures))
        for done, (index, row) in enumerate(results, start=1):
            rows[index] = row
            if done % step == 0:
                LOGGER.info("rendered %d/%d calls", done, len(jobs))
    ordered = [rows[plan.index] for plan in plans]
    if layout == "aihub":
        aihub.write_aihub_layout(ordered, out_dir=out_dir, durations_ms=[
            round(plan.duration_s * 1000) for plan in plans])
    else:
        write_manifest(ordered, out_dir=out_dir)
    return ordered


def summarise(plans: Sequence[CallPlan]) -> dict[str, dict[str, int]]:
    """Counts of ``plans`` per label, category, split, audio format, line and length."""
    fields = {
        "label": lambda p: p.label, "category": lambda p: p.category,
        "split": lambda p: p.split, "format": lambda p: p.audio_format,
        "line": lambda p: p.line, "length": lambda p: "long" if p.long else "short",
    }
    return {name: dict(sorted(collections.Counter(map(key, plans)).items()))
            for name, key in fields.items()}
