"""Call-script templates, slot filling and the template split."""

import collections
import re

import numpy as np
import pytest

from synth import scripts
from synth.hangul import sino_korean
from transforms.errors import ConfigError
from transforms.spec import CATEGORIES, EMERGENCY_CATEGORIES, SPLITS


def test_every_category_has_at_least_ten_distinct_templates():
    by_category = collections.defaultdict(set)
    for template in scripts.TEMPLATES:
        by_category[template.category].add(template.lines)
    assert set(by_category) == set(CATEGORIES)
    for category, scripts_of in by_category.items():
        assert len(scripts_of) >= 10, category


def test_template_ids_are_unique():
    ids = [t.template_id for t in scripts.TEMPLATES]
    assert len(ids) == len(set(ids))


def test_rendered_lines_fill_every_slot_and_speak_no_digits():
    rng = np.random.default_rng(0)
    for template in scripts.TEMPLATES:
        for _ in range(3):
            for phrase in scripts.render_template(template, rng=rng):
                assert "{" not in phrase.text and "[" not in phrase.text, template.template_id
                assert not re.search(r"[0-9A-Za-z]", phrase.spoken), (template.template_id, phrase)
                assert phrase.text.strip()


def test_numbers_are_written_as_digits_and_spoken_as_words():
    template = scripts.Template("t-01", "fire", ("{floor}[이에요].",))
    rng = np.random.default_rng(3)
    seen = [scripts.render_template(template, rng=rng)[0] for _ in range(30)]
    plain = [p for p in seen if not p.text.startswith("지하")]
    assert plain, seen
    for phrase in plain:
        floor = int(re.match(r"(\d+)층", phrase.text).group(1))
        assert phrase.spoken.startswith(sino_korean(floor) + " 층")


def test_a_slot_used_twice_gets_one_value():
    template = scripts.Template("t-01", "fire", ("{address}.", "다시 말할게요, {address}."))
    first, second = scripts.render_template(template, rng=np.random.default_rng(5))
    assert second.text.endswith(first.text)


def test_unknown_slot_is_a_config_error():
    with pytest.raises(ConfigError, match="nowhere"):
        scripts.render_template(scripts.Template("t-01", "fire", ("{nowhere}",)),
                                rng=np.random.default_rng(0))


@pytest.mark.parametrize("seed", [0, 1, 7, 12345])
def test_every_template_is_in_exactly_one_split_and_every_category_in_every_split(seed):
    splits = scripts.template_splits(seed=seed)
    assert set(splits) == {t.template_id for t in scripts.TEMPLATES}
    assert set(splits.values()) == set(SPLITS)
    for category in CATEGORIES:
        for split in SPLITS:
            chosen = scripts.templates_in(splits, categories=(category,), split=split)
            assert chosen, (category, split)
    # no template text is shared between two splits either
    text_split = {}
    for template in scripts.TEMPLATES:
        assert text_split.setdefault(template.lines, splits[template.template_id]) == \
            splits[template.template_id]


def test_split_is_fixed_by_the_seed():
    assert scripts.template_splits(seed=4) == scripts.template_splits(seed=4)
    assert scripts.template_splits(seed=4) != scripts.template_splits(seed=5)


def test_lines_of_police_and_fire_categories():
    assert {c: scripts.line_for(c) for c in ("sexual_assault", "robbery", "theft", "violence")} \
        == dict.fromkeys(("sexual_assault", "robbery", "theft", "violence"), "112")
    assert {scripts.line_for(c) for c in EMERGENCY_CATEGORIES
            if c not in scripts.POLICE_CATEGORIES} == {"119"}
    with pytest.raises(ConfigError):
        scripts.line_for("normal_indoor")


def test_prank_markers_joke_in_most_calls():
    rng = np.random.default_rng(0)
    markers = [scripts.prank_markers(rng=rng) for _ in range(400)]
    endings = [ending for _, ending in markers if ending is not None]
    assert 0.6 < len(endings) / len(markers) < 0.8
    jokes = ("ㅋ", "ㅎ", "장난", "농담", "뻥", "몰래카메라", "심심", "구라", "궁금", "내기", "아무 일도")
    assert all(any(j in e.text for j in jokes) for e in endings)
    assert all("ㅋ" not in e.spoken for e in endings)
