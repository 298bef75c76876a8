"""API keys for the inference server: a JSON keys file of hashes, and the request check.

Keys file: {"keys": [{"name", "hash", "created", "revoked"}]}. The key itself is shown once, when
it is made, and never stored, printed again or logged.

Why SHA-256 and not a slow KDF (scrypt, argon2): slow hashes exist to protect low-entropy secrets
(passwords) from offline guessing. Our keys are 256 random bits from `secrets`, so even a fast
hash leaves 2^256 guesses per key; a slow KDF would only add milliseconds to every request.
This is the same reasoning GitHub and Stripe apply to their tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from dlbench.errors import UserError

KEY_PREFIX = "dlb_"  # lets secret scanners and humans recognise a leaked dlbench key
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def default_keys_path() -> Path:
    """$DLBENCH_API_KEYS, else ~/.config/dlbench/api_keys.json."""
    env = os.environ.get("DLBENCH_API_KEYS")
    return Path(env) if env else Path.home() / ".config" / "dlbench" / "api_keys.json"


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def _load(path: Path) -> list[dict]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read API keys file {path}: {e}", "fix or remove the file") from None
    keys = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(keys, list) or not all(
        isinstance(k, dict) and isinstance(k.get("name"), str) and isinstance(k.get("hash"), str)
        for k in keys
    ):
        raise UserError(
            f"API keys file {path} is not of the form {{\"keys\": [{{\"name\", \"hash\", ...}}]}}",
            "fix or remove the file",
        )
    return keys


def _save(path: Path, keys: list[dict]) -> None:
    """Atomic write (temp file + rename) readable by the owner only: it holds hashes of secrets."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"keys": keys}, f, indent=2)
            f.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def add_key(path: Path | str, name: str) -> str:
    """Create a key called `name`, store its hash in `path`, and return the key (shown once)."""
    if not _NAME.match(name):
        raise UserError(
            f"invalid key name {name!r}", "use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    keys = _load(Path(path))
    if any(k["name"] == name and not k.get("revoked") for k in keys):
        raise UserError(f"an active key named {name!r} already exists", "revoke it first or pick another name")
    key = KEY_PREFIX + secrets.token_urlsafe(32)  # 32 bytes = 256 bits of entropy
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    keys.append({"name": name, "hash": hash_key(key), "created": now, "revoked": None})
    _save(Path(path), keys)
    return key


def revoke_key(path: Path | str, name: str) -> None:
    """Mark the active key called `name` revoked (kept in the file, for the record)."""
    keys = _load(Path(path))
    active = [k for k in keys if k["name"] == name and not k.get("revoked")]
    if not active:
        names = sorted({k["name"] for k in keys if not k.get("revoked")}) or ["none"]
        raise UserError(f"no active key named {name!r} in {path}", f"active keys: {', '.join(names)}")
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for k in active:
        k["revoked"] = now
    _save(Path(path), keys)


def list_keys(path: Path | str) -> list[dict]:
    """name, created, revoked for every key; hashes stay in the file."""
    return [
        {"name": k["name"], "created": k.get("created"), "revoked": k.get("revoked")}
        for k in _load(Path(path))
    ]


class KeyVerifier:
    """Checks presented keys against the active hashes in a keys file.

    The file is re-read when its modification time changes, so `keys revoke` takes effect on a
    running server without a restart (one stat() per request is negligible next to inference).
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._mtime: int | None = None
        self._hashes: list[bytes] = []
        self._reload()
        if not self._hashes:
            raise UserError(
                f"no active API keys in {self.path}",
                "create one with `dlbench serve keys add --name NAME`, or pass --no-auth to serve without keys",
            )

    def _reload(self) -> None:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            mtime = None
        if mtime == self._mtime:
            return
        self._hashes = [k["hash"].encode() for k in _load(self.path) if not k.get("revoked")]
        self._mtime = mtime

    def verify(self, key: str | None) -> bool:
        if not key:
            return False
        try:
            self._reload()
        except UserError:
            # A half-edited or broken file must not lock everyone out nor let anyone in: keep the
            # last good set of hashes until the file is readable again.
            pass
        presented = hash_key(key).encode()
        # compare_digest against every stored hash (no early exit): the time taken does not tell
        # an attacker which, or how much, of a hash matched.
        ok = False
        for stored in self._hashes:
            ok |= hmac.compare_digest(presented, stored)
        return ok
