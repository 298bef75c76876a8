"""User audio folders: one sub-folder per class of WAV (FLAC, OGG, ...) clips -> log-mel spectrograms or
waveforms of one rate and one length.

    data: {kind: audio-folder, path: speech/}

Every clip is decoded with soundfile, mixed to mono, resampled to one rate (the files' most common rate, at
most 16 kHz, unless `sample_rate` is set; mixed rates are said in a warning), padded with silence or cropped
to one duration (the 95th percentile of the clips' lengths unless `duration` is set), and turned into a
log-mel spectrogram (or kept as a waveform), standardized with training-split statistics. Decoded clips
and their features are cached (an .npz without pickles, keyed by the files' names, sizes and times and by
every setting above), so a second run or a study's trials read them back in a moment.

Unreadable or empty files are skipped with a warning that names them, up to `max_skipped` of the files;
more is an error. A class folder without audio files is an error (every sub-folder is a class).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections import Counter
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from dlbench.data.audio_augment import AudioAugment, AugmentedClips, AugmentedSplit
from dlbench.data.audio_signal import AudioPreprocessor, audio_suffixes
from dlbench.data.bundle import DataBundle, DataSpec, SealedSplit, check_nonempty
from dlbench.data.common import SplitOptions, check_class_folders, to_tensor_split
from dlbench.data.split import split_indices
from dlbench.errors import UserError

log = logging.getLogger(__name__)
MAX_RATE = 16_000
"""Default ceiling of the sample rate: speech and most sound classes need nothing above 8 kHz."""
MAX_DURATION = 30.0
CACHE_VERSION = 1


class AudioFolderData(SplitOptions):
    kind: Literal["audio-folder"] = "audio-folder"
    """A folder with one sub-folder per class holding audio clips (WAV, FLAC, OGG)."""
    path: str
    """The folder: PATH/CLASS/*.wav, one sub-folder per class (its name is the label); relative paths are from the
    working directory."""
    sample_rate: int | None = Field(None, gt=0)
    """Rate every clip is resampled to, in Hz; null: the files' most common rate, at most 16000."""
    duration: float | None = Field(None, gt=0, le=MAX_DURATION)
    """Seconds every clip is padded (with silence, at the end) or cropped to; null: the 95th percentile of the clips'
    lengths, rounded up to 0.1 s."""
    crop: Literal["start", "center"] = "start"
    """Which part of a longer clip is kept: its start or its middle."""
    features: Literal["log-mel", "waveform"] = "log-mel"
    """log-mel: a log-mel spectrogram (CNN, RNN); waveform: the samples as [1, samples] (1-D CNN, GAN: generated
    samples are written as WAV files)."""
    layout: Literal["image", "sequence"] = "image"
    """log-mel as [1, n_mels, frames] (image: a 2-D CNN) or [n_mels, frames] (sequence: an RNN reads the frames in
    order, a 1-D CNN takes the mel bands as channels)."""
    n_mels: int = Field(40, gt=0, le=256)
    """Mel bands of the spectrogram."""
    window_ms: float = Field(25.0, gt=0)
    """STFT window length in milliseconds (its FFT is the next power of two)."""
    hop_ms: float = Field(10.0, gt=0)
    """STFT hop in milliseconds: one frame per hop."""
    f_min: float = Field(0.0, ge=0)
    """Lowest frequency of the mel bands, Hz."""
    f_max: float | None = Field(None, gt=0)
    """Highest frequency of the mel bands, Hz; null: half the sample rate."""
    max_skipped: float = Field(0.05, ge=0, le=1)
    """Fraction of unreadable or empty files that are skipped with a warning naming them; more is an error."""
    cache: bool = True
    """Keep decoded clips and features in $DLBENCH_CACHE_DIR (default ~/.cache/dlbench/audio) for the next run."""
    augment: AudioAugment = AudioAugment()
    """Training-time augmentation (off by default): time shift, noise, SpecAugment masks."""


def scan_audio_folder(path: str | Path) -> tuple[list[Path], list[int], list[str]]:
    """(files, class index of each, class names) of PATH/<class>/**/*.<audio>; UserError for a class folder
    without audio, fewer than two classes, or no audio at all."""
    root = Path(path)
    if not root.is_dir():
        raise UserError(f"audio folder not found: {path}", "data.path names a folder with one sub-folder per class")
    suffixes = audio_suffixes()
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    files, labels = [], []
    for i, c in enumerate(classes):
        found = [f for f in sorted((root / c).rglob("*")) if f.suffix.lower() in suffixes and f.is_file()]
        files += found
        labels += [i] * len(found)
    kinds = "WAV, FLAC, OGG" + (", MP3" if ".mp3" in suffixes else "")
    if not files:
        raise UserError(f"{path}: no audio files in class sub-folders", f"put {kinds} files in one sub-folder "
                        "per class: PATH/<class>/*.wav")
    check_class_folders(path, root, classes, labels, f"no audio files ({kinds})", "add clips to it")
    return files, labels, classes


def _skip(bad: dict[Path, str], total: int, max_skipped: float, path) -> None:
    """Warn about unreadable files, naming them; raise when more than `max_skipped` of them are."""
    if not bad:
        return
    first = "; ".join(f"{f}: {why}" for f, why in list(bad.items())[:3]) + (f"; and {len(bad) - 3} more"
                                                                            if len(bad) > 3 else "")
    if len(bad) > max_skipped * total:
        raise UserError(f"{path}: {len(bad)} of {total} audio files cannot be read ({first})",
                        f"remove or replace them; at most data.max_skipped = {max_skipped:g} of the files are skipped")
    log.warning("skipped %d unreadable audio file(s) of %d: %s", len(bad), total, first)


def headers(files: list[Path]) -> tuple[dict[Path, tuple[int, int]], dict[Path, str]]:
    """(sample rate, frames) of each readable file from its header alone; unreadable ones with the reason."""
    import soundfile as sf

    good, bad = {}, {}
    for f in files:
        try:
            info = sf.info(str(f))
        except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as e:
            bad[f] = f"not a readable audio file ({str(e).splitlines()[0][:80]})"
            continue
        if info.frames <= 0 or info.samplerate <= 0:
            bad[f] = "holds no samples"
        else:
            good[f] = (int(info.samplerate), int(info.frames))
    return good, bad


def resolve_rate_and_length(cfg: AudioFolderData, info: dict[Path, tuple[int, int]]) -> tuple[int, int]:
    """The sample rate and the clip length in samples that `cfg` asks for or the files suggest; mixed rates
    are said in a warning."""
    rates = Counter(r for r, _ in info.values())
    rate = cfg.sample_rate or min(MAX_RATE, rates.most_common(1)[0][0])
    if len(rates) > 1:
        log.warning("audio files have %d sample rates (%s): every clip is resampled to %d Hz", len(rates),
                    ", ".join(f"{n} at {r} Hz" for r, n in sorted(rates.items())), rate)
    duration = cfg.duration
    if duration is None:
        p95 = float(np.percentile([n / r for r, n in info.values()], 95))
        duration = min(MAX_DURATION, math.ceil(p95 * 10 - 1e-9) / 10)
    return rate, max(1, round(duration * rate))


def preprocessor(cfg: AudioFolderData, rate: int, samples: int) -> AudioPreprocessor:
    win = max(1, round(cfg.window_ms * rate / 1000))
    hop = max(1, round(cfg.hop_ms * rate / 1000))
    if cfg.f_max is not None and not cfg.f_min < cfg.f_max <= rate / 2:
        raise UserError(f"data.f_max {cfg.f_max:g} Hz must lie above data.f_min and at most at half the sample rate "
                        f"({rate / 2:g} Hz)", "lower data.f_max or leave it out")
    return AudioPreprocessor(rate, samples, cfg.features, cfg.layout, cfg.n_mels, 2 ** math.ceil(math.log2(win)), hop,
                             win, cfg.f_min, cfg.f_max, cfg.crop)


# --- the cache -----------------------------------------------------------------------------------------

def cache_dir() -> Path:
    base = os.environ.get("DLBENCH_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") \
        / "dlbench"
    return Path(base) / "audio"


def cache_key(files: list[Path], pre: AudioPreprocessor) -> str:
    h = hashlib.sha256(json.dumps({"version": CACHE_VERSION, "pre": {k: v for k, v in pre.to_json().items()
                                                                       if k not in ("mean", "std")}}).encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


def _read_cache(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:  # never unpickle
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as e:
        log.warning("ignoring the damaged audio cache %s (%s)", path, e)
        return None


def _write_cache(path: Path, arrays: dict) -> None:
    """Atomically (a temporary file renamed over it); a cache that cannot be written is only a warning."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        log.warning("could not cache audio features in %s (%s); they are recomputed next time", path.parent, e)


