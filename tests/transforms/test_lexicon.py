"""transforms.lexicon: the call-taker's word groups, counted in real Okt tokens."""

from __future__ import annotations

import numpy as np
from transforms import lexicon
from transforms.lexicon import GROUPS, LEXICON, N_GROUPS, lexicon_features, token_groups
from transforms.spec import DEFAULT_FEATURES
from transforms.text import OktTokenizer


def _groups(tokens: list[str]) -> dict[str, float]:
    return {GROUPS[i]: float(v) for i, v in enumerate(lexicon_features(tokens)) if v}


def test_entries_match_exactly_by_their_start_or_by_their_end() -> None:
    fire, medical = GROUPS.index("fire"), GROUPS.index("medical")
    inquiry = GROUPS.index("inquiry")
    assert fire in token_groups("불")
    assert fire not in token_groups("불편")  # a one-syllable noun matches only itself
    assert medical in token_groups("쓰러지셨어요")  # "쓰러*"
    assert inquiry in token_groups("되나요")  # "*나요"
    assert token_groups("책상") == frozenset()


def test_features_count_tokens_per_group_and_saturate() -> None:
    assert lexicon_features([]).shape == (N_GROUPS,)
    assert not lexicon_features([]).any()
    assert _groups(["불"]) == {"fire": 1.0}
    assert _groups(["불", "불"]) == {"fire": 2.0}
    many = _groups(["불", "화재", "연기", "불길", "소화기"])
    assert many["fire"] == lexicon.SATURATION  # five fire words count as three
    assert lexicon_features(["불"]).dtype == np.float32


def test_every_group_has_distinct_entries() -> None:
    assert N_GROUPS == len(LEXICON) == len(set(GROUPS))
    for name, entries in LEXICON.items():
        assert entries, name
        assert len(entries) == len(set(entries)), name
        assert all(entry.strip("*") for entry in entries), name


def test_the_okt_tokens_of_unseen_sentences_land_in_their_groups() -> None:
    tokenize = OktTokenizer.for_config(DEFAULT_FEATURES).tokenize
    urgent = _groups(tokenize("아버지가 갑자기 쓰러지셨어요 숨을 안 쉬어요 빨리 와주세요"))
    assert {"medical", "urgency"} <= set(urgent)
    past = _groups(tokenize("작년에 불이 났었는데 지금은 괜찮아요. 보험은 어떻게 하나요?"))
    assert {"fire", "long_ago", "resolved", "inquiry"} <= set(past)
    assert "urgency" not in past
    joke = _groups(tokenize("ㅋㅋ 외계인이 우리 집에 쳐들어왔어요"))
    assert {"joke", "absurd"} <= set(joke)
    run_on = _groups(tokenize("칼을대고돈을 뺏어 갔어요"))  # speech-to-text spacing
    assert "robbery" in run_on
