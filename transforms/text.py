"""Korean transcript features: normalisation, Okt tokens, stop words and a vocabulary.

The path of a transcript to the model is
``normalise_text`` → :class:`OktTokenizer` → :class:`Vocabulary` ids, padded or truncated
to ``text_length``. Which tokens the tokenizer keeps is part of the
:class:`transforms.spec.FeatureConfig` (``tokens``; :meth:`OktTokenizer.for_config`), so a
model bundle records it: by default every morpheme Okt finds, as written, particles,
endings and punctuation included, since the sentence's mood and tense (a question ending in
되나요?, a past-tense story, an urgent 났어요!) tell an everyday call from a claimed
emergency in scripts a model never saw; ``"content_words"`` keeps only content words in
dictionary form without stop words. Training and scoring both go through
:func:`encode_transcript` or the same two steps, so they cannot drift apart.

Okt runs in a JVM (konlpy over JPype). A process can start the JVM only once, so every
:class:`OktTokenizer` shares one Okt object that is created lazily, under a lock, on the
first call to :meth:`OktTokenizer.tokenize`. A tokenizer holds no JVM state and pickles
freely, as Beam needs for DoFns. JPype attaches any Python thread that calls into Java
automatically (as a daemon thread, so it never holds the JVM open at exit), so Beam's
worker threads can tokenise without further set-up; Okt itself keeps no mutable state
and is safe to call from several threads at once.

JPype releases the GIL while Java runs, so :meth:`OktTokenizer.tokenize_async` runs Okt on
the process's tokenizer threads while the caller decodes audio with numpy: the feature
path hides Okt's time behind the audio's instead of adding the two.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import importlib.resources
import json
import os
import threading
import unicodedata
from typing import Iterable, Optional, Sequence

import jpype
import konlpy
import numpy as np
from apache_beam.io.filesystems import FileSystems
from konlpy.tag import Okt

from transforms.errors import ConfigError, TokenizerError, TranscriptError
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

PAD_TOKEN = "<pad>"
OOV_TOKEN = "<oov>"
PAD_ID = 0
OOV_ID = 1
#: Tokens every vocabulary starts with, at ids ``PAD_ID`` and ``OOV_ID``.
RESERVED_TOKENS = (PAD_TOKEN, OOV_TOKEN)

VOCABULARY_FORMAT = "call-triage-vocabulary"
VOCABULARY_VERSION = 1
_VOCABULARY_KEYS = frozenset({"format", "version", "tokens", "min_freq", "max_size"})

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


def _read_text(path: str, *, what: str) -> str:
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
    return _parse_stopwords(_read_text(path, what="stop-word list"), source=path)


#: The packaged Korean stop-word list.
STOPWORDS = load_stopwords()

_OKT: Optional[Okt] = None
_OKT_LOCK = threading.Lock()
_POOL_NAME = "okt"  # the tokenizer threads (transforms.worker.thread_pool)
#: The JVM's heap limit: Okt's live data fits well within it, while konlpy's default
#: (1,024 MB) lets the heap grow to a large, run-dependent share of a worker's memory.
OKT_MAX_HEAP_MB = 256
#: How the JVM starts for Okt (konlpy's own start would add ``-ea`` and let the JVM pick
#: G1, with collector threads per core). A small heap of long-lived dictionaries needs no
#: concurrent collector, so the serial one saves memory and CPU. Explicit collections are
#: ignored: JPype calls ``System.gc()`` whenever Python's collector runs, and each full
#: collection stops Okt; the JVM's own young collections keep the heap in bounds.
OKT_JVM_OPTIONS = ("-Dfile.encoding=UTF8", f"-Xmx{OKT_MAX_HEAP_MB}m", "-XX:+UseSerialGC",
                   "-XX:+DisableExplicitGC")
#: What Okt loads from konlpy's ``java`` folder: konlpy's ``OktInterface`` classes and
#: open-korean-text with the libraries it needs (konlpy puts every tagger's jars on the
#: class path).
_OKT_CLASS_PATH = ("bin", "open-korean-text-2.1.0.jar", "scala-library-2.12.3.jar",
                   "twitter-text-1.14.7.jar", "snakeyaml-1.12.jar")


def _start_jvm() -> None:
    """Start the process's JVM with :data:`OKT_JVM_OPTIONS` and Okt's class path.

    Raises ConfigError, before starting anything, when konlpy's ``java`` folder lacks an
    entry of the class path (another konlpy version than ``setup.py`` pins).
    """
    java_dir = os.path.join(os.path.dirname(konlpy.__file__), "java")
    class_path = [os.path.join(java_dir, entry) for entry in _OKT_CLASS_PATH]
    missing = [path for path in class_path if not os.path.exists(path)]
    if missing:
        raise ConfigError(f"konlpy {konlpy.__version__} lacks what Okt needs: {missing}")
    jpype.startJVM(jpype.getDefaultJVMPath(), *OKT_JVM_OPTIONS, classpath=class_path,
                   convertStrings=True)


def _create_okt() -> Okt:
    """Build konlpy's Okt; the first call in a process starts the JVM (:func:`_start_jvm`).

    The JVM is started on a short-lived thread that detaches itself before it ends. The
    thread that starts a JPype JVM becomes the JVM's non-daemon ``main`` thread, and at
    exit JPype waits for every non-daemon thread to detach. Started on a long-lived pooled
    thread (as Beam SDK workers run DoFns), it would keep the worker process from ever
    exiting; started here, the threads that tokenise later attach as daemons.
    """
    created: list[Okt] = []
    failures: list[BaseException] = []

    def start() -> None:
        try:
            if not jpype.isJVMStarted():
                _start_jvm()
            created.append(Okt())
        except BaseException as error:  # re-raised on the calling thread below
            failures.append(error)
        finally:
            if jpype.isJVMStarted():
                jpype.java.lang.Thread.detach()

    starter = threading.Thread(target=start, name="start-okt-jvm")
    starter.start()
    starter.join()
    if failures:
        raise failures[0]
    return created[0]


def _shared_okt() -> Okt:
    """The process's one Okt, created on first use; safe to call from any thread."""
    global _OKT
    okt = _OKT
    if okt is None:
        with _OKT_LOCK:
            if _OKT is None:
                _OKT = _create_okt()
            okt = _OKT
    return okt


