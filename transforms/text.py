"""Korean transcript features: normalisation, stop words and Okt tokens.

The path of a transcript to the model is ``normalise_text`` → :class:`OktTokenizer` →
:class:`transforms.vocabulary.Vocabulary` ids, padded or truncated to ``text_length``. Which tokens the tokenizer keeps is part of the
:class:`transforms.spec.FeatureConfig` (``tokens``; :meth:`OktTokenizer.for_config`), so a
model bundle records it: by default every morpheme Okt finds, as written, particles,
endings and punctuation included, since the sentence's mood and tense (a question ending in
되나요?, a past-tense story, an urgent 났어요!) tell an everyday call from a claimed
emergency in scripts a model never saw; ``"content_words"`` keeps only content words in
dictionary form without stop words. Training and scoring both go through
:func:`transforms.features.window_inputs`, so they cannot drift apart.

Okt runs in a JVM (konlpy over JPype); every :class:`OktTokenizer` shares the process's
one Okt (:mod:`transforms.okt`). A tokenizer holds no JVM state and pickles freely, as
Beam needs for DoFns.

JPype releases the GIL while Java runs, so :meth:`OktTokenizer.tokenize_async` runs Okt on
the process's tokenizer threads while the caller decodes audio with numpy: the feature
path hides Okt's time behind the audio's instead of adding the two.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import importlib.resources
import unicodedata
from typing import Iterable, Optional

import jpype
from apache_beam.io.filesystems import FileSystems

from transforms.errors import ConfigError, TokenizerError, TranscriptError
from transforms.okt import POOL_NAME, shared_okt
from transforms.spec import FeatureConfig
from transforms.worker import thread_pool

#: Every part-of-speech tag Okt (open-korean-text 2.1, ``KoreanPos``) can emit.
OKT_TAGS = frozenset({
    "Noun", "Verb", "Adjective", "Adverb", "Determiner", "Exclamation", "Josa", "Eomi",
    "PreEomi", "Conjunction", "Modifier", "VerbPrefix", "Suffix", "Unknown", "Korean",
    "Foreign", "Number", "KoreanParticle", "Alpha", "Punctuation", "Hashtag", "ScreenName",
    "Email", "URL", "CashTag", "Space", "Others", "ProperNoun",
})

#: Tags whose words carry meaning, the ones ``"content_words"`` tokens keep: nouns (불,
#: 강도, 지금), verbs and adjectives in dictionary form (나다, 무섭다), adverbs (빨리,
#: 그만), exclamations (으악), numbers (112, 3층's 3), latin words (CCTV), and Korean
#: "particles" — jamo runs such as ㅋㅋ, ㅎㅎ, ㅠㅠ — which mark laughter and crying, a
#: strong prank signal.
#: Dropped: particles (Josa), endings (Eomi, PreEomi), suffixes, determiners (이, 그, 무슨)
#: and conjunctions (function words), modifiers and verb prefixes (rare, mostly
#: mis-analyses), punctuation, foreign-script runs (emoji, hanja, symbols), and
#: Twitter-specific or unknown tokens.
CONTENT_POS = frozenset({
    "Noun", "ProperNoun", "Verb", "Adjective", "Adverb", "Exclamation", "Number", "Alpha",
    "KoreanParticle",
})

_STOPWORDS_RESOURCE = "data/stopwords_ko.txt"

# Full-width ASCII forms (U+FF01..U+FF5E, e.g. "Ｈｅｌｌｏ １１２") map to ASCII. NFKC would do
# this too, but it would also turn the compatibility jamo of ㅋㅋ into conjoining jamo.
_FULLWIDTH_TO_ASCII = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}


def normalise_text(text: str) -> str:
    """Return ``text`` in the one form the tokenizer sees.

    Unicode NFC (so decomposed Hangul jamo, as macOS writes them, become syllables),
    full-width ASCII → ASCII, every character of Unicode's "Other" categories removed
    (controls, zero-width spaces and BOMs, lone surrogates, private-use and unassigned
    code points), runs of whitespace (including tabs, newlines and U+3000) collapsed to
    one space, and the ends stripped. Hangul, latin letters, digits, punctuation and
    symbols are kept. Raises :class:`TranscriptError` if ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise TranscriptError(f"text must be str, not {type(text).__name__}")
    composed = unicodedata.normalize("NFC", text).translate(_FULLWIDTH_TO_ASCII)
    visible = "".join(
        char for char in composed
        if char.isspace() or not unicodedata.category(char).startswith("C"))
    return " ".join(visible.split())


def read_text_file(path: str, *, what: str) -> str:
    """Read a UTF-8 file, local or ``gs://``, through Beam's FileSystems."""
    try:
        with FileSystems.open(path) as handle:
            return handle.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read {what} {path}: {err}") from err


