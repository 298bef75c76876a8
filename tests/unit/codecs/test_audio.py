"""The audio codec: files and folders for predict, WAV bytes (raw or base64) and float samples for the server,
WAV files out for generated waveforms, and the serve layer's raw BYTES."""
import base64
import io
import struct

import numpy as np
import pytest
import soundfile as sf

from dlbench.codecs import codec_for
from dlbench.codecs.audio import AudioCodec
from dlbench.data.audio_signal import AudioPreprocessor
from dlbench.errors import UserError


def tone(freq, seconds, rate):
    return (0.4 * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def wav_bytes(x, rate, fmt="WAV"):
    buf = io.BytesIO()
    sf.write(buf, x, rate, format=fmt, subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture
def codec():
    pre = AudioPreprocessor(8000, 4000, n_mels=20, n_fft=256, hop=80, win=200)
    pre.fit_stats(pre.raw_features(np.stack([tone(f, 0.5, 8000) for f in (300, 700, 1500)])))
    return codec_for(pre.to_json())  # through model.json's JSON, as a loaded run gets it


def test_the_stored_preprocessing_names_the_audio_codec(codec):
    assert isinstance(codec, AudioCodec) and codec.to_json()["sample_rate"] == 8000
    with pytest.raises(UserError, match="incomplete"):
        codec_for({"kind": "audio", "sample_rate": 8000})


def test_read_a_file_or_a_folder(codec, tmp_path):
    (tmp_path / "clips" / "sub").mkdir(parents=True)
    sf.write(tmp_path / "clips" / "a.wav", tone(440, 0.3, 16000), 16000)        # resampled to 8 kHz
    sf.write(tmp_path / "clips" / "sub" / "b.flac", tone(880, 0.6, 8000), 8000)  # cropped to 0.5 s
    (tmp_path / "clips" / "notes.txt").write_text("not audio")
    x, names = codec.read(str(tmp_path / "clips"))
    assert x.shape == (2, 1, 20, 51) and [n.rsplit("/", 1)[-1] for n in names] == ["a.wav", "b.flac"]
    one, _ = codec.read(str(tmp_path / "clips" / "a.wav"))
    assert np.allclose(one, x[:1])
    (tmp_path / "bad.wav").write_bytes(b"RIFF\x00\x00 not really")
    with pytest.raises(UserError, match="bad.wav: not a readable audio file"):
        codec.read(str(tmp_path / "bad.wav"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no audio files"):
        codec.read(str(tmp_path / "empty"))


def test_requests_take_wav_bytes_raw_or_base64_or_samples(codec):
    a, b = tone(500, 0.4, 8000), tone(1200, 0.5, 16000)
    raw = np.empty(2, dtype=object)
    raw[:] = [wav_bytes(a, 8000), wav_bytes(b, 16000, "FLAC")]
    from_raw = codec.decode({"audio": raw})
    b64 = np.array([base64.b64encode(v).decode() for v in raw], dtype=object)
    assert np.allclose(codec.decode({"audio": b64}), from_raw)
    # float samples at the model's rate, any length: padded or cropped like the files
    quantized = sf.read(io.BytesIO(raw[0]), dtype="float32")[0]
    from_samples = codec.decode({"samples": quantized[None].astype(np.float32)})
    assert np.allclose(from_samples, from_raw[:1], atol=1e-4)
    for bad, msg in [({}, "exactly one"), ({"audio": raw, "samples": a[None]}, "exactly one"),
                     ({"audio": np.array(["%%% not base64"], dtype=object)}, "not base64"),
                     ({"audio": np.array([base64.b64encode(b"plain text").decode()], dtype=object)},
                      r"input 'audio'\[0\]: not a readable audio file")]:
        with pytest.raises(UserError, match=msg):
            codec.decode(bad)
    specs = {s.name: s for s in codec.request_specs((1, 20, 51))}
    assert specs["audio"].datatype == "BYTES" and specs["audio"].binary and specs["audio"].optional
    assert specs["samples"].shape == (-1, -1)


def test_waveform_models_write_wav_files_spectrograms_do_not(codec):
    assert codec.encode_files(np.zeros((1, 1, 20, 51), np.float32)) is None
    pre = AudioPreprocessor(8000, 2000, features="waveform", mean=0.01, std=0.2)
    wave = AudioCodec(pre)
    x = np.stack([tone(400, 0.25, 8000), tone(900, 0.25, 8000)])[:, None]
    suffix, files = wave.encode_files((x - 0.01) / 0.2)  # model units back to samples
    assert suffix == ".wav" and len(files) == 2
    back, rate = sf.read(io.BytesIO(files[1]), dtype="float32")
    assert rate == 8000 and np.allclose(back, x[1, 0], atol=1 / 2 ** 14)  # 16-bit PCM


def test_the_server_keeps_binary_bytes_and_base64s_them_in_json():
    from dlbench.codecs.base import TensorSpec
    from dlbench.serve import binary
    from dlbench.serve.tensors import encode_output

    blob = b"\xff\xfeRIFF"
    framed = struct.pack("<I", len(blob)) + blob
    assert binary.decode(framed, "BYTES", 1, "x", raw=True).tolist() == [blob]
    with pytest.raises(UserError, match="UTF-8"):
        binary.decode(framed, "BYTES", 1, "x")  # text inputs still must be UTF-8
    arr = np.empty(1, dtype=object)
    arr[:] = [blob]
    out, _ = encode_output("files", arr, TensorSpec("files", "BYTES", (-1,), binary=True))
    assert base64.b64decode(out["data"][0]) == blob


def test_bench_infer_requests_are_the_split_files(codec, tmp_path):
    from types import SimpleNamespace

    files = []
    for i, f in enumerate((300, 900)):
        files.append(tmp_path / f"{i}.wav")
        sf.write(files[-1], tone(f, 0.5, 8000), 8000, subtype="PCM_16")
    req = codec.requests(SimpleNamespace(ids=[str(f) for f in files]))
    assert req["audio"].tolist() == [f.read_bytes() for f in files]
    assert np.allclose(codec.decode(req), codec.read(str(tmp_path))[0])
    files[0].unlink()
    with pytest.raises(UserError, match="no longer where the run read them"):
        codec.requests(SimpleNamespace(ids=[str(f) for f in files]))
