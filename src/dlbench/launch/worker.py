"""The per-rank entry point that torchrun starts: `python -m dlbench.launch.worker CONFIG --run-dir D ...`.

`dlbench train --nproc-per-node N` builds the torchrun invocation (launch/torchrun.py); under Slurm or
Kubernetes the same module can be named directly: `torchrun ... -m dlbench.launch.worker CONFIG ...`.

Exit codes: 0 done; 2 bad input (a UserError: its one line is recorded in torchrun's error file, which
the launcher turns back into a UserError); 1 anything else (traceback printed by this rank, root
cause recorded in the error file); 130 interrupted after a checkpoint.
"""
from __future__ import annotations

import argparse
import faulthandler
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback

from torch.distributed.elastic.multiprocessing.errors import ErrorHandler

from dlbench.errors import UserError

log = logging.getLogger("dlbench.worker")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="dlbench.launch.worker")
    p.add_argument("config")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--override", "-o", action="append", default=[])
    p.add_argument("--resume", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--dist-timeout", type=float, default=300.0)
    p.add_argument("--observer", default=None, help="module:factory(dist=ctx, **observer_args) -> fit observer")
    p.add_argument("--observer-args", default="{}", help="JSON keyword arguments of the observer factory")
    p.add_argument("--no-test", action="store_true", help="Leave the test split sealed (benchmark runs)")
    return p.parse_args(argv)


def _is_comm_failure(e: BaseException) -> bool:
    import torch.distributed as tdist

    if isinstance(e, getattr(tdist, "DistError", ())):
        return True
    text = str(e)
    return isinstance(e, RuntimeError) and any(k in text for k in ("gloo", "Gloo", "NCCL", "imed out",
                                                                  "Connection closed", "Connection reset"))


def _observer(spec: str | None, args_json: str, ctx):
    if not spec:
        return None
    import importlib

    module, attr = spec.split(":")
    return getattr(importlib.import_module(module), attr)(dist=ctx, **json.loads(args_json))


def run(args: argparse.Namespace) -> int:
    from dlbench.api import train
    from dlbench.schema import load_config
    from dlbench.training.distributed import check_world, init_from_env
    from dlbench.training.loop import Interrupted

    # the device (and so the backend) comes from the config; api.train resolves it again, identically
    cfg = load_config(args.config, args.override)
    ctx = init_from_env(args.dist_timeout, cfg.train.device, cfg.train.sync_batchnorm)
    check_world(cfg.train.batch_size, ctx.world)  # elastic --nnodes MIN:MAX: only known now
    if not ctx.is_main:
        logging.getLogger("dlbench").setLevel(logging.ERROR)  # only rank 0 logs
    observer = _observer(args.observer, args.observer_args, ctx)
    kw = {"evaluate_test": False} if args.no_test else {}
    try:
        train(args.config, args.override, run_dir=args.run_dir, resume=args.resume,
              quiet=args.quiet or not ctx.is_main, observer=observer, dist=ctx, **kw)
    except Interrupted as e:
        if ctx.is_main:
            print(f"{e}; continue with: dlbench train ... --run-dir {args.run_dir} --resume", file=sys.stderr)
        return 130
    except Exception as e:
        if not _is_comm_failure(e):
            raise
        missing = ctx.missing_ranks(str(e).splitlines()[0][:200])
        if missing:
            who = ", ".join(map(str, missing))
            msg = (f"rank {ctx.rank}: a collective failed or timed out (--dist-timeout {args.dist_timeout:g}s); "
                   f"rank{'s' if len(missing) > 1 else ''} {who} did not respond (hung or dead)")
        else:
            msg = f"rank {ctx.rank}: a collective failed: {str(e).splitlines()[0][:300]}"
        raise DistributedFailure(msg) from e
    finally:
        if observer is not None and hasattr(observer, "close"):
            observer.close()  # the benchmark log gets its run_stop even when training failed
    ctx.close()  # only after success: tearing down a broken group can itself block
    return 0


class DistributedFailure(RuntimeError):
    """A collective failed; the message names the ranks that did not report."""


def arm_stop_watchdog(grace_s: float) -> None:
    """Leave at most `grace_s` after SIGTERM/SIGINT, even when stuck where Python cannot run.

    The loop turns SIGTERM into "checkpoint at the next step", which a hung rank never reaches; and
    torchrun waits 30 s before its SIGKILL. Python's C-level signal handler writes the signal number
    to the wakeup fd the moment it arrives, whatever the main thread is blocked in, so a thread
    watching that fd can dump the stacks (where the rank was stuck) and exit.
    """
    r, w = os.pipe()
    os.set_blocking(w, False)
    signal.set_wakeup_fd(w, warn_on_full_buffer=False)

    def watch():
        while not any(b in (signal.SIGTERM, signal.SIGINT) for b in os.read(r, 64)):
            pass
        time.sleep(grace_s)
        rank = os.environ.get("RANK", "?")
        print(f"rank {rank}: still running {grace_s:g}s after the stop signal; exiting. Its stacks:", file=sys.stderr)
        faulthandler.dump_traceback(all_threads=True)
        _exit(128 + signal.SIGTERM)

    threading.Thread(target=watch, name="dlbench-stop-watchdog", daemon=True).start()


def _exit(code: int) -> None:
    # after a failed collective, the process group's destructor can block on the dead peer: skip it
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    handler = ErrorHandler()
    handler.initialize()
    arm_stop_watchdog(min(30.0, max(2.0, args.dist_timeout)))
    try:
        return run(args)
    except UserError as e:
        # one line, written where torchrun's agent reads each worker's root cause (TORCHELASTIC_ERROR_FILE)
        handler.record_exception(e)
        if os.environ.get("TORCHELASTIC_ERROR_FILE") is None:
            print(f"error: {e.line()}", file=sys.stderr)
        _exit(2)
    except DistributedFailure as e:
        handler.record_exception(e)
        print(f"error: {e}", file=sys.stderr)
        _exit(1)
    except Exception as e:
        handler.record_exception(e)
        traceback.print_exc()
        _exit(1)


if __name__ == "__main__":
    sys.exit(main())
