"""Training batches: the fit's windows, reshuffled every epoch and augmented.

:class:`TrainingBatches` feeds ``keras.Model.fit``: transcripts swapped between windows
(:func:`swap_transcripts`, the targets following the new pair of sound and words),
transcripts blanked or tokens made OOV, and log-mel windows rolled in time
(:func:`roll_frames`). :func:`drop_unread_gate_weights` zeroes the gate's sample weights
where the gate does not read the transcript, for the training batches and the validation
data alike.
"""

from __future__ import annotations

from typing import Mapping, Optional

import keras
import numpy as np

from models.layers import reads_whole_transcript
from transforms import spec
from transforms.vocabulary import OOV_ID, PAD_ID


def roll_frames(log_mel: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Each window of ``log_mel`` (n, n_mels, n_frames[, 1]) rolled along its frames (axis
    2) by ``shifts`` (n,) frames, circularly; a new array of the same shape and dtype."""
    n_frames = log_mel.shape[2]
    source = (np.arange(n_frames)[None, :] - shifts[:, None]) % n_frames
    index = source.reshape((len(log_mel), 1, n_frames) + (1,) * (log_mel.ndim - 3))
    return np.take_along_axis(log_mel, index, axis=2)


#: The targets a transcript decides, which a swapped transcript brings with it.
TRANSCRIPT_TARGETS = (spec.TEXT_OUTPUT, spec.GATE_OUTPUT)


def swap_transcripts(inputs: dict[str, np.ndarray], targets: dict[str, np.ndarray], *,
                     swapped: np.ndarray, donor_tokens: np.ndarray,
                     donor_targets: Mapping[str, np.ndarray],
                     donor_lexicon: Optional[np.ndarray] = None) -> None:
    """Give the ``swapped`` rows (bool (n,)) of a batch other windows' transcripts, in place.

    ``donor_tokens`` int32 (k, text_length), ``donor_lexicon`` float32 (k, groups) (for a
    model with a ``lexicon`` input) and ``donor_targets`` the donors' targets (each
    float32 (k, 1)), with k = ``swapped.sum()``. The swapped rows take the donors'
    :data:`TRANSCRIPT_TARGETS` that ``targets`` has, and then follow the new pair of sound
    and words: ``PRANK_OUTPUT`` (when present) becomes the claim without emergency audio,
    ``claim · (1 − audio)``, and, for a model whose verdict is gated by the words
    (``GATE_OUTPUT`` present), ``EMERGENCY_OUTPUT`` becomes ``audio · gate``, with
    ``gate`` 1 for a donor transcript the gate does not read (:func:`gate_reads`). ``audio`` is
    the row's ``AUDIO_OUTPUT`` target, or its ``EMERGENCY_OUTPUT`` one without it; every
    other target is left as it is.
    """
    inputs[spec.TOKENS_INPUT][swapped] = donor_tokens
    if spec.LEXICON_INPUT in inputs:
        inputs[spec.LEXICON_INPUT][swapped] = donor_lexicon
    for name in TRANSCRIPT_TARGETS:
        if name in targets:
            targets[name][swapped] = donor_targets[name]
    audio = targets.get(spec.AUDIO_OUTPUT, targets[spec.EMERGENCY_OUTPUT])[swapped]
    if spec.PRANK_OUTPUT in targets:
        targets[spec.PRANK_OUTPUT][swapped] = donor_targets[spec.TEXT_OUTPUT] * (1.0 - audio)
    if spec.GATE_OUTPUT in targets:
        gate = np.where(gate_reads(donor_tokens), donor_targets[spec.GATE_OUTPUT], 1.0)
        targets[spec.EMERGENCY_OUTPUT][swapped] = audio * gate


def gate_reads(tokens: np.ndarray) -> np.ndarray:
    """bool (n, 1): the rows of ``tokens`` int (n, text_length) whose transcript the
    verdict's gate reads (:func:`models.layers.reads_whole_transcript`)."""
    return keras.ops.convert_to_numpy(reads_whole_transcript(tokens))


