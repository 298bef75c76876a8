"""Schemathesis against the live server's own /openapi.json: no generated request may get a 5xx.

Runs the schemathesis CLI in a subprocess (its supported interface) with the API key header and a
small, seeded example budget so it finishes in well under a minute.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.serve.serve_fakes import all_fakes, live_server, make_keys

# Random model names only ever reach the 404 branch; pinning them sends the fuzzer's tensors into
# real validation and real predict calls: metadata routes -> translator, unversioned infer ->
# the (non-batchable) generator, versioned infer -> the classifier.
CONFIG = """
[parameters]
"path.name" = "translator"
"path.version" = "1"

[[operations]]
include-path = "/v2/models/{name}/infer"
parameters = { "path.name" = "generator" }

[[operations]]
include-path = "/v2/models/{name}/versions/{version}/infer"
parameters = { "path.name" = "classifier", "path.version" = "1" }
"""


def _schemathesis() -> str | None:
    exe = Path(sys.executable).with_name("schemathesis")
    return str(exe) if exe.exists() else shutil.which("schemathesis")


@pytest.mark.timeout(120)
def test_fuzzing_finds_no_server_error(tmp_path):
    exe = _schemathesis()
    if exe is None:
        pytest.skip("schemathesis is not installed (pip install -e '.[test]')")
    keys, key = make_keys(tmp_path)
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    with live_server(all_fakes(), api_keys_path=keys) as url:
        run = subprocess.run(
            [exe, "--config-file", str(config), "run", f"{url}/openapi.json",
             "-H", f"Authorization: Bearer {key}",
             "--checks", os.environ.get("DLBENCH_FUZZ_CHECKS", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"),
             "--max-examples", os.environ.get("DLBENCH_FUZZ_EXAMPLES", "10"), "--seed", "1",
             "--phases", "examples,coverage,fuzzing", "--generation-database", "none", "--no-color",
             "--request-timeout", "10"],
            capture_output=True, text=True, timeout=110, cwd=tmp_path,
        )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
