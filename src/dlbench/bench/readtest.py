"""`sysinfo --measure`: sequential and random read bandwidth of the data path, page cache bypassed.

What is read: the path itself when it is a file; for a folder, its largest file when that holds at least
`min_existing` bytes (the real dataset, nothing written), else a test file written there (random bytes,
fsync'ed, deleted afterwards), which needs that much free space. Reads use O_DIRECT with page-aligned
buffers, so neither the page cache nor read-ahead answers them; where the filesystem refuses O_DIRECT
(tmpfs, some network filesystems) the file's cached pages are dropped with posix_fadvise(DONTNEED) before
each pass, and the result says which. Both passes are bounded: at most `max_bytes` each and
`max_seconds` together.
"""
from __future__ import annotations

import mmap
import os
import random
import time
from pathlib import Path

from dlbench.errors import UserError

SEQ_BLOCK = 1 << 20  # 1 MiB: a streaming reader's request size
RAND_BLOCK = 128 << 10  # 128 KiB: about one JPEG / one record of a sharded dataset
ALIGN = 4096
FREE_MARGIN = 64 << 20


def _largest_file(folder: Path, limit: int = 20000) -> Path | None:
    best, size, seen = None, -1, 0
    for dirpath, _, files in os.walk(folder):
        for f in files:
            seen += 1
            p = Path(dirpath) / f
            try:
                s = p.stat().st_size if p.is_file() and os.access(p, os.R_OK) else -1
            except OSError:
                s = -1
            if s > size:
                best, size = p, s
            if seen >= limit:
                return best
    return best


def _open(path: Path) -> tuple[int, str]:
    flags = os.O_RDONLY
    if hasattr(os, "O_DIRECT"):
        try:
            return os.open(path, flags | os.O_DIRECT), "O_DIRECT"
        except OSError:
            pass
    return os.open(path, flags), "posix_fadvise(DONTNEED)"


def _drop(fd: int) -> None:
    if hasattr(os, "posix_fadvise"):
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass


def _pass(fd: int, size: int, block: int, offsets, max_bytes: int, deadline: float) -> tuple[int, float, int]:
    """(bytes read, seconds, reads) over `offsets` until max_bytes or the deadline."""
    buf = mmap.mmap(-1, block)  # page-aligned, as O_DIRECT requires
    done = reads = 0
    t0 = time.perf_counter()
    try:
        for off in offsets:
            if done >= max_bytes or time.perf_counter() >= deadline:
                break
            n = os.preadv(fd, [buf], off)
            if n <= 0:
                break
            done += n
            reads += 1
    finally:
        buf.close()
    return done, time.perf_counter() - t0, reads


def _write_test_file(folder: Path, size: int) -> Path:
    import shutil

    free = shutil.disk_usage(folder).free
    if free < size + FREE_MARGIN:
        raise UserError(f"--measure: {folder} has {free / 2**20:.0f} MiB free, the read test needs "
                        f"{(size + FREE_MARGIN) / 2**20:.0f} MiB to write its test file",
                        "free some space, lower --measure-bytes, or point --data-path at a dataset file")
    path = folder / f".dlbench-readtest-{os.getpid()}"
    rng = random.Random(0)
    chunk = rng.randbytes(SEQ_BLOCK)  # random bytes: a compressing filesystem cannot shrink them
    try:
        with open(path, "wb") as f:
            for i in range(size // SEQ_BLOCK):
                f.write(chunk[i % 7:] + chunk[: i % 7])
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        path.unlink(missing_ok=True)
        raise UserError(f"--measure: cannot write a test file in {folder} ({e.strerror or e})",
                        "point --data-path at a readable dataset file, or a folder you can write to") from None
    return path


def measure_read(data_path: str | Path, max_bytes: int = 256 << 20, max_seconds: float = 10.0,
                 min_existing: int = 64 << 20) -> dict:
    """Sequential (1 MiB) and random (128 KiB) read bandwidth of the storage holding `data_path`."""
    if max_bytes < SEQ_BLOCK or max_seconds <= 0:
        raise UserError("--measure-bytes must be at least 1 MiB and --measure-seconds positive")
    p = Path(data_path).expanduser()
    if not p.exists():
        raise UserError(f"--data-path {p} does not exist", "pass the folder or file the training data is read from")
    if not os.access(p, os.R_OK) or (p.is_dir() and not os.access(p, os.X_OK)):
        raise UserError(f"--data-path {p} is not readable", "check its permissions")
    written = None
    target = p if p.is_file() else _largest_file(p)
    if target is None or target.stat().st_size < min(min_existing, max_bytes):
        written = _write_test_file(p if p.is_dir() else p.parent, max_bytes)
        target = written
    try:
        size = target.stat().st_size
        fd, method = _open(target)
        try:
            deadline = time.perf_counter() + max_seconds / 2
            _drop(fd)
            seq = _pass(fd, size, SEQ_BLOCK, range(0, size, SEQ_BLOCK), max_bytes, deadline)
            _drop(fd)
            n_rand = max(1, (size - RAND_BLOCK) // ALIGN)
            rng = random.Random(1)
            offsets = (rng.randrange(n_rand) * ALIGN for _ in iter(int, 1))
            rand = _pass(fd, size, RAND_BLOCK, offsets, max_bytes, time.perf_counter() + max_seconds / 2)
        finally:
            os.close(fd)
    except OSError as e:
        raise UserError(f"--data-path {target}: read failed ({e.strerror or e})") from None
    finally:
        if written is not None:
            written.unlink(missing_ok=True)
    rate = lambda r: r[0] / r[1] if r[1] > 0 else None  # noqa: E731
    return {"file": str(target), "test_file_written": written is not None, "file_bytes": size,
            "cache_bypass": method, "max_bytes": max_bytes, "max_seconds": max_seconds,
            "sequential": {"block_bytes": SEQ_BLOCK, "bytes": seq[0], "seconds": seq[1],
                           "bytes_per_s": rate(seq)},
            "random": {"block_bytes": RAND_BLOCK, "bytes": rand[0], "seconds": rand[1], "reads": rand[2],
                       "bytes_per_s": rate(rand), "iops": rand[2] / rand[1] if rand[1] > 0 else None}}
