"""Audio clips -> model inputs: decode (soundfile), mix to mono, resample (scipy's polyphase filter), pad or
crop to a fixed length, then a log-mel spectrogram (torch.stft and an HTK mel filterbank) or the raw
waveform, standardized with training-split statistics.

`AudioPreprocessor` holds every number of that chain; it is stored as JSON in model.json and replayed
exactly by `predict` and the server (`codecs/audio.py`), so a clip is turned into the same features at
training and at inference time.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from dlbench.errors import UserError

LOG_FLOOR = 1e-6
"""Added to mel energies before the log: silence becomes log(1e-6) = -13.8 rather than -inf."""


def audio_suffixes() -> set[str]:
    """File extensions soundfile's libsndfile reads here (MP3 and Opus only in libsndfile >= 1.1)."""
    import soundfile as sf

    formats = set(sf.available_formats())
    table = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".oga": "OGG", ".aiff": "AIFF", ".aif": "AIFF",
             ".au": "AU", ".mp3": "MP3", ".w64": "W64", ".rf64": "RF64", ".caf": "CAF"}
    return {s for s, f in table.items() if f in formats}


def decode(source, name: str) -> tuple[np.ndarray, int]:
    """An audio file (path or bytes) -> (mono float32 samples, sample rate). UserError naming `name` when it is
    not audio, empty or holds non-finite samples."""
    import soundfile as sf

    try:
        data, rate = sf.read(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source,
                             dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError, EOFError) as e:
        raise UserError(f"{name}: not a readable audio file ({str(e).splitlines()[0][:120]})",
                        "remove or replace it; WAV, FLAC and OGG files are read") from None
    if data.shape[0] == 0:
        raise UserError(f"{name}: the audio file holds no samples", "remove it or record it again")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(mono).all():
        raise UserError(f"{name}: the audio holds NaN or infinite samples", "remove or replace it")
    return np.ascontiguousarray(mono, dtype=np.float32), int(rate)


def resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    """`x` at `rate` Hz -> `target` Hz with a polyphase anti-aliasing filter (scipy.signal.resample_poly)."""
    if rate == target:
        return x
    from scipy.signal import resample_poly

    g = math.gcd(rate, target)
    return resample_poly(x, target // g, rate // g).astype(np.float32)


def fix_length(x: np.ndarray, n: int, crop: str = "start") -> np.ndarray:
    """Zero-pad at the end, or crop to `n` samples keeping the start ("start") or the middle ("center")."""
    if len(x) >= n:
        start = (len(x) - n) // 2 if crop == "center" else 0
        return x[start:start + n]
    return np.pad(x, (0, n - len(x)))


def mel_filterbank(rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None) -> np.ndarray:
    """[n_fft // 2 + 1, n_mels] triangular filters equally spaced on the HTK mel scale
    (mel = 2595 log10(1 + f / 700)), unnormalized: the filterbank of torchaudio's `melscale_fbanks(norm=None,
    mel_scale="htk")` and librosa's `filters.mel(htk=True, norm=None)`."""
    f_max = rate / 2 if f_max is None else f_max
    mel = lambda f: 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)  # noqa: E731
    hz = lambda m: 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)  # noqa: E731
    points = hz(np.linspace(mel(f_min), mel(f_max), n_mels + 2))       # band edges and centres, Hz
    freqs = np.linspace(0.0, rate / 2, n_fft // 2 + 1)                 # the FFT bins, Hz
    lo, mid, hi = points[:-2], points[1:-1], points[2:]
    rise = (freqs[:, None] - lo) / (mid - lo)
    fall = (hi - freqs[:, None]) / (hi - mid)
    return np.maximum(0.0, np.minimum(rise, fall)).astype(np.float32)


class AudioPreprocessor:
    """Clips -> [N, *input_shape] float32: log-mel [1, n_mels, frames] ("image", 2-D CNNs) or [n_mels, frames]
    ("sequence": a GRU reads frames as steps, a 1-D CNN mel bands as channels), or the waveform [1, samples];
    then (x - mean) / std, per mel band or one scalar for waveforms."""
    kind = "audio"

    def __init__(self, sample_rate: int, samples: int, features: str = "log-mel", layout: str = "image",
                 n_mels: int = 40, n_fft: int = 512, hop: int = 160, win: int = 400, f_min: float = 0.0,
                 f_max: float | None = None, crop: str = "start", mean=0.0, std=1.0):
        self.sample_rate, self.samples, self.features, self.layout = int(sample_rate), int(samples), features, layout
        self.n_mels, self.n_fft, self.hop, self.win = int(n_mels), int(n_fft), int(hop), int(win)
        self.f_min, self.f_max, self.crop = float(f_min), f_max, crop
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        self._fb = None

    @property
    def frames(self) -> int:
        return 1 + self.samples // self.hop  # torch.stft(center=True)

    @property
    def input_shape(self) -> tuple[int, ...]:
        if self.features == "waveform":
            return (1, self.samples)
        return (1, self.n_mels, self.frames) if self.layout == "image" else (self.n_mels, self.frames)

    @property
    def seconds(self) -> float:
        return self.samples / self.sample_rate

    # --- clips -> waveforms at the model's rate and length -------------------------------------------
    def waveform(self, source, name: str) -> tuple[np.ndarray, int]:
        """One file (path or bytes) -> (fixed-length waveform at the model's rate, the file's own rate)."""
        x, rate = decode(source, name)
        return fix_length(resample(x, rate, self.sample_rate), self.samples, self.crop), rate

    def load(self, path: str | Path) -> np.ndarray:
        return self.waveform(path, str(path))[0]

    def fit_waveforms(self, waves: list[np.ndarray]) -> np.ndarray:
        """Samples at the model's rate, any length each -> [N, samples] padded or cropped."""
        return np.stack([fix_length(np.asarray(w, dtype=np.float32), self.samples, self.crop) for w in waves]) \
            if len(waves) else np.zeros((0, self.samples), np.float32)

    # --- waveforms -> features --------------------------------------------------------------------------
    def raw_features(self, waves) -> np.ndarray:
        """[N, samples] -> unstandardized features [N, *input_shape] (log-mel energies or the samples)."""
        import torch

        w = torch.as_tensor(np.asarray(waves, dtype=np.float32))
        if self.features == "waveform":
            return w[:, None].numpy()
        return self.torch_features(w).numpy()

    def torch_features(self, w):
        """Log-mel of a [N, samples] float tensor (on any device), [N, *input_shape]."""
        import torch

        if self._fb is None:
            self._fb = torch.from_numpy(mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, self.f_min,
                                                       self.f_max))
        spec = torch.stft(w, self.n_fft, self.hop, self.win, torch.hann_window(self.win, device=w.device),
                          center=True, return_complex=True).abs().pow(2)          # [N, n_fft//2+1, frames]
        mel = torch.log(torch.einsum("nft,fm->nmt", spec, self._fb.to(w.device)) + LOG_FLOOR)
        return mel[:, None] if self.layout == "image" else mel

    def standardize(self, feats: np.ndarray) -> np.ndarray:
        return ((feats - self._stat(self.mean)) / self._stat(self.std)).astype(np.float32)

    def _stat(self, v: np.ndarray) -> np.ndarray:
        """A per-band statistic broadcast over [N, *input_shape]."""
        if v.ndim == 0:
            return v
        return v[:, None] if self.layout == "sequence" else v[None, :, None]

    def fit_stats(self, feats: np.ndarray) -> None:
        """Mean and std from training-split features: per mel band, or one scalar for waveforms."""
        f = feats.astype(np.float64)
        if self.features == "waveform":
            self.mean, self.std = np.float32(f.mean()), np.float32(max(f.std(), 1e-8))
            return
        bands = f.reshape(len(f), self.n_mels, -1).transpose(1, 0, 2).reshape(self.n_mels, -1)
        self.mean = bands.mean(1).astype(np.float32)
        self.std = np.maximum(bands.std(1), 1e-8).astype(np.float32)

    def transform(self, paths) -> np.ndarray:
        """Files -> standardized model inputs."""
        return self.transform_waves(np.stack([self.load(p) for p in paths])) if len(paths) else \
            np.zeros((0, *self.input_shape), np.float32)

    def transform_waves(self, waves) -> np.ndarray:
        return self.standardize(self.raw_features(waves))

    def to_json(self) -> dict:
        return {"kind": self.kind, "sample_rate": self.sample_rate, "samples": self.samples,
                "features": self.features, "layout": self.layout, "n_mels": self.n_mels, "n_fft": self.n_fft,
                "hop": self.hop, "win": self.win, "f_min": self.f_min, "f_max": self.f_max, "crop": self.crop,
                "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_json(cls, d: dict) -> "AudioPreprocessor":
        keys = ("sample_rate", "samples", "features", "layout", "n_mels", "n_fft", "hop", "win", "f_min", "f_max",
                "crop", "mean", "std")
        return cls(**{k: d[k] for k in keys})
