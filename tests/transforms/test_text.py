"""Tests of transforms.text with the real Okt tokenizer on real Korean call sentences."""

from __future__ import annotations

import os

import textwrap

import sys

import subprocess

import json
import pickle
import re
import threading
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor

import cloudpickle
import jpype
import numpy as np
import pytest

from transforms import text
from transforms.errors import ConfigError, TokenizerError, TranscriptError
from transforms.spec import DEFAULT_FEATURES, TOKEN_SETS, FeatureConfig
from transforms.text import (
    OOV_ID, PAD_ID, RESERVED_TOKENS, STOPWORDS, OktTokenizer, Vocabulary, encode_transcript,
    load_stopwords, normalise_text,
)

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
    text._shared_okt()  # the JVM must run to make a Java exception

    class FailingOkt:
        def pos(self, phrase, norm, stem):
            raise jpype.JClass("java.lang.IllegalStateException")("scanner broke")

    monkeypatch.setattr(text, "_OKT", FailingOkt())
    # the message says what failed and how long the text was, never the text itself
    with pytest.raises(TokenizerError, match=r"^Okt failed on a text of \d+ characters "
                                             r"\(java.lang.IllegalStateException\)$"):
        TOKENIZER.tokenize("가스 냄새가 심하게 나요 아파트 3층이에요 빨리 와 주세요")


def test_tokenize_many_matches_tokenize():
    assert TOKENIZER.tokenize_many(SENTENCES[:3]) == [TOKENIZER.tokenize(s) for s in SENTENCES[:3]]
    with pytest.raises(ConfigError, match="not one str"):
        TOKENIZER.tokenize_many(FIRE)


@pytest.fixture
def okt_constructions(monkeypatch):
    """Forget the shared Okt and count how often the real factory builds a new one."""
    real_factory = text._create_okt
    calls = []

    def counting_factory():
        calls.append(threading.get_ident())
        time.sleep(0.05)  # widen the window in which an unlocked race would build twice
        return real_factory()

    monkeypatch.setattr(text, "_OKT", None)
    monkeypatch.setattr(text, "_create_okt", counting_factory)
    return calls


def test_okt_is_created_once_for_many_sentences_and_tokenizers(okt_constructions):
    expected = [TOKENIZER.tokenize(s) for s in SENTENCES]
    assert len(okt_constructions) == 1
    tokenizers = [OktTokenizer() for _ in range(3)]
    results = [tokenizers[i % 3].tokenize(SENTENCES[i % len(SENTENCES)]) for i in range(1000)]
    assert len(okt_constructions) == 1
    assert results == [expected[i % len(SENTENCES)] for i in range(1000)]


def test_tokenize_from_threads_shares_one_okt_and_matches_main_thread(okt_constructions):
    barrier = threading.Barrier(4)

    def work(_):
        barrier.wait()  # all four threads ask for the not-yet-created Okt at once
        return threading.get_ident(), [OktTokenizer().tokenize(s) for s in SENTENCES * 5]

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(work, range(4)))
    assert len(okt_constructions) == 1
    assert len({ident for ident, _ in outcomes}) == 4
    expected = [TOKENIZER.tokenize(s) for s in SENTENCES * 5]
    assert all(tokens == expected for _, tokens in outcomes)


def test_tokenize_async_matches_tokenize_and_raises_its_errors():
    pending = [TOKENIZER.tokenize_async(s) for s in SENTENCES]
    assert [future.result(timeout=120) for future in pending] == [
        TOKENIZER.tokenize(s) for s in SENTENCES]
    with pytest.raises(TranscriptError):
        TOKENIZER.tokenize_async(b"\xeb\xb6\x88").result(timeout=120)


def test_start_okt_and_early_tokenising_share_one_okt(okt_constructions):
    started = text.start_okt()
    tokens = TOKENIZER.tokenize_async(FIRE).result(timeout=120)
    assert started.result(timeout=120) is text._OKT
    assert len(okt_constructions) == 1
    assert tokens == TOKENIZER.tokenize(FIRE)


@pytest.mark.parametrize("module", [pickle, cloudpickle], ids=["pickle", "cloudpickle"])
def test_tokenizer_pickles_after_use(module):
    tokenizer = OktTokenizer(stopwords=frozenset({"불"}), stem=False)
    before = tokenizer.tokenize(FIRE)
    clone = module.loads(module.dumps(tokenizer))
    assert clone == tokenizer
    assert clone.tokenize(FIRE) == before
    assert "불" not in before and "났어요" in before


