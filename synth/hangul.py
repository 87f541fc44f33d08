"""Korean number words and particles, so that espeak-ng reads numbers as a person would.

espeak-ng's Korean voice reads digit strings poorly, so every number in a synthetic call is
written out in Hangul before it is spoken: Sino-Korean words (일, 이, 삼 …) for addresses,
floors, years, minutes and amounts; native words (하나, 둘 … 아흔아홉) for counted people,
hours and ages. Particles (이/가, 을/를 …) depend on whether the word before them ends in a
final consonant, which :func:`particle_after` decides from the spoken form.
"""

from __future__ import annotations

from transforms.errors import ConfigError

_SINO_DIGITS = ("", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구")
_SMALL_UNITS = ("", "십", "백", "천")
_LARGE_UNITS = ("", "만", "억", "조")
_NATIVE_ONES = ("", "하나", "둘", "셋", "넷", "다섯", "여섯", "일곱", "여덟", "아홉")
_NATIVE_TENS = ("", "열", "스물", "서른", "마흔", "쉰", "예순", "일흔", "여든", "아흔")
#: Forms the native numbers take before a counter (한 명, 두 시, 스무 살).
_COUNTER_FORMS = {"하나": "한", "둘": "두", "셋": "세", "넷": "네", "스물": "스무"}
#: How each digit is read when a number is read digit by digit (phone numbers): 0 is 공.
_DIGIT_WORDS = ("공", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구")

#: Particle pairs: the form after a final consonant -> the form after a vowel.
PARTICLES = {
    "이": "가", "을": "를", "은": "는", "과": "와", "이랑": "랑", "으로": "로",
    "이에요": "예요", "이고": "고", "이었어요": "였어요", "이세요": "세요", "아": "야",
}

_SINO_LIMIT = 10 ** 16
_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
_RIEUL_FINAL = 8  # index of ㄹ among the 28 final-consonant slots of a Hangul syllable


def sino_korean(number: int) -> str:
    """Sino-Korean words for ``0 <= number < 10**16``: 112 -> 백십이, 2024 -> 이천이십사.

    Leading 일 is dropped before 십, 백, 천 and 만 as Koreans say them (10 -> 십,
    10000 -> 만) but kept before 억 and 조 (일억).
    """
    if not isinstance(number, int) or isinstance(number, bool):
        raise ConfigError(f"number={number!r} must be an int")
    if not 0 <= number < _SINO_LIMIT:
        raise ConfigError(f"number={number} must be in [0, {_SINO_LIMIT})")
    if number == 0:
        return "영"
    words = []
    for power, unit in reversed(list(enumerate(_LARGE_UNITS))):
        group = number // 10 ** (4 * power) % 10 ** 4
        if group == 0:
            continue
        if group == 1 and unit == "만":
            words.append(unit)
            continue
        words.append(_sino_group(group) + unit)
    return "".join(words)


def _sino_group(group: int) -> str:
    """Sino-Korean words for ``1 <= group <= 9999`` (one four-digit group)."""
    words = []
    for place in (3, 2, 1, 0):
        digit = group // 10 ** place % 10
        if digit == 0:
            continue
        digit_word = "" if digit == 1 and place > 0 else _SINO_DIGITS[digit]
        words.append(digit_word + _SMALL_UNITS[place])
    return "".join(words)


def native_korean(number: int, *, counter: bool = False) -> str:
    """Native Korean words for ``1 <= number <= 99``: 3 -> 셋, 25 -> 스물다섯.

    With ``counter=True`` the form used before a counter noun: 3 -> 세 (세 시),
    20 -> 스무 (스무 살), 21 -> 스물한 (스물한 명).
    """
    if not isinstance(number, int) or isinstance(number, bool):
        raise ConfigError(f"number={number!r} must be an int")
    if not 1 <= number <= 99:
        raise ConfigError(f"number={number} must be in [1, 99] for native Korean words")
    tens, ones = _NATIVE_TENS[number // 10], _NATIVE_ONES[number % 10]
    if counter:
        if ones:
            ones = _COUNTER_FORMS.get(ones, ones)
        else:
            tens = _COUNTER_FORMS.get(tens, tens)
    return tens + ones


def digits_korean(digits: str) -> str:
    """Reads a digit string digit by digit, as phone numbers are: "0101" -> 공일공일."""
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ConfigError(f"digits={digits!r} must be a non-empty string of 0-9")
    return "".join(_DIGIT_WORDS[int(digit)] for digit in digits)


def particle_after(word: str, particle: str) -> str:
    """The form of ``particle`` that follows ``word``'s last syllable.

    ``particle`` is given in its after-consonant form (a key of :data:`PARTICLES`):
    ("편의점 앞", "이에요") -> 이에요, ("공원 입구", "이에요") -> 예요; 으로 becomes 로 after a
    vowel or ㄹ (학교로, 지하철로). ``word`` must end in a Hangul syllable (pass the spoken
    form, never digits).
    """
    if particle not in PARTICLES:
        raise ConfigError(f"particle={particle!r} must be one of {sorted(PARTICLES)}")
    last = word[-1:] or " "
    if not _HANGUL_FIRST <= ord(last) <= _HANGUL_LAST:
        raise ConfigError(f"word={word!r} must end in a Hangul syllable to take {particle!r}")
    final = (ord(last) - _HANGUL_FIRST) % 28
    takes_consonant_form = final != 0 and not (particle == "으로" and final == _RIEUL_FINAL)
    return particle if takes_consonant_form else PARTICLES[particle]
