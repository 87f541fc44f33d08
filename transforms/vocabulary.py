"""The token vocabulary of a model: token ↔ id, with PAD and OOV, saved in its bundle."""

from __future__ import annotations

import collections
import dataclasses
import json
from typing import Iterable, Optional, Sequence

import numpy as np
from apache_beam.io.filesystems import FileSystems

from transforms.errors import ConfigError
from transforms.text import read_text_file

PAD_TOKEN = "<pad>"
OOV_TOKEN = "<oov>"
PAD_ID = 0
OOV_ID = 1
#: Tokens every vocabulary starts with, at ids ``PAD_ID`` and ``OOV_ID``.
RESERVED_TOKENS = (PAD_TOKEN, OOV_TOKEN)

VOCABULARY_FORMAT = "call-triage-vocabulary"
VOCABULARY_VERSION = 1
_VOCABULARY_KEYS = frozenset({"format", "version", "tokens", "min_freq", "max_size"})


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
        return cls.from_json(read_text_file(path, what="vocabulary"), source=path)