# --- Vocabulary -------------------------------------------------------------------------

TOKEN_LISTS = (
    ["불", "집", "불", "빨리"],
    ["불", "집", "강도"],
    ["ㅋㅋ", "장난", "ㅋㅋ"],
    ["강도", "오다"],
)


def test_build_orders_by_count_then_code_point():
    vocab = Vocabulary.build(TOKEN_LISTS, min_freq=2)
    assert vocab.tokens == ("<pad>", "<oov>", "불", "ㅋㅋ", "강도", "집")
    assert len(vocab) == 6
    assert [vocab.id_of(t) for t in ("<pad>", "<oov>", "불", "ㅋㅋ", "강도", "집")] == list(range(6))


def test_build_min_freq_one_keeps_every_token():
    vocab = Vocabulary.build(TOKEN_LISTS, min_freq=1)
    assert vocab.tokens == RESERVED_TOKENS + ("불", "ㅋㅋ", "강도", "집", "빨리", "오다", "장난")


def test_build_max_size_counts_reserved_tokens():
    vocab = Vocabulary.build(TOKEN_LISTS, min_freq=1, max_size=4)
    assert vocab.tokens == ("<pad>", "<oov>", "불", "ㅋㅋ")
    assert vocab.max_size == 4


def test_build_does_not_count_reserved_tokens():
    vocab = Vocabulary.build([["<pad>", "<pad>", "불"], ["<oov>", "불"]], min_freq=1)
    assert vocab.tokens == RESERVED_TOKENS + ("불",)


def test_build_is_deterministic_whatever_the_input_order():
    assert Vocabulary.build(TOKEN_LISTS) == Vocabulary.build(reversed(TOKEN_LISTS))


@pytest.mark.parametrize("token_lists, kwargs, message", [
    (TOKEN_LISTS, {"min_freq": 0}, "min_freq=0"),
    (TOKEN_LISTS, {"max_size": 1}, "max_size=1"),
    (["불 집"], {}, r"token_lists\[0\] must be a sequence of tokens, not str"),
    ([["불", ""]], {}, "non-empty str"),
])
def test_build_rejects_bad_input(token_lists, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Vocabulary.build(token_lists, **kwargs)


def test_pad_and_oov_ids():
    vocab = Vocabulary.build(TOKEN_LISTS)
    assert (PAD_ID, OOV_ID) == (0, 1)
    assert vocab.id_of("<pad>") == PAD_ID
    assert vocab.id_of("지진") == OOV_ID


def test_encode_pads_short_sequences_at_the_end():
    vocab = Vocabulary.build(TOKEN_LISTS)
    ids = vocab.encode(["집", "불", "지진"], length=6)
    assert ids.dtype == np.int32
    np.testing.assert_array_equal(ids, [5, 2, 1, 0, 0, 0])


def test_encode_truncates_keeping_the_first_tokens():
    vocab = Vocabulary.build(TOKEN_LISTS)
    np.testing.assert_array_equal(vocab.encode(["강도", "집", "불", "ㅋㅋ", "불"], length=3),
                                  np.array([4, 5, 2], dtype=np.int32))
    np.testing.assert_array_equal(vocab.encode([], length=2), [0, 0])


@pytest.mark.parametrize("length", [0, -3, 2.0, True])
def test_encode_rejects_bad_length(length):
    with pytest.raises(ConfigError, match="length="):
        Vocabulary.build(TOKEN_LISTS).encode(["불"], length=length)


def test_encode_transcript_with_real_tokens():
    vocab = Vocabulary.build(TOKENIZER.tokenize_many(SENTENCES + (FIRE,)), min_freq=2)
    ids = encode_transcript("우리 집에 불이 났어요 빨리 와요", tokenizer=TOKENIZER, vocab=vocab,
                            length=8)
    known = [vocab.id_of(t) for t in ("집", "불", "나다", "빨리", "오다")]
    assert min(known) > OOV_ID  # 우리 is the only word the corpus lacks
    np.testing.assert_array_equal(ids, [OOV_ID, *known, PAD_ID, PAD_ID])


def test_save_and_load_round_trip(tmp_path):
    vocab = Vocabulary.build(TOKEN_LISTS, min_freq=1, max_size=6)
    path = str(tmp_path / "bundle" / "vocab.json")
    vocab.save(path)
    payload = json.loads((tmp_path / "bundle" / "vocab.json").read_text(encoding="utf-8"))
    assert payload["format"] == "call-triage-vocabulary"
    assert payload["version"] == 1
    assert payload["tokens"] == list(vocab.tokens)
    assert payload["min_freq"] == 1
    loaded = Vocabulary.load(path)
    assert loaded == vocab
    tokens = ["강도", "ㅋㅋ", "지진", "불"]
    np.testing.assert_array_equal(loaded.encode(tokens, length=6), vocab.encode(tokens, length=6))


def test_json_round_trip_in_memory():
    vocab = Vocabulary.build(TOKEN_LISTS)
    assert Vocabulary.from_json(vocab.to_json()) == vocab


def _vocab_payload(**changes):
    payload = json.loads(Vocabulary.build(TOKEN_LISTS).to_json())
    payload.update(changes)
    return json.dumps(payload)


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    (_vocab_payload(format="other"), "format='other'"),
    (_vocab_payload(version=2), "version=2"),
    (_vocab_payload(extra=1), "keys"),
    (_vocab_payload(tokens=["불", "<pad>", "<oov>"]), "must start with"),
    (_vocab_payload(tokens=["<pad>", "<oov>", "불", "불"]), "repeated"),
    (_vocab_payload(min_freq=0), "min_freq=0"),
])
def test_load_malformed_file_raises_config_error_with_path(tmp_path, content, message):
    path = tmp_path / "vocab.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as caught:
        Vocabulary.load(str(path))
    assert str(path) in str(caught.value)