def start_okt() -> concurrent.futures.Future:
    """Start the JVM and build Okt on a tokenizer thread, without waiting.

    The first Okt of a process costs 2.6–3.7 s here (4.8–6.7 CPU s); 0.5 s of it is
    building Okt, the rest its first analysis, which loads the dictionaries (loading
    them here too, with a warm-up phrase, made the 500-call job no faster). Calls made
    meanwhile wait for it. The future's result is the Okt.
    """
    return thread_pool(_POOL_NAME).submit(_shared_okt)


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
            tagged = _shared_okt().pos(normalised, norm=True, stem=self.stem)
        except jpype.JException as err:
            raise TokenizerError(f"Okt failed on a text of {len(normalised)} characters "
                                 f"({type(err).__name__})") from err
        words = (word.lower() for word, tag in tagged if tag in self.keep_pos)
        return [word for word in words if word not in self.stopwords]

    def tokenize_async(self, text: str) -> concurrent.futures.Future:
        """:meth:`tokenize` on the process's tokenizer threads; ``result()`` returns the
        tokens or raises what :meth:`tokenize` raised."""
        return thread_pool(_POOL_NAME).submit(self.tokenize, text)

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """:meth:`tokenize` of every text, in order."""
        if isinstance(texts, str):
            raise ConfigError(f"texts must be an iterable of str, not one str {texts[:20]!r}")
        return [self.tokenize(text) for text in texts]


def _check_limits(*, min_freq: object, max_size: object) -> None:
    """Validate a vocabulary's ``min_freq`` (int >= 1) and ``max_size`` (None or int >= 2)."""
    if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
        raise ConfigError(f"min_freq={min_freq!r} must be an int >= 1")
    if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int)
                                 or max_size < len(RESERVED_TOKENS)):
        raise ConfigError(
            f"max_size={max_size!r} must be None or an int >= {len(RESERVED_TOKENS)}")


def _check_tokens(tokens: Iterable[object]) -> None:
    """Raise :class:`ConfigError` unless every token is a non-empty ``str``."""
    bad = [token for token in tokens if not isinstance(token, str) or not token]
    if bad:
        raise ConfigError(f"tokens must be non-empty str, got {bad[:5]!r}")