def decode_all(files: list[Path], pre: AudioPreprocessor, cache: bool) -> tuple[np.ndarray, np.ndarray, dict]:
    """(waveforms [N, samples], raw features [N, *shape], {file: why} of files that failed to decode) for the
    readable `files`, from the cache when it holds them."""
    from dlbench.progress import TrainProgress

    path = cache_dir() / f"{cache_key(files, pre)}.npz"
    got = _read_cache(path) if cache else None
    if got is not None and {"waves", "feats", "bad", "why"} <= set(got):
        return got["waves"], got["feats"], dict(zip(map(Path, got["bad"].tolist()), got["why"].tolist()))
    waves, bad = [], {}
    progress = TrainProgress("decoding audio") if len(files) >= 500 else None  # a few seconds or more
    if progress:
        progress.start(len(files))
    for i, f in enumerate(files):
        try:
            waves.append(pre.waveform(str(f), str(f))[0])
        except UserError as e:
            bad[f] = e.message.split(": ", 1)[-1]
        if progress and i % 50 == 49:
            progress.update(i + 1, {})
    if progress:
        progress.update(len(files), {})
        progress.stop()
    keep = [f for f in files if f not in bad]
    w = np.stack(waves) if waves else np.zeros((0, pre.samples), np.float32)
    feats = w[:, None] if pre.features == "waveform" else np.concatenate(
        [pre.raw_features(w[i:i + 256]) for i in range(0, len(w), 256)] or [np.zeros((0, *pre.input_shape))])
    if cache and keep:
        _write_cache(path, {"waves": w, "feats": feats.astype(np.float32), "bad": np.array([str(f) for f in bad]),
                            "why": np.array(list(bad.values()))})
    return w, feats.astype(np.float32), bad


