"""`dlbench serve check`: what is unsafe in a serving configuration, before it serves anything.

It reads the settings (the same options as `serve run`), the keys file and each run's model.json; it loads no model.
Each finding has a severity (high: fix before exposing the server; medium: a weakness worth knowing) and the
option or command that fixes it. `dlbench serve check ...` exits 1 when any finding is high.
"""
from __future__ import annotations

import json
import stat
from dataclasses import dataclass
from pathlib import Path

from dlbench.errors import UserError

LARGE_BODY = 64 * 2**20
"""A body limit above this lets a few clients hold gigabytes of memory (the default is 8 MiB)."""


@dataclass(frozen=True)
class Finding:
    severity: str
    """high | medium"""
    what: str
    fix: str


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _open_to_others(path: Path) -> str | None:
    """'group' / 'others' / 'group and others' when they may read the file, else None."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    who = [w for w, bit in (("group", stat.S_IRGRP), ("others", stat.S_IROTH)) if mode & bit]
    return " and ".join(who) or None


def _network(settings) -> list[Finding]:
    out = []
    exposed = not _loopback(settings.host)
    if exposed and settings.ssl_certfile is None:
        out.append(Finding("high", f"serving on {settings.host} without TLS: API keys and data cross the network "
                                   "in clear text", "--ssl-certfile CERT --ssl-keyfile KEY (or --host 127.0.0.1 "
                                                    "behind a TLS-terminating proxy)"))
    if settings.no_auth:
        out.append(Finding("high" if exposed else "medium",
                           f"no API keys (--no-auth): anyone who can reach {settings.host}:{settings.port} can use "
                           "every model", "drop --no-auth and give --api-keys FILE "
                                          "(dlbench serve keys add --name NAME --api-keys FILE)"))
    if settings.max_body_bytes > LARGE_BODY:
        out.append(Finding("medium", f"request bodies up to {settings.max_body_bytes / 2**20:.0f} MiB are accepted: "
                                     "a few clients can hold that much memory each",
                           f"--max-body-bytes {8 * 2**20} (the default, 8 MiB) or the largest request you expect"))
    if not settings.monitor:
        out.append(Finding("medium", "drift monitoring is off: nothing tells when live inputs leave the training "
                                     "distribution, and no request is flagged far outside it", "drop --no-monitor"))
    if settings.request_log is not None and Path(settings.request_log).exists():
        who = _open_to_others(Path(settings.request_log))
        if who:
            out.append(Finding("medium", f"request log {settings.request_log} (users' inputs) is readable by {who}",
                               f"chmod 600 {settings.request_log}"))
    return out


def _keys(settings) -> list[Finding]:
    from dlbench.serve.auth import default_keys_path

    if settings.no_auth:
        return []
    path = Path(settings.api_keys_path or default_keys_path())
    add = f"dlbench serve keys add --name NAME --api-keys {path}"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        keys = doc["keys"] if isinstance(doc, dict) and isinstance(doc.get("keys"), list) else None
    except FileNotFoundError:
        return [Finding("high", f"no keys file at {path}: the server refuses to start", add)]
    except (OSError, ValueError) as e:
        return [Finding("high", f"keys file {path} is unreadable ({e})", f"fix or remove it, then {add}")]
    if keys is None or not all(isinstance(k, dict) for k in keys):
        return [Finding("high", f"keys file {path} is not a dlbench keys file", f"remove it, then {add}")]
    out = []
    who = _open_to_others(path)
    if who:
        out.append(Finding("high", f"keys file {path} is readable by {who}: the key hashes let anyone holding "
                                   "them check guesses offline", f"chmod 600 {path}"))
    active = [k for k in keys if not k.get("revoked") and not _expired(k)]
    if not active:
        out.append(Finding("high", f"no active API keys in {path}: the server refuses to start", add))
        return out
    roles: dict[str, set[str]] = {}
    for k in active:
        roles.setdefault(str(k.get("hash")), set()).add(k.get("role") or "inference")
    if any(len(r) > 1 for r in roles.values()):
        out.append(Finding("high", "the same key is both an admin and an inference key: a client that infers can "
                                   "also load and unload models", "revoke one of them (dlbench serve keys revoke "
                                                                  "NAME) and give clients their own key"))
    elif all(r == {"admin"} for r in roles.values()):
        out.append(Finding("high", "every active key is an admin key: inference clients would hold keys that can "
                                   "load and unload models and read the request log",
                           f"{add} (an inference key) for clients; keep admin keys for operators"))
    return out


def _expired(k: dict) -> bool:
    from datetime import datetime, timezone

    exp = k.get("expires")
    if not exp:
        return False
    try:
        when = datetime.fromisoformat(str(exp))
    except ValueError:
        return True
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)) <= datetime.now(timezone.utc)


def _run(run_dir: str) -> list[Finding]:
    from dlbench.monitor.profile import load_profile
    from dlbench.run.rundir import LEGACY_MODEL_FORMATS, load_model_json, read_json

    retrain = f"retrain it: dlbench train {run_dir}/config.yaml --run-dir NEW_RUN, then serve NEW_RUN"
    try:
        raw = read_json(Path(run_dir) / "model.json", "model.json")
        if raw.get("description_sha256") is None and raw.get("format") in LEGACY_MODEL_FORMATS:
            return [Finding("high", f"{run_dir}: model.json has no description hash: its config, preprocessing "
                                    "and labels are served unverified", retrain)]
        info, _ = load_model_json(run_dir)  # the description and the weights against their sha256
        profile = load_profile(run_dir, info)
    except UserError as e:
        return [Finding("high", f"{run_dir}: {e.message} (the server refuses to load it)", e.hint or retrain)]
    if profile is None:
        return [Finding("medium", f"{run_dir}: no reference profile (trained before dlbench stored one, or a "
                                  "generator / forecaster): its drift cannot be monitored", retrain)]
    return []


def check_deployment(settings, run_dirs: list[str]) -> list[Finding]:
    """Every finding for serving `run_dirs` (and the runs of --model-repository) with `settings`, high ones first."""
    repository = getattr(settings, "model_repository", None)  # DIR/<model>/<version>/ = a run directory
    if repository is not None and Path(repository).is_dir():
        run_dirs = [*run_dirs, *(str(p.parent) for p in sorted(Path(repository).glob("*/*/model.json")))]
    findings = _network(settings) + _keys(settings) + [f for r in run_dirs for f in _run(r)]
    return sorted(findings, key=lambda f: f.severity != "high")


def print_findings(findings: list[Finding]) -> int:
    """Print the findings (stdout); the exit code: 1 when any is high, else 0."""
    for f in findings:
        print(f"{f.severity.upper():6s}  {f.what}\n        fix: {f.fix}")
    high = sum(f.severity == "high" for f in findings)
    print(f"{len(findings)} finding(s): {high} high, {len(findings) - high} medium" if findings
          else "no findings: nothing unsafe in this configuration")
    return 1 if high else 0
