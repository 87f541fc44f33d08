"""Number words and particles for espeak-ng."""

import pytest

from synth.hangul import digits_korean, native_korean, particle_after, sino_korean
from transforms.errors import ConfigError


@pytest.mark.parametrize("number, words", [
    (0, "영"), (1, "일"), (10, "십"), (11, "십일"), (20, "이십"), (100, "백"), (112, "백십이"),
    (119, "백십구"), (1004, "천사"), (2024, "이천이십사"), (10_000, "만"),
    (12_345, "만이천삼백사십오"), (110_000, "십일만"), (100_000_000, "일억"),
    (300_020_001, "삼억이만일"),
])
def test_sino_korean_known_cases(number, words):
    assert sino_korean(number) == words


@pytest.mark.parametrize("number, plain, counter", [
    (1, "하나", "한"), (2, "둘", "두"), (3, "셋", "세"), (4, "넷", "네"), (10, "열", "열"),
    (20, "스물", "스무"), (21, "스물하나", "스물한"), (25, "스물다섯", "스물다섯"),
    (82, "여든둘", "여든두"), (99, "아흔아홉", "아흔아홉"),
])
def test_native_korean_plain_and_counter_forms(number, plain, counter):
    assert native_korean(number) == plain
    assert native_korean(number, counter=True) == counter


def test_digits_are_read_one_by_one_with_zero_as_gong():
    assert digits_korean("0101") == "공일공일"
    assert digits_korean("119") == "일일구"


@pytest.mark.parametrize("word, particle, form", [
    ("편의점 앞", "이에요", "이에요"), ("공원 입구", "이에요", "예요"), ("우리 엄마", "이", "가"),
    ("제 남편", "이", "이"), ("학교", "으로", "로"), ("지하철", "으로", "로"), ("집", "으로", "으로"),
    ("남자", "이었어요", "였어요"), ("일곱 살", "이고", "이고"),
])
def test_particle_follows_the_last_syllable(word, particle, form):
    assert particle_after(word, particle) == form


@pytest.mark.parametrize("call", [
    lambda: sino_korean(-1), lambda: sino_korean(10 ** 16), lambda: sino_korean(2.5),
    lambda: native_korean(0), lambda: native_korean(100), lambda: digits_korean("12a"),
    lambda: particle_after("103", "이에요"), lambda: particle_after("집", "께서"),
])
def test_bad_inputs_raise_config_error(call):
    with pytest.raises(ConfigError):
        call()