def drop_unread_gate_weights(weights: dict[str, np.ndarray], tokens: np.ndarray) -> None:
    """Set the ``GATE_OUTPUT`` weights (when present) of the windows whose transcript the
    gate does not read (:func:`gate_reads`: none, or cut off) to 0, in place: the verdict
    is their audio's, and the gate learns nothing from words it did not see whole."""
    if spec.GATE_OUTPUT in weights:
        weights[spec.GATE_OUTPUT] = np.where(gate_reads(tokens)[:, 0],
                                             weights[spec.GATE_OUTPUT], 0.0)


class TrainingBatches(keras.utils.PyDataset):
    """Shuffled training batches ``(inputs, targets, sample_weights)``, reshuffled every
    epoch, with the augmentations of :class:`models.train.TrainOptions`: transcripts
    swapped between windows (:func:`swap_transcripts`), blanked or tokens made OOV (a
    window whose tokens are blanked gets weight 0 on the text-only head, and so on the
    gate, with any other transcript the gate does not read:
    :func:`drop_unread_gate_weights`) and, with ``time_shift``, log-mel windows rolled in
    time."""

    def __init__(self, *, inputs: Mapping[str, np.ndarray], targets: Mapping[str, np.ndarray],
                 weights: Mapping[str, np.ndarray], batch_size: int, seed: int,
                 text_dropout: float, token_dropout: float, text_swap: float = 0.0,
                 time_shift: bool = False) -> None:
        super().__init__()
        self._inputs, self._targets, self._weights = inputs, targets, weights
        self._n = len(next(iter(inputs.values())))
        self._batch_size = batch_size
        self._text_dropout, self._token_dropout = text_dropout, token_dropout
        self._text_swap = text_swap
        self._time_shift = time_shift
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(self._n)

    def __len__(self) -> int:
        return -(-self._n // self._batch_size)

    def on_epoch_end(self) -> None:
        self._order = self._rng.permutation(self._n)

    def __getitem__(self, index: int) -> tuple[dict, dict, dict]:
        rows = np.sort(self._order[index * self._batch_size:(index + 1) * self._batch_size])
        inputs = {name: array[rows] for name, array in self._inputs.items()}
        targets = {name: array[rows] for name, array in self._targets.items()}
        weights = {name: array[rows] for name, array in self._weights.items()}
        if self._time_shift and spec.LOGMEL_INPUT in inputs:
            log_mel = inputs[spec.LOGMEL_INPUT]
            shifts = self._rng.integers(0, log_mel.shape[2], size=len(rows))
            inputs[spec.LOGMEL_INPUT] = roll_frames(log_mel, shifts)
        if spec.TOKENS_INPUT in inputs:
            if self._text_swap and spec.TEXT_OUTPUT in targets:
                swapped = self._rng.random(len(rows)) < self._text_swap
                donors = self._rng.integers(0, self._n, size=int(swapped.sum()))
                swap_transcripts(inputs, targets, swapped=swapped,
                                 donor_tokens=self._inputs[spec.TOKENS_INPUT][donors],
                                 donor_lexicon=(self._inputs[spec.LEXICON_INPUT][donors]
                                                if spec.LEXICON_INPUT in self._inputs
                                                else None),
                                 donor_targets={name: self._targets[name][donors]
                                                for name in TRANSCRIPT_TARGETS
                                                if name in self._targets})
            tokens = inputs[spec.TOKENS_INPUT]
            blank = self._rng.random(len(rows)) < self._text_dropout
            oov = (self._rng.random(tokens.shape) < self._token_dropout) & (tokens != PAD_ID)
            tokens[oov] = OOV_ID
            tokens[blank] = PAD_ID
            if spec.LEXICON_INPUT in inputs:
                inputs[spec.LEXICON_INPUT][blank] = 0.0
            if spec.TEXT_OUTPUT in weights:
                weights[spec.TEXT_OUTPUT] = np.where(blank, 0.0, weights[spec.TEXT_OUTPUT])
            drop_unread_gate_weights(weights, tokens)
        return inputs, targets, weights