def build_audio_folder(cfg: AudioFolderData) -> DataBundle:
    if cfg.features == "waveform" and (cfg.augment.freq_masks or cfg.augment.time_masks):
        raise UserError("data.augment.freq_masks / time_masks mask spectrograms, but data.features is waveform",
                        "set them to 0, or use features: log-mel")
    files, labels, classes = scan_audio_folder(cfg.path)
    label_of = dict(zip(files, labels))
    info, bad = headers(files)
    _skip(bad, len(files), cfg.max_skipped, cfg.path)
    if not info:
        raise UserError(f"{cfg.path}: none of the {len(files)} audio files can be read", "check the files")
    rate, samples = resolve_rate_and_length(cfg, info)
    pre = preprocessor(cfg, rate, samples)
    readable = [f for f in files if f in info]
    waves, feats, failed = decode_all(readable, pre, cfg.cache)
    if failed:
        _skip({**bad, **failed}, len(files), cfg.max_skipped, cfg.path)
    kept = [f for f in readable if f not in failed]
    y = np.asarray([label_of[f] for f in kept], dtype=np.int64)
    lost = sorted(set(range(len(classes))) - set(y.tolist()))
    if lost:
        raise UserError(f"no readable audio left in class folder(s) {', '.join(classes[i] for i in lost)}",
                        "replace the unreadable files")
    tr, va, te = split_indices(len(kept), y, (cfg.val_fraction, cfg.test_fraction), cfg.seed, True)
    check_nonempty(cfg.path, {"train": len(tr), "validation": len(va), "test": len(te)},
                   "add clips or change data.val_fraction / data.test_fraction")
    pre.fit_stats(feats[tr])  # training split only
    x = pre.standardize(feats)
    log.info("audio: %d clips at %d Hz, each %.2f s (%d samples) -> %s %s", len(kept), rate, pre.seconds, samples,
             cfg.features, list(pre.input_shape))
    spec = DataSpec("classification", pre.input_shape, len(classes), classes,
                    extras={"sample_rate": rate, "clip_seconds": pre.seconds})
    ids = [str(f) for f in kept]
    splits = [to_tensor_split(x, y, idx, "classification", ids) for idx in (tr, va, te)]
    if cfg.augment.active:
        splits[0] = AugmentedSplit(AugmentedClips(waves[tr], y[tr], pre, cfg.augment), splits[0].x,
                                   splits[0].ids)
    return DataBundle(splits[0], splits[1], SealedSplit(splits[2]), spec, pre.to_json())
