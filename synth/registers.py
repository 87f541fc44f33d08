"""How a caller says a script: the registers of real calls, applied to rendered lines.

The same template can be said plainly, transcribed by speech-to-text (no punctuation,
spaces dropped), with hesitations, in panicked fragments, after calm small talk that
buries the reason for the call, or in an elderly or a young caller's words. Each register
is a pure function of the rendered :class:`~synth.scripts.Phrase` lines and a random
generator, so a call stays reproducible from its seed; :func:`speak_in` picks one with the
label's :data:`REGISTER_WEIGHTS`.
"""

from __future__ import annotations

import re
from typing import Callable, Mapping, Sequence

import numpy as np

from synth.scripts import Phrase
from transforms.errors import ConfigError

#: Share of each register by label (each row sums to 1).
REGISTER_WEIGHTS: Mapping[str, Mapping[str, float]] = {
    "emergency": {"plain": 0.30, "stt": 0.15, "hesitant": 0.10, "panicked": 0.15,
                  "buried": 0.10, "elderly": 0.10, "young": 0.10},
    "normal": {"plain": 0.40, "stt": 0.20, "hesitant": 0.15, "buried": 0.05,
               "elderly": 0.10, "young": 0.10},
    "prank": {"plain": 0.50, "stt": 0.20, "young": 0.30},
}
#: Share of the spaces a speech-to-text transcript drops.
STT_SPACE_DROP = 0.3

_FILLERS = (Phrase("어...", "어"), Phrase("음...", "음"), Phrase("저기...", "저기"),
            Phrase("그게...", "그게"), Phrase("아 그러니까...", "아 그러니까"))
_SMALL_TALK = tuple(Phrase(text, text) for text in (
    "안녕하세요, 바쁘신데 죄송해요.", "제가 이런 전화는 처음 해 봐서요.", "별일 아닐 수도 있는데요.",
    "아 네, 뭐 좀 여쭤보려고요.", "어디서부터 말씀드려야 할지 모르겠네요.", "밥은 드셨어요? 아 죄송해요."))
_ELDERLY_OPENINGS = tuple(Phrase(text, text) for text in (
    "아이고, 여보세요?", "여보세요? 거기 신고하는 데 맞지요?", "내가 귀가 잘 안 들려서 그러는데요.",
    "아이고 이걸 어쩌나."))
_YOUNG_OPENINGS = (Phrase("헐 진짜...", "헐 진짜"), Phrase("아 대박...", "아 대박"),
                   Phrase("저기요 저 학생인데요.", "저기요 저 학생인데요."),
                   Phrase("안녕하세요, 저 중학생인데요.", "안녕하세요, 저 중학생인데요."))
_PUNCTUATION = re.compile(r"[.,!?~…]+")


def _pick(rng: np.random.Generator, options: Sequence[Phrase]) -> Phrase:
    return options[int(rng.integers(len(options)))]


def plain(lines: Sequence[Phrase], rng: np.random.Generator) -> list[Phrase]:
    """The lines as written."""
    return list(lines)


def stt(lines: Sequence[Phrase], rng: np.random.Generator) -> list[Phrase]:
    """As speech-to-text writes them: no punctuation and :data:`STT_SPACE_DROP` of the
    spaces dropped (the spoken words are unchanged)."""
    def transcribe(text: str) -> str:
        words = _PUNCTUATION.sub(" ", text).split()
        if not words:
            return ""
        joined = [words[0]]
        for word in words[1:]:
            if rng.random() < STT_SPACE_DROP:
                joined[-1] += word
            else:
                joined.append(word)
        return " ".join(joined)
    return [Phrase(transcribe(line.text), line.spoken) for line in lines]


def hesitant(lines: Sequence[Phrase], rng: np.random.Generator) -> list[Phrase]:
    """Each line opened by a filler ("어...", "그게...") with probability 1/2 (the first
    always)."""
    out = []
    for number, line in enumerate(lines):
        if number == 0 or rng.random() < 0.5:
            filler = _pick(rng, _FILLERS)
            line = Phrase(f"{filler.text} {line.text}", f"{filler.spoken} {line.spoken}")
        out.append(line)
    return out


def panicked(lines: Sequence[Phrase], rng: np.random.Generator) -> list[Phrase]:
    """The first line broken off and started again ("불이... 불이 났어요!"), the last line
    cut off at its first words."""
    def fragment(line: Phrase) -> Phrase:
        text, spoken = line.text.split(), line.spoken.split()
        keep = min(2, len(text), len(spoken))
        return Phrase(" ".join(text[:keep]) + "...", " ".join(spoken[:keep]))
    out = list(lines)
    first = fragment(out[0])
    out[0] = Phrase(f"{first.text} {out[0].text}", f"{first.spoken} {out[0].spoken}")
    if len(out) > 2:
        out[-1] = fragment(out[-1])
    return out


def buried(lines: Sequence[Phrase], rng: np.random.Generator) -> list[Phrase]:
    """One or two lines of calm small talk before the reason for the call."""
    count = int(rng.integers(1, 3))
    talk = [_SMALL_TALK[int(i)] for i in rng.choice(len(_SMALL_TALK), size=count, replace=False)]
    return talk + list(lines)


def elderly(lines: Sequence[Phrase], rng: np.random.Generator) -> list[Phrase]:
    """An elderly caller's opening before the lines."""
    return [_pick(rng, _ELDERLY_OPENINGS)] + list(lines)


def young(lines: Sequence[Phrase], rng: np.random.Generator) -> list[Phrase]:
    """A young caller's opening before the lines."""
    return [_pick(rng, _YOUNG_OPENINGS)] + list(lines)


REGISTERS: Mapping[str, Callable[[Sequence[Phrase], np.random.Generator], list[Phrase]]] = {
    "plain": plain, "stt": stt, "hesitant": hesitant, "panicked": panicked,
    "buried": buried, "elderly": elderly, "young": young,
}


def speak_in(lines: Sequence[Phrase], *, label: str, rng: np.random.Generator
             ) -> tuple[str, list[Phrase]]:
    """(register name, lines) for a caller of ``label``, the register drawn with
    :data:`REGISTER_WEIGHTS`."""
    if label not in REGISTER_WEIGHTS:
        raise ConfigError(f"label={label!r} must be one of {sorted(REGISTER_WEIGHTS)}")
    if not lines:
        raise ConfigError("a register needs at least one line")
    weights = REGISTER_WEIGHTS[label]
    names = sorted(weights)
    name = names[int(rng.choice(len(names), p=[weights[n] for n in names]))]
    return name, REGISTERS[name](lines, rng)
