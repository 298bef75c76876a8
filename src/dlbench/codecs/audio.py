"""Audio clips: files for `predict`, WAV bytes or float samples in requests; log-mel or waveforms inside.

Requests carry either `audio` BYTES [-1], one audio file (WAV, FLAC, OGG) per element, sent as raw bytes with
the binary tensor extension or as base64 text in JSON, or `samples` FP32 [-1, -1], mono samples at the model's
rate (the run's model.json `preprocessing.sample_rate`), any length: each is padded or cropped as in training.
A waveform model's samples (a GAN's) are written back as 16-bit PCM WAV files (`encode_files`).
"""
from __future__ import annotations

import base64
import binascii
import io

import numpy as np

from dlbench.codecs.base import Codec, TensorSpec, check_exists
from dlbench.data.audio_signal import AudioPreprocessor, audio_suffixes
from dlbench.errors import UserError


def file_bytes(v, i: int) -> bytes:
    """One `audio` element as the file's bytes: raw bytes (binary extension) or base64 text (JSON)."""
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    try:
        return base64.b64decode(str(v), validate=True)
    except (binascii.Error, ValueError):
        raise UserError(f"input 'audio'[{i}]: not base64 text of an audio file",
                        "send each file base64-encoded in JSON, or as raw bytes with the binary tensor extension")\
            from None


class AudioCodec(Codec):
    kind = "audio"

    @classmethod
    def from_json(cls, d: dict) -> "AudioCodec":
        return cls(AudioPreprocessor.from_json(d))

    def read(self, path):
        """One audio file or a folder of them (searched recursively, sorted)."""
        p = check_exists(path)
        if path == "-":
            raise UserError("audio cannot be read from stdin", "give an audio file or a folder of them")
        suffixes = audio_suffixes()
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.suffix.lower() in suffixes and f.is_file())
            if not files:
                raise UserError(f"{path}: no audio files to predict ({', '.join(sorted(suffixes))})")
        else:
            files = [p]
        return self.pre.transform(files), [str(f) for f in files]

    def request_specs(self, input_shape):
        return [TensorSpec("audio", "BYTES", (-1,), optional=True, binary=True),
                TensorSpec("samples", "FP32", (-1, -1), optional=True)]

    def decode(self, inputs):
        if ("audio" in inputs) == ("samples" in inputs):
            raise UserError("send exactly one of the inputs 'audio' (audio files as BYTES) and 'samples' "
                            f"(FP32 [batch, samples] at {self.pre.sample_rate} Hz)")
        if "samples" in inputs:
            return self.pre.transform_waves(self.pre.fit_waveforms(list(inputs["samples"])))
        waves = [self.pre.waveform(file_bytes(v, i), f"input 'audio'[{i}]")[0] for i, v in enumerate(inputs["audio"])]
        return self.pre.transform_waves(np.stack(waves))

    def requests(self, split):
        """The split's clips as WAV/FLAC/... file bytes, read from the files the split was built from."""
        from pathlib import Path

        ids = getattr(split, "ids", None)
        if not ids or not all(Path(i).is_file() for i in ids):
            raise UserError("bench infer sends the data's audio files, and some are no longer where the run "
                            "read them", "keep data.path in place")
        arr = np.empty(len(ids), dtype=object)
        arr[:] = [Path(i).read_bytes() for i in ids]
        return {"audio": arr}

    def affine(self, d):
        shape = self.pre.input_shape  # per mel band statistics, or one scalar for waveforms
        return tuple(np.broadcast_to(self.pre._stat(v).astype(np.float64), (1, *shape)).ravel().copy()
                     for v in (self.pre.std, self.pre.mean))

    def encode_files(self, x: np.ndarray) -> tuple[str, list[bytes]] | None:
        """Model inputs [n, 1, samples] of a waveform model -> (".wav", 16-bit PCM WAV bytes per sample); None for
        spectrogram models (a spectrogram has no phase to play back)."""
        if self.pre.features != "waveform":
            return None
        import soundfile as sf

        data = self.to_data_units(x).reshape(len(x), -1)
        out = []
        for row in data:
            buf = io.BytesIO()
            sf.write(buf, np.clip(row, -1.0, 1.0), self.pre.sample_rate, subtype="PCM_16", format="WAV")
            out.append(buf.getvalue())
        return ".wav", out
