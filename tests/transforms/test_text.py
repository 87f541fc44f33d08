"""transforms.text with the real Okt tokenizer on real Korean call sentences."""

from __future__ import annotations

import pickle
import re
import unicodedata

import cloudpickle
import jpype
import pytest

from transforms import okt
from transforms.errors import ConfigError, TokenizerError, TranscriptError
from transforms.spec import DEFAULT_FEATURES, TOKEN_SETS, FeatureConfig
from transforms.text import STOPWORDS, OktTokenizer, load_stopwords, normalise_text

TOKENIZER = OktTokenizer()

FIRE = "집에 불이 났어요! 빨리 와 주세요"
SENTENCES = (
    FIRE,
    "네 저 지금 여기 사람이 쓰러졌어요 숨을 안 쉬어요",
    "강도가 칼을 들고 들어왔어요 112 맞죠?",
    "엄마가 계단에서 넘어져서 머리에서 피가 나요",
    "가스 냄새가 심하게 나요 아파트 3층이에요",
    "ㅋㅋㅋ 장난이야",
    "ㅎㅎ 그냥 심심해서 전화했어요~ 장난전화임",
    "지금 누가 문을 두드려요 무서워요",
    "갑자기 건물이 무너졌어요 사람이 깔렸어요",
    "저는 괜찮은데 아이가 갇혔어요 엘리베이터에",
)


# --- normalise_text ---------------------------------------------------------------------

def test_normalise_composes_decomposed_hangul():
    decomposed = unicodedata.normalize("NFD", "불이 났어요")
    assert decomposed != "불이 났어요"
    assert normalise_text(decomposed) == "불이 났어요"


def test_normalise_strips_invisible_characters_and_collapses_whitespace():
    raw = "\ufeff  집에\u200b 불이\t\n\r났어요\x00\x07 \u3000빨리\ud800  "
    assert normalise_text(raw) == "집에 불이 났어요 빨리"


def test_normalise_keeps_hangul_latin_digits_and_laughter_jamo():
    assert normalise_text("CCTV 112번 ㅋㅋㅋ ㅠㅠ 살려주세요!") == "CCTV 112번 ㅋㅋㅋ ㅠㅠ 살려주세요!"


def test_normalise_maps_fullwidth_ascii():
    assert normalise_text("Ｈｅｌｌｏ　１１２！") == "Hello 112!"


def test_normalise_rejects_non_text():
    with pytest.raises(TranscriptError, match="bytes"):
        normalise_text(b"\xeb\xb6\x88")


# --- stop words -------------------------------------------------------------------------

def test_packaged_stopwords_hold_fillers_but_not_signal_words():
    assert {"네", "저", "그", "이", "좀", "거", "것", "수", "등", "어", "음", "아", "그냥"} <= STOPWORDS
    assert not {"지금", "빨리", "제발", "여기", "장난", "ㅋㅋ", "안", "못"} & STOPWORDS


def test_load_stopwords_parses_comments_blank_lines_and_normalises(tmp_path):
    path = tmp_path / "stop.txt"
    decomposed_geu = unicodedata.normalize("NFD", "그냥")
    path.write_text(f"# fillers\n네   # yes\n\n  {decomposed_geu}\nOK\n", encoding="utf-8")
    assert load_stopwords(str(path)) == frozenset({"네", "그냥", "ok"})


