"""API keys for the inference server: a JSON keys file of hashes, and the request check.

Keys file: {"keys": [{"name", "hash", "created", "revoked", "role", "expires"}]}. The key itself is
shown once, when it is made, and never stored, printed again or logged.

Roles: an `inference` key (the default; keys made before roles existed are inference keys) may call
health, metadata, inference and /metrics; an `admin` key may also manage models (the repository
API, routing) and read logs. A key may carry an expiry time; after it, it is refused like a revoked one.

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
from typing import NamedTuple

from dlbench.errors import UserError

KEY_PREFIX = "dlb_"  # lets secret scanners and humans recognise a leaked dlbench key
ROLES = ("inference", "admin")
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


# Paths only an admin key may call: model management (Triton's repository extension, routing) and
# anything that reads or changes logs (the request log holds clients' inputs).
ADMIN_PREFIXES = ("/v2/repository", "/v2/logs", "/v2/logging", "/v2/trace")


def needs_admin(path: str) -> bool:
    return path.startswith(ADMIN_PREFIXES)


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


def _now() -> datetime:
    return datetime.now(timezone.utc)


def parse_expiry(text: str | None, now: datetime | None = None) -> datetime | None:
    """'30d', '12h', '90m', '2w' from now, or an ISO date/time (UTC unless it says otherwise); None: never."""
    if text is None or text == "":
        return None
    now = now or _now()
    m = _DURATION.match(text.strip())
    if m:
        from datetime import timedelta

        when = now + timedelta(seconds=int(m.group(1)) * _UNIT_S[m.group(2)])
    else:
        try:
            when = datetime.fromisoformat(text.strip())
        except ValueError:
            raise UserError(f"--expires {text!r}: not a duration or a date",
                            "give a duration such as 30d, 12h, 2w, or an ISO date such as 2027-01-31") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    if when <= now:
        raise UserError(f"--expires {text!r} is in the past", "give a later date or a positive duration")
    return when


def _expired(k: dict, now: datetime) -> bool:
    exp = k.get("expires")
    if not exp:
        return False
    try:
        when = datetime.fromisoformat(exp)
    except (TypeError, ValueError):
        return True  # an unreadable expiry is treated as expired: refusing is the safe side
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)) <= now


def add_key(path: Path | str, name: str, role: str = "inference", expires: datetime | None = None) -> str:
    """Create a key called `name` with `role` (inference or admin), valid until `expires` (None: no
    expiry); store its hash in `path`, and return the key (shown once)."""
    if role not in ROLES:
        raise UserError(f"unknown key role {role!r}", f"use one of {', '.join(ROLES)}")
    if not _NAME.match(name):
        raise UserError(
            f"invalid key name {name!r}", "use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    keys = _load(Path(path))
    if any(k["name"] == name and not k.get("revoked") for k in keys):
        raise UserError(f"an active key named {name!r} already exists", "revoke it first or pick another name")
    key = KEY_PREFIX + secrets.token_urlsafe(32)  # 32 bytes = 256 bits of entropy
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    keys.append({"name": name, "hash": hash_key(key), "created": now, "revoked": None, "role": role,
                 "expires": expires.isoformat(timespec="seconds") if expires else None})
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
    """name, created, revoked, role, expires (and whether it has) for every key; hashes stay in the file."""
    now = _now()
    return [
        {"name": k["name"], "created": k.get("created"), "revoked": k.get("revoked"),
         "role": k.get("role") or "inference", "expires": k.get("expires"), "expired": _expired(k, now)}
        for k in _load(Path(path))
    ]


class Identity(NamedTuple):
    """Who made a request: the key's name (its id in logs; never the key) and its role."""

    name: str
    role: str

    @property
    def admin(self) -> bool:
        return self.role == "admin"


class KeyVerifier:
    """Checks presented keys against the active hashes in a keys file.

    The file is re-read when its modification time changes, so `keys revoke` takes effect on a
    running server without a restart (one stat() per request is negligible next to inference).
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._mtime: int | None = None
        self._keys: list[tuple[bytes, Identity, str | None]] = []  # (hash, who, expires)
        self._reload()
        if not self._keys:
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
        self._keys = [(k["hash"].encode(), Identity(k["name"], k.get("role") or "inference"), k.get("expires"))
                      for k in _load(self.path) if not k.get("revoked")]
        self._mtime = mtime

    @property
    def has_admin(self) -> bool:
        now = _now()
        return any(who.admin and not _expired({"expires": exp}, now) for _, who, exp in self._keys)

    def verify(self, key: str | None) -> bool:
        return self.identify(key)[0] is not None

    def identify(self, key: str | None) -> tuple[Identity | None, str]:
        """(who, "") for an active key; (None, why) otherwise: "missing", "invalid" or "expired"."""
        if not key:
            return None, "missing"
        try:
            self._reload()
        except UserError:
            # A half-edited or broken file must not lock everyone out nor let anyone in: keep the
            # last good set of hashes until the file is readable again.
            pass
        presented = hash_key(key).encode()
        # compare_digest against every stored hash (no early exit): the time taken does not tell
        # an attacker which, or how much, of a hash matched.
        found = None
        for stored, who, expires in self._keys:
            if hmac.compare_digest(presented, stored):
                found = (who, expires)
        if found is None:
            return None, "invalid"
        if _expired({"expires": found[1]}, _now()):
            return None, "expired"
        return found[0], ""
