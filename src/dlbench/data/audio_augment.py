"""Training-time augmentation of audio clips, off by default (`data.augment`): a random time shift and white
noise on the waveform, then SpecAugment-style frequency and time masks on the log-mel spectrogram
(Park et al. 2019). Each training batch is augmented afresh from the clean waveforms; validation and test
never are.

Random numbers come from torch's global generator, which checkpoints save and restore, so an augmented run
resumes where it left off.
"""
from __future__ import annotations

import torch
from pydantic import Field

from dlbench.config.base import Section
from dlbench.data.bundle import Split


class AudioAugment(Section):
    """Augmentation of the training clips (every option 0: none, the default)."""
    time_shift: float = Field(0.0, ge=0, lt=1)
    """Largest shift, as a fraction of the clip, either way (the clip is rolled in silence): 0.1 = up to 10%."""
    noise: float = Field(0.0, ge=0)
    """White noise at this fraction of each clip's RMS level (0.1 = 20 dB signal-to-noise)."""
    freq_masks: int = Field(0, ge=0)
    """SpecAugment: this many bands of mel channels set to their mean (log-mel only)."""
    freq_mask_width: int = Field(8, gt=0)
    """Widest frequency mask, in mel channels."""
    time_masks: int = Field(0, ge=0)
    """SpecAugment: this many runs of frames set to their mean (log-mel only)."""
    time_mask_width: int = Field(10, gt=0)
    """Widest time mask, in frames."""

    @property
    def active(self) -> bool:
        return bool(self.time_shift or self.noise or self.freq_masks or self.time_masks)


def shift(w: torch.Tensor, fraction: float) -> torch.Tensor:
    """Each row of [N, S] moved by up to fraction * S samples either way, the gap filled with silence."""
    n, s = w.shape
    most = int(fraction * s)
    if most == 0:
        return w
    offsets = torch.randint(-most, most + 1, (n,))
    idx = torch.arange(s)[None, :] - offsets[:, None]                     # source sample of each output sample
    out = w.gather(1, idx.clamp(0, s - 1))
    return out.masked_fill((idx < 0) | (idx >= s), 0.0)


def add_noise(w: torch.Tensor, level: float) -> torch.Tensor:
    rms = w.pow(2).mean(1, keepdim=True).sqrt()
    return w + level * rms * torch.randn_like(w)


def mask(x: torch.Tensor, axis: int, count: int, width: int) -> torch.Tensor:
    """`count` random runs of up to `width` positions along `axis` of standardized [N, ..., M, T] features set to 0
    (the training mean)."""
    n, size = x.shape[0], x.shape[axis]
    pos = torch.arange(size)
    keep = torch.ones(n, size, dtype=torch.bool)
    for _ in range(count):
        w = torch.randint(0, min(width, size) + 1, (n, 1))
        start = (torch.rand(n, 1) * (size - w + 1)).long()
        keep &= ~((pos >= start) & (pos < start + w))
    shape = [n] + [1] * (x.dim() - 1)
    shape[axis] = size
    return x * keep.reshape(shape).to(x.dtype)


class AugmentedClips(torch.utils.data.Dataset):
    """Training clips as waveforms; each fetch of a batch (`__getitems__`) augments and featurizes them."""

    def __init__(self, waves, labels, pre, aug: AudioAugment):
        self.waves, self.labels, self.pre, self.aug = torch.as_tensor(waves), torch.as_tensor(labels), pre, aug

    def __len__(self) -> int:
        return len(self.waves)

    def __getitem__(self, i: int):
        x, y = self.batch([i])
        return x[0], y[0]

    def __getitems__(self, indices: list[int]):
        x, y = self.batch(indices)
        return list(zip(x, y))  # DataLoader's collate stacks them back

    def batch(self, indices) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.waves[indices]
        if self.aug.time_shift:
            w = shift(w, self.aug.time_shift)
        if self.aug.noise:
            w = add_noise(w, self.aug.noise)
        x = torch.from_numpy(self.pre.transform_waves(w.numpy()))
        if self.pre.features != "waveform":
            mel_axis = x.dim() - 2
            if self.aug.freq_masks:
                x = mask(x, mel_axis, self.aug.freq_masks, self.aug.freq_mask_width)
            if self.aug.time_masks:
                x = mask(x, mel_axis + 1, self.aug.time_masks, self.aug.time_mask_width)
        return x, self.labels[indices]


class AugmentedSplit(Split):
    """The training split when augmentation is on: batches come augmented from `dataset`; `subset` (the
    train-set evaluation of the diagnosis) gives the clean clips."""

    def __init__(self, dataset: AugmentedClips, clean_x: torch.Tensor, ids: list[str]):
        super().__init__(dataset=dataset, ids=ids)
        self.clean_x = clean_x

    def subset(self, n: int) -> Split:
        return Split(self.clean_x[:n], self.dataset.labels[:n], ids=None if self.ids is None else self.ids[:n])
