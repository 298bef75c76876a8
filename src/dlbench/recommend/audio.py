"""Inspecting a folder of audio class folders for `dlbench recommend`: clips per class, sample rates, lengths,
and the input shape the audio-folder data kind will give (read from the files' headers, nothing decoded)."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from dlbench.data.audio import (AudioFolderData, headers, preprocessor, resolve_rate_and_length,
                                scan_audio_folder)
from dlbench.data.audio_signal import audio_suffixes
from dlbench.errors import UserError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def is_audio_folder(p: Path) -> bool:
    """A folder whose class sub-folders hold more audio files than images."""
    suffixes = audio_suffixes()
    counts = Counter()
    for d in p.iterdir():
        if d.is_dir() and not d.name.startswith("."):
            for f in d.rglob("*"):
                s = f.suffix.lower()
                counts["audio" if s in suffixes else "image" if s in IMAGE_SUFFIXES else "other"] += 1
    return counts["audio"] > counts["image"]


def audio_profile(p: Path, goal: str):
    """The Profile of an audio folder; a GAN (goal generate) gets waveforms, so its samples are WAV files."""
    from dlbench.recommend.inspect import Profile

    files, labels, classes = scan_audio_folder(p)
    info, bad = headers(files)
    if len(bad) > 0.05 * len(files) or not info:
        first = next(iter(bad.items()))
        raise UserError(f"{p}: {len(bad)} of {len(files)} audio files cannot be read ({first[0]}: {first[1]})",
                        "remove or replace them")
    # predicting: log-mel frames as a sequence [n_mels, frames], read by a 1-D CNN (mel bands as channels, a few
    # times cheaper per step on a CPU than a 2-D CNN on [1, n_mels, frames], as accurate on words) or an RNN
    data = {"kind": "audio-folder"} | ({"features": "waveform"} if goal == "generate" else {"layout": "sequence"})
    cfg = AudioFolderData(path=str(p), **{k: v for k, v in data.items() if k != "kind"})
    rate, samples = resolve_rate_and_length(cfg, info)
    shape = preprocessor(cfg, rate, samples).input_shape
    lengths = np.array([n / r for r, n in info.values()])
    counts = np.bincount([lab for f, lab in zip(files, labels) if f in info], minlength=len(classes))
    rates = Counter(r for r, _ in info.values())
    facts = [f"{len(info)} audio clips in {len(classes)} class folders ({counts.min()} to {counts.max()} per class)",
             f"sample rate{'s' if len(rates) > 1 else ''} {', '.join(f'{r} Hz' for r in sorted(rates))}"
             + (f": all resampled to {rate} Hz" if len(rates) > 1 or rate not in rates else ""),
             f"clips {lengths.min():.2f} to {lengths.max():.2f} s (median {np.median(lengths):.2f} s): padded or "
             f"cropped to {samples / rate:.2f} s",
             ("raw waveforms [1, samples], so generated samples can be written as WAV files" if goal == "generate"
              else f"log-mel spectrograms {list(shape)} (mel bands x 10 ms frames)")]
    if bad:
        facts.append(f"{len(bad)} unreadable file(s) will be skipped, e.g. {next(iter(bad))}")
    if counts.max() > 3 * counts.min():
        facts.append("classes are imbalanced (largest over 3x the smallest): watch per-class recall in the report")
    return Profile(p, "audio", "classification", len(info), data, shape, facts, len(classes))
