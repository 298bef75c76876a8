"""The command line's side of the management API: one authenticated call, its error as one line."""
from __future__ import annotations

import os
from pathlib import Path

from dlbench.errors import UserError


def read_key(key_file: Path | None) -> str:
    """The API key from `key_file` (what `dlbench serve keys add ... > FILE` wrote) or $DLBENCH_API_KEY."""
    if key_file is not None:
        try:
            key = Path(key_file).read_text(encoding="utf-8").strip().splitlines()[0].strip()
        except (OSError, IndexError, UnicodeDecodeError) as e:
            raise UserError(f"--key-file {key_file}: cannot read a key from it ({e or 'empty'})",
                            "give the file `dlbench serve keys add --role admin ... > FILE` wrote") from None
        return key
    key = os.environ.get("DLBENCH_API_KEY", "").strip()
    if not key:
        raise UserError("no API key: management calls need an admin key",
                        "give --key-file FILE, or set DLBENCH_API_KEY")
    return key


def admin_call(url: str, path: str, key_file: Path | None, body: dict | None = None, timeout_s: float = 120) -> dict:
    """GET (body None) or POST `path` on the server at `url` with the admin key; the JSON answer."""
    import httpx

    headers = {"Authorization": f"Bearer {read_key(key_file)}"}
    target = url.rstrip("/") + path
    try:
        with httpx.Client(timeout=timeout_s, verify=True) as c:
            r = c.get(target, headers=headers) if body is None else c.post(target, headers=headers, json=body)
    except httpx.HTTPError as e:
        raise UserError(f"cannot reach the server at {url}: {e}", "is it running? give its address with --url") from None
    if r.status_code >= 400:
        try:
            message = r.json().get("error") or r.text
        except ValueError:
            message = r.text
        raise UserError(f"the server answered {r.status_code}: {message[:500]}")
    return r.json() if r.content else {}
