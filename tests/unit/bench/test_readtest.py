"""The storage read test: page cache bypassed, bounded in bytes and time, clear errors for bad paths."""
import shutil
from collections import namedtuple

import pytest

from dlbench.bench import readtest
from dlbench.bench.readtest import RAND_BLOCK, SEQ_BLOCK, measure_read
from dlbench.errors import UserError


def test_folder_gets_a_test_file_bounded_in_bytes_and_removed(tmp_path):
    r = measure_read(tmp_path, max_bytes=4 * SEQ_BLOCK, max_seconds=10)
    assert r["test_file_written"] and r["file_bytes"] == 4 * SEQ_BLOCK
    assert r["sequential"]["bytes"] == 4 * SEQ_BLOCK and r["sequential"]["bytes_per_s"] > 0
    assert 0 < r["random"]["bytes"] <= 4 * SEQ_BLOCK + RAND_BLOCK and r["random"]["iops"] > 0
    assert r["cache_bypass"] in ("O_DIRECT", "posix_fadvise(DONTNEED)")
    assert list(tmp_path.iterdir()) == []  # the test file is gone


def test_an_existing_dataset_file_is_read_not_written_and_time_bounds_the_passes(tmp_path, monkeypatch):
    data = tmp_path / "shard.bin"
    data.write_bytes(b"\x01" * (8 * SEQ_BLOCK))
    clock = iter(range(0, 10**6))  # every perf_counter() call is one more second: the deadline hits at once
    monkeypatch.setattr(readtest.time, "perf_counter", lambda: float(next(clock)))
    r = measure_read(data, max_bytes=8 * SEQ_BLOCK, max_seconds=2)
    assert not r["test_file_written"] and r["file"] == str(data)
    assert r["sequential"]["bytes"] <= SEQ_BLOCK and r["random"]["bytes"] <= RAND_BLOCK
    assert data.stat().st_size == 8 * SEQ_BLOCK


def test_no_free_space_missing_and_unreadable_paths_are_user_errors(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9, 1024))
    with pytest.raises(UserError, match="MiB free"):
        measure_read(tmp_path, max_bytes=4 * SEQ_BLOCK)
    with pytest.raises(UserError, match="does not exist"):
        measure_read(tmp_path / "missing")
    with pytest.raises(UserError, match="at least 1 MiB"):
        measure_read(tmp_path, max_bytes=10)
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = readtest.os.access
    monkeypatch.setattr(readtest.os, "access", lambda p, mode: False if str(p) == str(locked) else real_access(p, mode))
    with pytest.raises(UserError, match="not readable"):  # (chmod 0 does not stop root, so access() is faked)
        measure_read(locked)