def test_load_stopwords_rejects_two_words_on_a_line(tmp_path):
    path = tmp_path / "stop.txt"
    path.write_text("네\n그냥 좀\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"stop\.txt:2: stop word '그냥 좀'"):
        load_stopwords(str(path))


def test_load_stopwords_missing_file_names_path(tmp_path):
    missing = str(tmp_path / "nope.txt")
    with pytest.raises(ConfigError, match="nope.txt"):
        load_stopwords(missing)


# --- OktTokenizer -----------------------------------------------------------------------

def test_tokenize_fire_call_keeps_content_words_stemmed_in_order():
    tokens = TOKENIZER.tokenize(FIRE)
    assert tokens[:5] == ["집", "불", "나다", "빨리", "오다"]
    assert not {"에", "이", "!", "났어요"} & set(tokens)


def test_tokenize_without_stemming_keeps_surface_forms():
    tokens = OktTokenizer(stem=False).tokenize(FIRE)
    assert "났어요" in tokens
    assert "나다" not in tokens


def test_tokenize_drops_stopwords_and_fillers():
    sentence = "네 저 지금 여기 사람이 쓰러졌어요 숨을 안 쉬어요"
    assert TOKENIZER.tokenize(sentence) == ["지금", "여기", "사람", "쓰러지다", "숨", "안", "쉬다"]
    unfiltered = OktTokenizer(stopwords=frozenset()).tokenize(sentence)
    assert unfiltered[:2] == ["네", "저"]


def test_tokenize_keeps_laughter_of_prank_calls():
    assert TOKENIZER.tokenize("ㅋㅋㅋ 장난이야") == ["ㅋㅋㅋ", "장난"]
    assert "ㅎㅎ" in TOKENIZER.tokenize("ㅎㅎ 그냥 심심해서 전화했어요~")


def test_tokenize_lowercases_latin_and_keeps_numbers():
    assert TOKENIZER.tokenize("CCTV에 찍혔을 거예요 OK? 112") == ["cctv", "찍히다", "ok", "112"]


@pytest.mark.parametrize("blank", ["", "   ", "\n\t\u3000", "\u200b\ufeff"])
def test_tokenize_blank_text_is_empty(blank):
    assert TOKENIZER.tokenize(blank) == []


def test_tokenize_punctuation_only_is_empty():
    assert TOKENIZER.tokenize("?! ... ~~") == []


def test_morpheme_tokens_keep_the_endings_and_punctuation_that_mark_a_question():
    morphemes = OktTokenizer.for_config(FeatureConfig(tokens="morphemes"))
    question = morphemes.tokenize("민원실 업무 시간이 어떻게 되나요?")
    claim = morphemes.tokenize(FIRE)
    assert question[-2:] == ["되나요", "?"]
    assert claim[:6] == ["집", "에", "불", "이", "났어요", "!"]
    assert morphemes.tokenize("네 알겠어요")[0] == "네"  # no stop words


def test_content_word_tokens_are_the_default_tokenizer():
    content = OktTokenizer.for_config(FeatureConfig(tokens="content_words"))
    assert content == TOKENIZER
    assert content.tokenize(FIRE)[:3] == ["집", "불", "나다"]


def test_default_features_take_morpheme_tokens():
    assert DEFAULT_FEATURES.tokens == "morphemes"
    assert OktTokenizer.for_config(DEFAULT_FEATURES).tokenize("불이 났어요?")[-1] == "?"


def test_feature_config_rejects_an_unknown_token_set():
    with pytest.raises(ConfigError, match=re.escape(f"tokens='words' must be one of {TOKEN_SETS}")):
        FeatureConfig(tokens="words")


def test_tokenize_with_custom_parts_of_speech():
    assert OktTokenizer(keep_pos=frozenset({"Noun"})).tokenize(FIRE) == ["집", "불"]


@pytest.mark.parametrize("kwargs, message", [
    ({"keep_pos": frozenset({"Noun", "Nouns"})}, "Nouns"),
    ({"keep_pos": frozenset()}, "keep_pos"),
    ({"stopwords": {"네"}}, "stopwords"),
    ({"stem": "yes"}, "stem='yes'"),
])
def test_tokenizer_rejects_bad_settings(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        OktTokenizer(**kwargs)


def test_tokenize_rejects_non_text():
    with pytest.raises(TranscriptError, match="NoneType"):
        TOKENIZER.tokenize(None)


def test_java_exception_becomes_tokenizer_error(monkeypatch):
    okt.shared_okt()  # the JVM must run to make a Java exception

    class FailingOkt:
        def pos(self, phrase, norm, stem):
            raise jpype.JClass("java.lang.IllegalStateException")("scanner broke")

    monkeypatch.setattr(okt, "_OKT", FailingOkt())
    # the message says what failed and how long the text was, never the text itself
    with pytest.raises(TokenizerError, match=r"^Okt failed on a text of \d+ characters "
                                             r"\(java.lang.IllegalStateException\)$"):
        TOKENIZER.tokenize("가스 냄새가 심하게 나요 아파트 3층이에요 빨리 와 주세요")


def test_tokenize_many_matches_tokenize():
    assert TOKENIZER.tokenize_many(SENTENCES[:3]) == [TOKENIZER.tokenize(s) for s in SENTENCES[:3]]
    with pytest.raises(ConfigError, match="not one str"):
        TOKENIZER.tokenize_many(FIRE)


def test_tokenize_async_matches_tokenize_and_raises_its_errors():
    pending = [TOKENIZER.tokenize_async(s) for s in SENTENCES]
    assert [future.result(timeout=120) for future in pending] == [
        TOKENIZER.tokenize(s) for s in SENTENCES]
    with pytest.raises(TranscriptError):
        TOKENIZER.tokenize_async(b"\xeb\xb6\x88").result(timeout=120)


@pytest.mark.parametrize("module", [pickle, cloudpickle], ids=["pickle", "cloudpickle"])
def test_tokenizer_pickles_after_use(module):
    tokenizer = OktTokenizer(stopwords=frozenset({"불"}), stem=False)
    before = tokenizer.tokenize(FIRE)
    clone = module.loads(module.dumps(tokenizer))
    assert clone == tokenizer
    assert clone.tokenize(FIRE) == before
    assert "불" not in before and "났어요" in before


# --- Vocabulary -------------------------------------------------------------------------
