"""The audio-folder data kind on generated tones: decoding, mixing, resampling, padding, log-mel features,
training-split statistics, the cache, augmentation and bad files."""
import importlib.util
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dlbench.data.audio import AudioFolderData, build_audio_folder, cache_dir
from dlbench.data.audio_augment import AudioAugment, mask, shift
from dlbench.data.audio_signal import AudioPreprocessor, fix_length, mel_filterbank, resample
from dlbench.data.split import split_indices
from dlbench.errors import UserError

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "make_audio_example.py"


def example_script():
    spec = importlib.util.spec_from_file_location("make_audio_example", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBENCH_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def tones(tmp_path):
    """3 classes x 8 clips at 8 kHz, 0.4-0.7 s each."""
    root = tmp_path / "tones"
    example_script().write_folder(root, per_class=8, classes=("rising", "steady", "pulses"))
    return root


def tone(freq: float, seconds: float, rate: int) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def peak_hz(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[spec.argmax()])


def test_decoding_mixes_to_mono_resamples_and_pads(tmp_path):
    stereo = np.stack([tone(440, 0.5, 22050), tone(440, 0.5, 22050)], axis=1)
    sf.write(tmp_path / "a.wav", stereo, 22050, subtype="FLOAT")
    pre = AudioPreprocessor(16000, 16000)  # 1 s at 16 kHz
    w, rate = pre.waveform(str(tmp_path / "a.wav"), "a.wav")
    assert rate == 22050 and w.shape == (16000,) and w.dtype == np.float32
    assert peak_hz(w[:8000], 16000) == pytest.approx(440, abs=3)        # the pitch survives resampling
    assert np.abs(w[:7900]).max() == pytest.approx(0.5, abs=0.02)       # the mean of two equal channels
    assert not w[8100:].any()                                            # padded with silence at the end


def test_resample_keeps_the_duration_and_fix_length_crops_start_or_center():
    x = tone(1000, 1.0, 44100)
    assert len(resample(x, 44100, 16000)) == 16000 and resample(x, 8000, 8000) is x
    r = np.arange(10, dtype=np.float32)
    assert fix_length(r, 4).tolist() == [0, 1, 2, 3] and fix_length(r, 4, "center").tolist() == [3, 4, 5, 6]
    assert fix_length(r[:3], 5).tolist() == [0, 1, 2, 0, 0]


def test_mel_filterbank_is_the_htk_triangles():
    fb = mel_filterbank(16000, 512, 40)
    assert fb.shape == (257, 40) and fb.min() >= 0 and fb.max() <= 1
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    assert mel(1000) == pytest.approx(1000, abs=0.1)  # the HTK scale puts 1000 Hz at 1000 mel
    centres = 700 * (10 ** (np.linspace(0, mel(8000), 42)[1:-1] / 2595) - 1)
    bins = np.linspace(0, 8000, 257)
    # each filter peaks within one FFT bin of its centre frequency and is zero beyond its neighbours' centres
    assert np.all(np.abs(bins[fb.argmax(0)] - centres) <= 8000 / 256)
    assert fb[bins > centres[1] + 1e-9, 0].max() == 0


def test_log_mel_of_a_tone_peaks_in_its_band():
    pre = AudioPreprocessor(16000, 8000, n_mels=40)
    feats = pre.raw_features(tone(1000, 0.5, 16000)[None])
    assert feats.shape == (1, 1, 40, 51) == (1, *pre.input_shape)
    centres = 700 * (10 ** (np.linspace(0, 2595 * np.log10(1 + 8000 / 700), 42)[1:-1] / 2595) - 1)
    assert abs(centres[feats[0, 0].mean(1).argmax()] - 1000) < 120
    seq = AudioPreprocessor(16000, 8000, layout="sequence")
    assert seq.input_shape == (40, 51) and seq.raw_features(np.zeros((2, 8000))).shape == (2, 40, 51)


def test_folder_builds_with_training_split_statistics(tones):
    b = build_audio_folder(AudioFolderData(path=str(tones)))
    assert b.spec.class_names == ["pulses", "rising", "steady"] and b.spec.task == "classification"
    assert b.preprocessing["sample_rate"] == 8000 and b.preprocessing["samples"] == 5600  # 95th pct 0.7 s
    assert tuple(b.spec.input_shape) == (1, 40, 71) and b.train.x.shape[1:] == (1, 40, 71)
    assert len(b.train) + len(b.val) + len(b.test) == 24 and all(i.endswith(".wav") for i in b.train.ids)
    # per-band statistics come from the training clips only: the training features are standardized exactly
    x = b.train.x.numpy()[:, 0]
    assert np.allclose(x.mean(axis=(0, 2)), 0, atol=1e-4) and np.allclose(x.std(axis=(0, 2)), 1, atol=1e-3)
    pre = AudioPreprocessor.from_json(b.preprocessing)
    raw = pre.raw_features(np.stack([pre.load(p) for p in b.train.ids]))
    assert np.allclose(pre.standardize(raw), b.train.x.numpy(), atol=1e-4)
    labels = [int(v) for v in b.train.y]
    tr, _, _ = split_indices(24, np.repeat([0, 1, 2], 8), (0.1, 0.2), 0, True)
    assert sorted(labels) == sorted(np.repeat([0, 1, 2], 8)[tr].tolist())


def test_features_are_cached_and_reused(tones, monkeypatch):
    cfg = AudioFolderData(path=str(tones), features="waveform")
    first = build_audio_folder(cfg)
    files = list(cache_dir().glob("*.npz"))
    assert len(files) == 1
    with np.load(files[0], allow_pickle=False) as z:  # a plain npz: no pickled objects
        assert {"waves", "feats", "bad", "why"} <= set(z.files)
    import dlbench.data.audio_signal as signal

    monkeypatch.setattr(signal, "decode", lambda *a: pytest.fail("decoded although cached"))
    again = build_audio_folder(cfg)
    assert np.array_equal(first.train.x.numpy(), again.train.x.numpy())
    assert tuple(again.spec.input_shape) == (1, 5600)
    files[0].write_bytes(b"damaged")  # a damaged cache is ignored with a warning, then rewritten
    monkeypatch.undo()
    monkeypatch.setenv("DLBENCH_CACHE_DIR", str(files[0].parent.parent))
    assert np.array_equal(build_audio_folder(cfg).val.x.numpy(), first.val.x.numpy())


def test_mixed_rates_are_resampled_and_said(tones, caplog):
    sf.write(tones / "steady" / "fast.wav", tone(600, 0.5, 16000), 16000)
    with caplog.at_level(logging.WARNING):
        b = build_audio_folder(AudioFolderData(path=str(tones)))
    assert b.preprocessing["sample_rate"] == 8000
    assert "2 sample rates" in caplog.text and "resampled to 8000 Hz" in caplog.text


def test_unreadable_files_are_skipped_by_name_or_refused(tones, caplog):
    (tones / "rising" / "broken.wav").write_bytes(b"RIFF this is not audio")
    sf.write(tones / "pulses" / "empty.wav", np.zeros(0, np.float32), 8000)
    with caplog.at_level(logging.WARNING):
        b = build_audio_folder(AudioFolderData(path=str(tones), max_skipped=0.1))
    assert "broken.wav" in caplog.text and "empty.wav" in caplog.text
    assert len(b.train) + len(b.val) + len(b.test) == 24
    with pytest.raises(UserError, match=r"2 of 26 audio files cannot be read .*broken.wav"):
        build_audio_folder(AudioFolderData(path=str(tones)))  # default: at most 5%


def test_a_class_folder_without_audio_is_refused(tones):
    (tones / "silence").mkdir()
    (tones / "silence" / "notes.txt").write_text("nothing here")
    with pytest.raises(UserError, match="silence has no audio files"):
        build_audio_folder(AudioFolderData(path=str(tones)))
    with pytest.raises(UserError, match="audio folder not found"):
        build_audio_folder(AudioFolderData(path=str(tones / "nope")))


def test_augmentation_changes_training_batches_only(tones):
    aug = {"time_shift": 0.2, "noise": 0.1, "freq_masks": 2, "time_masks": 2}
    b = build_audio_folder(AudioFolderData(path=str(tones), augment=aug))
    clean = build_audio_folder(AudioFolderData(path=str(tones)))
    assert not b.train.in_memory and b.val.in_memory
    x, y = b.train.dataset.batch([0, 1, 2])
    assert x.shape == (3, 1, 40, 71) and y.tolist() == clean.train.y[:3].tolist()
    assert not np.allclose(x.numpy(), clean.train.x[:3].numpy(), atol=1e-3)
    assert np.array_equal(b.train.subset(5).x.numpy(), clean.train.x[:5].numpy())  # diagnosis: clean clips
    assert np.array_equal(b.val.x.numpy(), clean.val.x.numpy())
    with pytest.raises(UserError, match="mask spectrograms"):
        build_audio_folder(AudioFolderData(path=str(tones), features="waveform", augment={"freq_masks": 1}))
    assert not AudioAugment().active


def test_shift_and_masks():
    import torch

    w = torch.arange(1, 11, dtype=torch.float32).repeat(50, 1)
    s = shift(w, 0.3)
    for row in s:  # each row is the clip moved by at most 3 samples, silence filling the gap
        nz = row[row != 0]
        assert len(nz) >= 7 and torch.equal(nz, torch.arange(nz[0].item(), nz[0].item() + len(nz)))
    x = torch.ones(20, 1, 8, 30)
    m = mask(x, 3, 2, 5)
    assert ((m == 0).sum(dim=(1, 2)) % 8 == 0).all()  # whole frames (every band) masked
    assert (m == 0).any() and ((m == 0).float().mean(dim=(1, 2, 3)) <= 10 / 30 + 1e-6).all()
