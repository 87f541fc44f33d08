"""transforms.vocabulary: building, encoding, saving and loading a vocabulary."""

from __future__ import annotations

import json

import numpy as np
import pytest

from transforms.errors import ConfigError
from transforms.vocabulary import OOV_ID, PAD_ID, RESERVED_TOKENS, Vocabulary

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