def _parse_stopwords(text: str, *, source: str) -> frozenset[str]:
    """Stop words of a list file: one per line, ``#`` comments and blank lines ignored."""
    words = set()
    for line_no, line in enumerate(text.splitlines(), start=1):
        word = normalise_text(line.split("#", 1)[0]).lower()
        if " " in word:
            raise ConfigError(f"{source}:{line_no}: stop word {word!r} must be one token")
        if word:
            words.add(word)
    return frozenset(words)


def load_stopwords(path: Optional[str] = None) -> frozenset[str]:
    """Load a stop-word list (one word per line, ``#`` comments allowed).

    ``path`` is a local path or ``gs://`` URI; ``None`` loads the packaged
    ``transforms/data/stopwords_ko.txt``. Words are normalised and lower-cased as tokens
    are. Raises :class:`ConfigError` naming the file if it cannot be read or a line holds
    more than one word.
    """
    if path is None:
        resource = importlib.resources.files("transforms").joinpath(_STOPWORDS_RESOURCE)
        return _parse_stopwords(resource.read_text(encoding="utf-8"),
                                source=f"transforms/{_STOPWORDS_RESOURCE}")
    return _parse_stopwords(read_text_file(path, what="stop-word list"), source=path)


#: The packaged Korean stop-word list.
STOPWORDS = load_stopwords()

@dataclasses.dataclass(frozen=True, kw_only=True)
class OktTokenizer:
    """Turns a Korean transcript into tokens with konlpy's Okt; its defaults make
    ``"content_words"`` tokens, :meth:`for_config` the tokens a feature config names.

    ``stem`` puts verbs and adjectives in dictionary form (났어요 → 나다); ``keep_pos`` is
    the set of Okt tags to keep (see :data:`CONTENT_POS`); tokens in ``stopwords`` are
    dropped. Latin tokens are lower-cased (CCTV → cctv). The tokenizer holds only these
    settings — the Okt object and its JVM are shared per process — so it pickles and
    compares by value.
    """

    stopwords: frozenset[str] = STOPWORDS
    stem: bool = True
    keep_pos: frozenset[str] = CONTENT_POS

    def __post_init__(self) -> None:
        if not isinstance(self.stopwords, frozenset) or not all(
                isinstance(word, str) for word in self.stopwords):
            raise ConfigError(f"stopwords={self.stopwords!r:.80} must be a frozenset of str")
        if not isinstance(self.stem, bool):
            raise ConfigError(f"stem={self.stem!r} must be a bool")
        if not isinstance(self.keep_pos, frozenset) or not self.keep_pos:
            raise ConfigError(f"keep_pos={self.keep_pos!r} must be a non-empty frozenset")
        unknown = sorted(self.keep_pos - OKT_TAGS)
        if unknown:
            raise ConfigError(f"keep_pos has tags Okt does not emit: {unknown}")

    @classmethod
    def for_config(cls, config: FeatureConfig) -> "OktTokenizer":
        """The tokenizer that makes ``config.tokens`` (:data:`transforms.spec.TOKEN_SETS`):
        ``"morphemes"`` keeps every tag, unstemmed, with no stop words; ``"content_words"``
        is the default settings."""
        if config.tokens == "morphemes":
            return cls(stopwords=frozenset(), stem=False, keep_pos=OKT_TAGS)
        return cls()

    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text`` that these settings keep, in order; ``[]`` for empty or
        blank text.

        Raises :class:`TranscriptError` if ``text`` is not a ``str`` and
        :class:`TokenizerError`, giving the text's length (never the text), if Okt fails
        on it.
        """
        normalised = normalise_text(text)
        if not normalised:
            return []
        try:
            tagged = shared_okt().pos(normalised, norm=True, stem=self.stem)
        except jpype.JException as err:
            raise TokenizerError(f"Okt failed on a text of {len(normalised)} characters "
                                 f"({type(err).__name__})") from err
        words = (word.lower() for word, tag in tagged if tag in self.keep_pos)
        return [word for word in words if word not in self.stopwords]

    def tokenize_async(self, text: str) -> concurrent.futures.Future:
        """:meth:`tokenize` on the process's tokenizer threads; ``result()`` returns the
        tokens or raises what :meth:`tokenize` raised."""
        return thread_pool(POOL_NAME).submit(self.tokenize, text)

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """:meth:`tokenize` of every text, in order."""
        if isinstance(texts, str):
            raise ConfigError(f"texts must be an iterable of str, not one str {texts[:20]!r}")
        return [self.tokenize(text) for text in texts]
