"""synth.registers and synth.framings: how callers say a script, and the composed scripts."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from synth import framings, registers, scripts
from synth.scripts import Phrase
from transforms.errors import ConfigError

LINES = (Phrase("불이 났어요!", "불이 났어요!"), Phrase("3층이에요.", "삼 층이에요."),
         Phrase("빨리 와 주세요.", "빨리 와 주세요."))


def test_speech_to_text_drops_punctuation_and_some_spaces_but_not_the_spoken_words() -> None:
    out = registers.stt(LINES, np.random.default_rng(0))
    assert [line.spoken for line in out] == [line.spoken for line in LINES]
    assert not any(mark in line.text for line in out for mark in ".,!?")
    assert [line.text.replace(" ", "") for line in out] == ["불이났어요", "3층이에요", "빨리와주세요"]


def test_registers_that_open_with_words_keep_the_script_after_them() -> None:
    rng = np.random.default_rng(1)
    for name in ("buried", "elderly", "young"):
        out = registers.REGISTERS[name](LINES, rng)
        assert len(out) > len(LINES) and tuple(out[-len(LINES):]) == LINES, name
    panicked = registers.panicked(LINES, rng)
    assert panicked[0].text.startswith("불이 났어요!...") or panicked[0].text.count("불이") == 2
    assert panicked[-1].text.endswith("...")
    hesitant = registers.hesitant(LINES, rng)
    assert hesitant[0].text.split()[0].endswith("...") and hesitant[0].text.endswith(LINES[0].text)


def test_registers_are_drawn_with_their_weights_and_reproducibly() -> None:
    for weights in registers.REGISTER_WEIGHTS.values():
        assert sum(weights.values()) == pytest.approx(1.0)
        assert set(weights) <= set(registers.REGISTERS)
    rng = np.random.default_rng(2)
    drawn = collections.Counter(registers.speak_in(LINES, label="prank", rng=rng)[0]
                                for _ in range(2000))
    assert set(drawn) == {"plain", "stt", "young"}
    assert drawn["plain"] / 2000 == pytest.approx(0.5, abs=0.05)
    assert (registers.speak_in(LINES, label="normal", rng=np.random.default_rng(3))
            == registers.speak_in(LINES, label="normal", rng=np.random.default_rng(3)))
    with pytest.raises(ConfigError, match="label"):
        registers.speak_in(LINES, label="joke", rng=rng)


def test_composed_everyday_scripts_mention_every_category_and_stay_everyday() -> None:
    composed = [t for t in scripts.TEMPLATES if "-f" in t.template_id]
    assert {t.category for t in composed} == {"normal_indoor", "normal_outdoor"}
    text = " ".join(" ".join(t.lines) for t in composed)
    for category, incident in framings.INCIDENTS.items():
        assert incident.noun in text or incident.past in text, category
    everyday = [t for t in scripts.TEMPLATES
                if t.category.startswith("normal") and "-f" not in t.template_id]
    assert len(composed) < 2 * len(everyday)


def test_absurd_claims_are_only_for_pranks_and_have_a_split_of_their_own() -> None:
    absurd = [t for t in scripts.TEMPLATES if t.prank_only]
    assert absurd and all("-a" in t.template_id for t in absurd)
    splits = scripts.template_splits(seed=1)
    assert {splits[t.template_id] for t in absurd} == {"train", "validation", "test"}
    for category in {t.category for t in absurd}:
        for split in ("train", "validation", "test"):
            ordinary = scripts.templates_in(splits, categories=(category,), split=split)
            assert ordinary and not any(t.prank_only for t in ordinary)
    with_pranks = scripts.templates_in(splits, categories=tuple({t.category for t in absurd}),
                                       split="train", pranks=True)
    assert any(t.prank_only for t in with_pranks)
