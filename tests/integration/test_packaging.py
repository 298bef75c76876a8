"""The wheel alone provides dlbench: built from an sdist, installed non-editable into a fresh venv, run elsewhere.

What it proves: every file the package reads at run time (shipped configs and spaces, benchmark suites and
rules, report templates) is package data, so after `pip install dlbench-*.whl` the CLI works with no checkout.

How, without network: the checkout's build inputs are copied to tmp (so the build never writes build/ or
*.egg-info into the checkout, nor picks up a stale build/lib), an sdist is built with setuptools' PEP 517 hooks
and a wheel from the unpacked sdist (what `python -m build` does), with --no-build-isolation. A fresh venv is
made --without-pip; the project venv's pip installs the wheel into it (`pip --python`), and only then a .pth
line puts the project venv's site-packages after the new venv's own, for the dependencies (torch and the rest).
The line is a plain path, so that directory's own .pth files (the editable install's /work/main/src) are not
processed: `import dlbench` can only find the installed copy, which the tests assert.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

BUILD_INPUTS = ("pyproject.toml", "README.md", "MANIFEST.in", "LICENSE", "LICENSE.txt", "setup.cfg", "setup.py")
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.egg-info")


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV")}
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["COLUMNS"] = "200"  # rich tables: whole names, no ellipsis
    return env


def _run(cmd: list, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, env=_clean_env(), capture_output=True, text=True,
                       timeout=timeout)
    assert p.returncode == 0, (f"`{' '.join(map(str, cmd))}` exited {p.returncode}\n"
                               f"--- stdout ---\n{p.stdout[-4000:]}\n--- stderr ---\n{p.stderr[-4000:]}")
    return p


def _package_files(src: Path) -> list[str]:
    """Every file of the package in a source tree, as its path inside the wheel (dlbench/...)."""
    pkg = src / "dlbench"
    return sorted(f.relative_to(src).as_posix() for f in pkg.rglob("*")
                  if f.is_file() and "__pycache__" not in f.parts and f.suffix not in (".pyc", ".pyo"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv, wheel, snapshot of src/) with the wheel installed non-editable in a fresh venv."""
    root = tmp_path_factory.mktemp("packaging")
    tree = root / "tree"  # a snapshot of the checkout's build inputs
    tree.mkdir()
    for name in BUILD_INPUTS:
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, tree / name)
    shutil.copytree(REPO / "src", tree / "src", ignore=JUNK)

    py = sys.executable
    _run([py, "-c", "import sys; from setuptools import build_meta as b; "
                    "print(b.build_sdist(sys.argv[1]))", root / "sdist"], cwd=tree)
    (sdist,) = (root / "sdist").glob("*.tar.gz")
    with tarfile.open(sdist) as t:
        t.extractall(root / "unpacked", **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    (unpacked,) = (root / "unpacked").iterdir()
    _run([py, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index", "--no-build-isolation",
          "-w", root / "wheel", unpacked], cwd=root)
    (wheel,) = (root / "wheel").glob("dlbench-*.whl")

    venv = root / "venv"
    _run([py, "-m", "venv", "--without-pip", venv], cwd=root)
    vpy = venv / "bin" / "python"
    _run([py, "-m", "pip", "--python", vpy, "install", "-q", "--no-deps", "--no-index", "--no-compile", wheel],
         cwd=root)
    site = Path(_run([vpy, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=root)
                .stdout.strip())
    deps = dict.fromkeys(sysconfig.get_path(k) for k in ("purelib", "platlib"))  # the project venv's
    (site / "_dlbench_test_deps.pth").write_text("".join(f"{d}\n" for d in deps))
    return venv, wheel, tree / "src"


def test_wheel_ships_every_package_file(installed):
    _, wheel, src = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    configs = sorted(f.relative_to(src).as_posix() for f in (src / "dlbench" / "configs").rglob("*.yaml"))
    assert "dlbench/configs/mnist1d-cnn.yaml" in configs and any("/spaces/" in c for c in configs)
    assert not [c for c in configs if c not in names], f"shipped configs missing from {wheel.name}"
    missing = [f for f in _package_files(src) if f not in names]
    assert not missing, (f"{wheel.name} lacks {len(missing)} package file(s): {missing[:20]} "
                         "(add their pattern to [tool.setuptools.package-data] in pyproject.toml)")


def test_import_resolves_to_the_installed_copy(installed, tmp_path):
    venv, _, _ = installed
    out = _run([venv / "bin" / "python", "-c",
                "import dlbench, importlib.metadata as m; print(dlbench.__file__); "
                "print(m.distribution('dlbench').read_text('direct_url.json') or '')"], cwd=tmp_path).stdout
    file, direct_url = out.split("\n", 1)
    where = Path(file).resolve()
    assert where.is_relative_to(venv.resolve()), f"dlbench imported from {where}, not from the wheel's install"
    assert not where.is_relative_to(REPO.resolve())
    assert not json.loads(direct_url or "{}").get("dir_info", {}).get("editable"), direct_url
    assert not list(venv.rglob("__editable__*"))


def test_cli_from_the_wheel_outside_the_checkout(installed, tmp_path):
    venv, _, src = installed
    dlbench = venv / "bin" / "dlbench"
    assert dlbench.is_file(), "the wheel installed no `dlbench` console script"

    listed = _run([dlbench, "configs"], cwd=tmp_path).stdout
    shipped = sorted(p.stem for p in (src / "dlbench" / "configs").glob("*.yaml"))
    assert [n for n in shipped if n not in listed] == []

    shown = _run([dlbench, "configs", "show", "mnist1d-cnn"], cwd=tmp_path).stdout
    assert "mnist1d" in shown and "model" in shown

    bench = _run([dlbench, "bench", "list"], cwd=tmp_path).stdout
    assert "mnist1d-cnn" in bench

    assert "Usage" in _run([dlbench, "serve", "--help"], cwd=tmp_path).stdout

    _run([dlbench, "train", "mnist1d-cnn", "-o", "train.steps=20", "-o", "train.eval_every=10",
          "--run-dir", "R"], cwd=tmp_path, timeout=300)
    assert (tmp_path / "R" / "model.safetensors").is_file()