@dataclasses.dataclass(frozen=True, kw_only=True, repr=False)
class Vocabulary:
    """Token ↔ id mapping for the model's embedding.

    ``tokens[i]`` is the token of id ``i``: ``"<pad>"`` (0), ``"<oov>"`` (1), then the
    corpus tokens by descending count, ties in code-point order. ``min_freq`` and
    ``max_size`` record how it was built; ``max_size`` counts the two reserved tokens, so
    ``len(vocab)`` is the embedding's input size. Build one with :meth:`build`.
    """

    tokens: tuple[str, ...]
    min_freq: int = 1
    max_size: Optional[int] = None
    _ids: dict[str, int] = dataclasses.field(init=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.tokens, tuple):
            raise ConfigError(f"tokens must be a tuple, not {type(self.tokens).__name__}")
        if self.tokens[:len(RESERVED_TOKENS)] != RESERVED_TOKENS:
            raise ConfigError(
                f"tokens must start with {RESERVED_TOKENS}, not {self.tokens[:2]}")
        _check_tokens(self.tokens)
        duplicates = sorted(token for token, count in collections.Counter(self.tokens).items()
                            if count > 1)
        if duplicates:
            raise ConfigError(f"tokens must be unique, repeated: {duplicates[:5]}")
        _check_limits(min_freq=self.min_freq, max_size=self.max_size)
        if self.max_size is not None and len(self.tokens) > self.max_size:
            raise ConfigError(f"{len(self.tokens)} tokens exceed max_size={self.max_size}")
        object.__setattr__(self, "_ids", {token: i for i, token in enumerate(self.tokens)})

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], *, min_freq: int = 2,
              max_size: Optional[int] = None) -> "Vocabulary":
        """Vocabulary of the tokens seen at least ``min_freq`` times in ``token_lists``.

        Counts are over all occurrences. With ``max_size``, only the ``max_size - 2`` most
        frequent tokens are kept. Tokens equal to the reserved ``"<pad>"``/``"<oov>"`` are
        not counted. Raises :class:`ConfigError` for bad limits or an item that is not a
        sequence of non-empty strings (a bare ``str`` would count its characters).
        """
        _check_limits(min_freq=min_freq, max_size=max_size)
        counts: collections.Counter[str] = collections.Counter()
        for index, tokens in enumerate(token_lists):
            if isinstance(tokens, str) or not isinstance(tokens, Sequence):
                raise ConfigError(f"token_lists[{index}] must be a sequence of tokens, "
                                  f"not {type(tokens).__name__} {tokens!r:.40}")
            counts.update(tokens)
        _check_tokens(counts)
        kept = sorted((token for token, count in counts.items()
                       if count >= min_freq and token not in RESERVED_TOKENS),
                      key=lambda token: (-counts[token], token))
        if max_size is not None:
            kept = kept[:max_size - len(RESERVED_TOKENS)]
        return cls(tokens=RESERVED_TOKENS + tuple(kept), min_freq=min_freq, max_size=max_size)

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        return (f"Vocabulary(size={len(self)}, min_freq={self.min_freq}, "
                f"max_size={self.max_size})")

    def id_of(self, token: str) -> int:
        """Id of ``token``; ``OOV_ID`` if it is not in the vocabulary."""
        return self._ids.get(token, OOV_ID)

    def encode(self, tokens: Sequence[str], *, length: int) -> np.ndarray:
        """Ids of ``tokens`` as int32 ``(length,)``.

        Longer sequences keep their FIRST ``length`` tokens (a call's opening carries the
        emergency); shorter ones are padded with ``PAD_ID`` at the end; unknown tokens map
        to ``OOV_ID``.
        """
        if isinstance(length, bool) or not isinstance(length, int) or length <= 0:
            raise ConfigError(f"length={length!r} must be an int > 0")
        if isinstance(tokens, str) or not isinstance(tokens, Sequence):
            raise ConfigError(
                f"tokens must be a sequence of str, not {type(tokens).__name__} {tokens!r:.40}")
        ids = np.full(length, PAD_ID, dtype=np.int32)
        head = [self.id_of(token) for token in tokens[:length]]
        ids[:len(head)] = head
        return ids

    def to_json(self) -> str:
        """The vocabulary as a JSON object (format, version, limits, tokens in id order)."""
        return json.dumps({
            "format": VOCABULARY_FORMAT,
            "version": VOCABULARY_VERSION,
            "min_freq": self.min_freq,
            "max_size": self.max_size,
            "tokens": list(self.tokens),
        }, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str, *, source: str = "<string>") -> "Vocabulary":
        """Parse :meth:`to_json` output; :class:`ConfigError` naming ``source`` if malformed."""
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"vocabulary {source} is not valid JSON: {err}") from err
        if not isinstance(payload, dict):
            raise ConfigError(
                f"vocabulary {source} must hold a JSON object, not {type(payload).__name__}")
        if payload.get("format") != VOCABULARY_FORMAT:
            raise ConfigError(f"vocabulary {source} has format={payload.get('format')!r}, "
                              f"expected {VOCABULARY_FORMAT!r}")
        if payload.get("version") != VOCABULARY_VERSION:
            raise ConfigError(f"vocabulary {source} has version={payload.get('version')!r}, "
                              f"expected {VOCABULARY_VERSION}")
        if set(payload) != _VOCABULARY_KEYS:
            raise ConfigError(f"vocabulary {source} has keys {sorted(payload)}, "
                              f"expected {sorted(_VOCABULARY_KEYS)}")
        if not isinstance(payload["tokens"], list):
            raise ConfigError(f"vocabulary {source}: tokens must be a list, "
                              f"not {type(payload['tokens']).__name__}")
        try:
            return cls(tokens=tuple(payload["tokens"]), min_freq=payload["min_freq"],
                       max_size=payload["max_size"])
        except ConfigError as err:
            raise ConfigError(f"vocabulary {source}: {err}") from err

    def save(self, path: str) -> None:
        """Write :meth:`to_json` to ``path`` (local or ``gs://``) through FileSystems."""
        try:
            with FileSystems.create(path, mime_type="application/json") as handle:
                handle.write(self.to_json().encode("utf-8"))
        except OSError as err:
            raise ConfigError(f"cannot write vocabulary {path}: {err}") from err

    @classmethod
    def load(cls, path: str) -> "Vocabulary":
        """Read a vocabulary written by :meth:`save`; :class:`ConfigError` naming ``path``."""
        return cls.from_json(_read_text(path, what="vocabulary"), source=path)


def encode_transcript(text: str, *, tokenizer: OktTokenizer, vocab: Vocabulary,
                      length: int) -> np.ndarray:
    """Token ids of a transcript, int32 ``(length,)``: tokenise, then :meth:`Vocabulary.encode`."""
    return vocab.encode(tokenizer.tokenize(text), length=length)
