"""--n-jobs N: N worker processes on this machine, each running `study.work` on the same study.

Processes rather than threads: each trial sets its own torch thread count and signal handling, and a
crashed worker takes only its own trial down (the others go on; its trial is retried). A worker gets its
TuneSpec as JSON on the command line.
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from dataclasses import asdict

from dlbench.errors import UserError
from dlbench.tune.study import StudyContext, TuneSpec, open_study, work

log = logging.getLogger(__name__)


def run_parallel(ctx: StudyContext, on_trial=None, poll: float = 1.0) -> None:
    """Start the workers, show progress from the shared storage while they run, wait for all of them."""
    spec = {**asdict(ctx.spec), "metric": ctx.metric, "resume": False}  # the parent already checked resume
    logs = ctx.spec.study_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    procs = []
    for i in range(ctx.spec.n_jobs):
        f = open(logs / f"worker-{i}.log", "ab")
        procs.append((subprocess.Popen([sys.executable, "-m", "dlbench.tune.parallel", json.dumps(spec)],
                                       stdout=f, stderr=subprocess.STDOUT), f, logs / f"worker-{i}.log"))
    try:
        while any(p.poll() is None for p, _, _ in procs):
            if on_trial:
                on_trial(ctx)
            time.sleep(poll)
    finally:
        for p, f, _ in procs:
            p.wait()
            f.close()
    if on_trial:
        on_trial(ctx)
    for i, (p, _, path) in enumerate(procs):
        if p.returncode == 130:
            from dlbench.training.loop import Interrupted

            raise Interrupted("tuning interrupted; continue the study with the same command and --resume")
        if p.returncode:
            tail = path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            log.warning("worker %d exited with code %d: %s (see %s)", i, p.returncode, tail[0], path)


def worker_main(argv: list[str]) -> int:
    """Entry point of one --n-jobs worker process."""
    from dlbench.training.loop import Interrupted

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    spec = TuneSpec(**json.loads(argv[0]))
    try:
        work(open_study(spec))
    except UserError as e:
        print(f"error: {e.line()}", file=sys.stderr)
        return 2
    except Interrupted as e:
        print(str(e), file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
