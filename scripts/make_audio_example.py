"""Write the example audio folder the shipped tones-* configs train on (src/dlbench/configs/data/tones/): five
classes of synthetic sounds, one sub-folder each, 16-bit mono WAV at 8 kHz. Deterministic: rerunning it
rewrites the same bytes.

    .venv/bin/python scripts/make_audio_example.py

rising / falling   a chirp sweeping up / down (start 300-900 Hz, a factor of 2-3.5 over the sound)
steady             a steady tone with two harmonics (300-1800 Hz)
warble             a tone whose pitch wobbles 5-12 times a second
pulses             3-6 short beeps

Every clip is 0.35-0.6 s of sound at a random offset in 0.4-0.7 s of background noise (a random level,
20-35 dB below the sound), at a random loudness: a classifier must find the shape of the sound, not its
position, pitch or level. The tests write small folders of the same clips (`write_folder`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "src" / "dlbench" / "configs" / "data" / "tones"
CLASSES = ("falling", "pulses", "rising", "steady", "warble")
RATE = 8000
PER_CLASS = 30


def _tone(phase_hz: np.ndarray, rate: int) -> np.ndarray:
    """A sine whose instantaneous frequency is `phase_hz` (per sample), plus two weaker harmonics."""
    phase = 2 * np.pi * np.cumsum(phase_hz) / rate
    return np.sin(phase) + 0.3 * np.sin(2 * phase) + 0.15 * np.sin(3 * phase)


def clip(kind: str, rng: np.random.Generator, rate: int = RATE) -> np.ndarray:
    """One clip of class `kind`, float32 in [-1, 1]."""
    n = int(rng.uniform(0.35, 0.6) * rate)
    t = np.arange(n) / rate
    if kind in ("rising", "falling"):
        f0, ratio = rng.uniform(300, 900), rng.uniform(2.0, 3.5)
        f = f0 * ratio ** (t / t[-1]) if kind == "rising" else f0 * ratio * ratio ** (-t / t[-1])
        x = _tone(f, rate)
    elif kind == "steady":
        x = _tone(np.full(n, rng.uniform(300, 1800)), rate)
    elif kind == "warble":
        f = rng.uniform(400, 1400) * (1 + 0.12 * np.sin(2 * np.pi * rng.uniform(5, 12) * t))
        x = _tone(f, rate)
    elif kind == "pulses":
        k = int(rng.integers(3, 7))
        gate = (np.floor(t / t[-1] * (2 * k - 1) * 0.999) % 2 == 0).astype(float)
        x = _tone(np.full(n, rng.uniform(500, 1500)), rate) * gate
    else:
        raise ValueError(kind)
    fade = np.minimum(1, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.01 * rate))  # 10 ms fades, no clicks
    x = x * fade / np.abs(x).max()
    total = int(rng.uniform(0.4, 0.7) * rate)
    start = int(rng.integers(0, max(1, total - n) + 1))
    out = np.zeros(max(total, start + n))
    out[start:start + n] = x
    out += 10 ** (-rng.uniform(20, 35) / 20) * rng.standard_normal(len(out))
    return (rng.uniform(0.2, 0.8) * out / np.abs(out).max()).astype(np.float32)


def write_folder(root: Path, per_class: int = PER_CLASS, rate: int = RATE, seed: int = 0,
                 classes=CLASSES, suffix: str = ".wav") -> list[Path]:
    """root/<class>/<class>-NNN<suffix> for every class; returns the files written."""
    import soundfile as sf

    files = []
    for ci, kind in enumerate(classes):
        rng = np.random.default_rng([seed, ci])
        (root / kind).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            f = root / kind / f"{kind}-{i:03d}{suffix}"
            sf.write(f, clip(kind, rng, rate), rate, subtype="PCM_16")
            files.append(f)
    return files


def main() -> None:
    files = write_folder(OUT)
    print(f"wrote {len(files)} clips to {OUT}")


if __name__ == "__main__":
    main()