def test_load_missing_or_undecodable_file_names_path(tmp_path):
    with pytest.raises(ConfigError, match="missing.json"):
        Vocabulary.load(str(tmp_path / "missing.json"))
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="binary.json"):
        Vocabulary.load(str(binary))


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_a_worker_process_that_tokenised_on_a_pooled_thread_exits():
    """Beam's SDK workers run DoFns on pooled threads that never end; a JVM first started
    from such a thread must not keep the process alive at exit (it hung the runner)."""
    script = textwrap.dedent("""
        import threading
        from transforms.text import OktTokenizer
        done = threading.Event()
        def pooled_thread():
            print(OktTokenizer().tokenize("집에 불이 났어요"), flush=True)
            done.set()
            threading.Event().wait()
        threading.Thread(target=pooled_thread, daemon=True).start()
        done.wait()
    """)
    finished = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                              text=True, timeout=180)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "'불'" in finished.stdout


def test_a_process_that_tokenised_on_the_tokenizer_threads_exits():
    script = textwrap.dedent("""
        from transforms.text import OktTokenizer, start_okt
        start_okt()
        print(OktTokenizer().tokenize_async("집에 불이 났어요").result(), flush=True)
    """)
    finished = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                              text=True, timeout=180)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "'불'" in finished.stdout


def test_the_jvm_heap_is_capped():
    TOKENIZER.tokenize("불이 났어요")  # the process's Okt, and so its JVM, exist
    max_heap = jpype.java.lang.Runtime.getRuntime().maxMemory()
    assert max_heap <= text.OKT_MAX_HEAP_MB * 2**20 < 1024 * 2**20  # konlpy's default: 1 GiB


def test_the_jvm_runs_the_serial_collector_without_assertions():
    TOKENIZER.tokenize("불이 났어요")
    management = jpype.java.lang.management.ManagementFactory
    collectors = {str(bean.getName()) for bean in management.getGarbageCollectorMXBeans()}
    assert collectors == {"Copy", "MarkSweepCompact"}  # the serial collector's two
    arguments = [str(argument) for argument in management.getRuntimeMXBean().getInputArguments()]
    assert "-ea" not in arguments  # konlpy's own start enables assertions


def test_explicit_garbage_collections_are_ignored_by_the_jvm():
    # JPype calls System.gc() when Python's collector runs and its memory has grown: nine
    # full collections of ~0.1 s each, stopping Okt, in the 500-call benchmark job.
    TOKENIZER.tokenize("불이 났어요")
    management = jpype.java.lang.management.ManagementFactory
    full = next(bean for bean in management.getGarbageCollectorMXBeans()
                if str(bean.getName()) == "MarkSweepCompact")
    before = full.getCollectionCount()
    jpype.java.lang.System.gc()
    assert full.getCollectionCount() == before


def test_a_konlpy_without_the_jars_okt_needs_is_refused_before_the_jvm_starts(monkeypatch):
    monkeypatch.setattr(text, "_OKT_CLASS_PATH", text._OKT_CLASS_PATH + ("okt-9.9.jar",))
    with pytest.raises(ConfigError, match="okt-9.9.jar"):
        text._start_jvm()
