"""`dlbench --help`, `dlbench CMD --help` for every command and subcommand, and `dlbench configs` never import
torch (issue 21 part 3, issue 25 item 2): checked in a fresh interpreter, since this test process has torch loaded."""
import subprocess
import sys

SCRIPT = """
import sys
from dlbench.cli import main
from dlbench.cli.commands import walk

def run(*words):
    sys.argv = ["dlbench", *words]
    try:
        main()
    except SystemExit as e:
        assert e.code == 0, (words, e.code)
    loaded = sorted(m for m in ("torch", "numpy", "pandas", "optuna", "fastapi") if m in sys.modules)
    assert "torch" not in sys.modules, ("dlbench " + " ".join(words) + " imported torch", loaded)

run("--help")
paths = [path for path, _, _ in walk() if path]
for path in paths:
    run(*path, "--help")
run("serve", "--help")
run("configs")
print(len(paths), "commands")
"""


def test_help_of_every_command_and_configs_list_do_not_import_torch():
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert int(r.stdout.split()[-2]) >= 25  # every command and group of the table was asked for its help


def test_command_modules_import_light():
    """Importing the command line (every command module, through the one table) loads neither torch nor numpy."""
    code = "import sys, dlbench.cli; print(sorted(m for m in ('torch', 'numpy', 'pandas') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr[-2000:]
