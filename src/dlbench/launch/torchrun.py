"""`dlbench train --nproc-per-node N [--nnodes M ...]`: run the training under torchrun (torch.distributed.run).

The launcher checks what it can before anything starts (config, devices, rendezvous port, run
directory), then runs torchrun's elastic agent in this process with the c10d rendezvous:

    torchrun --nnodes M --nproc-per-node N --rdzv-backend c10d --rdzv-endpoint HOST:PORT --rdzv-id ID
             --max-restarts 0 --shutdown-timeout S -m dlbench.launch.worker CONFIG --run-dir DIR ...

The agent starts N workers (launch/worker.py), watches them, and when one fails tears the whole
group down (SIGTERM, then SIGKILL after S seconds); a hung rank is caught by the process group's
timeout in its peers (--dist-timeout). `torchrun_argv` is that invocation as a list, which is also
what to run by hand under Slurm or Kubernetes (docs/distributed.md).
"""
from __future__ import annotations

import ipaddress
import logging
import os
import shlex
import signal
import socket
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from dlbench.errors import UserError

log = logging.getLogger(__name__)
DEFAULT_PORT = 29400  # torchrun's default c10d port
OVERSUBSCRIBE_ENV = "DLBENCH_CPU_OVERSUBSCRIBE"
"""Set to 1 to allow more CPU processes than cores (functional tests only; timings become meaningless)."""


def parse_nnodes(nnodes: str | int) -> tuple[int, int]:
    text = str(nnodes)
    try:
        lo, _, hi = text.partition(":")
        lo_n, hi_n = int(lo), int(hi or lo)
    except ValueError:
        raise UserError(f"--nnodes '{text}' is not a number or MIN:MAX", "e.g. --nnodes 2 or --nnodes 1:4") from None
    if not 1 <= lo_n <= hi_n:
        raise UserError(f"--nnodes '{text}': need 1 <= MIN <= MAX")
    return lo_n, hi_n


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    host, sep, port = endpoint.rpartition(":")
    if not sep:
        return endpoint, DEFAULT_PORT
    try:
        p = int(port)
    except ValueError:
        raise UserError(f"--rdzv-endpoint '{endpoint}': the port is not a number", "use HOST:PORT") from None
    if not 0 <= p < 65536:
        raise UserError(f"--rdzv-endpoint '{endpoint}': port out of range")
    return host.strip("[]"), p


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def device_limit(device_name: str) -> tuple[int, str]:
    """How many processes this node can run: one per GPU, or one per usable CPU core."""
    import torch

    wants_cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if wants_cuda:
        return torch.cuda.device_count(), "GPU"
    return usable_cpus(), "CPU core"


def check_nproc(nproc: int, device_name: str) -> None:
    if nproc < 1:
        raise UserError(f"--nproc-per-node {nproc}: need at least 1")
    limit, what = device_limit(device_name)
    if nproc <= limit:
        return
    if what == "CPU core" and os.environ.get(OVERSUBSCRIBE_ENV) == "1":
        return
    hint = (f"use --nproc-per-node <= {limit}" if what == "GPU" else
            f"use --nproc-per-node <= {limit}, or set {OVERSUBSCRIBE_ENV}=1 to oversubscribe for a functional test")
    raise UserError(f"--nproc-per-node {nproc} is more than the {limit} {what}{'s' if limit != 1 else ''} "
                    f"available on {socket.gethostname()}", hint)


def is_local_host(host: str) -> bool:
    if host in ("localhost", socket.gethostname(), socket.getfqdn()):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        try:
            ip = ipaddress.ip_address(socket.gethostbyname(host))
        except (OSError, ValueError):
            return False
    if ip.is_loopback:
        return True
    try:
        with socket.socket(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((str(ip), 0))  # only an address of this machine can be bound
        return True
    except OSError:
        return False


def check_port_free(host: str, port: int) -> None:
    """The rendezvous host must be able to listen on the port (the c10d store binds it on all interfaces)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers are not "busy"
        try:
            s.bind(("", port))
        except OSError as e:
            raise UserError(f"rendezvous port {port} on {host} is busy ({e.strerror})",
                            "another job is using it: choose another --rdzv-endpoint port") from None


def torchrun_argv(config: str, overrides: list[str], run_dir: str, *, resume: bool, quiet: bool, nproc: int,
                  nnodes: str, rdzv_endpoint: str | None, rdzv_id: str, is_host: bool | None, dist_timeout: float,
                  observer: str | None = None, observer_args: str | None = None, evaluate_test: bool = True) -> list[str]:
    """The torchrun command line (without the program name) that runs the workers."""
    argv = ["--nnodes", str(nnodes), "--nproc-per-node", str(nproc), "--rdzv-backend", "c10d",
            "--rdzv-endpoint", rdzv_endpoint or "localhost:0", "--rdzv-id", rdzv_id,
            "--max-restarts", "0",
            # SIGTERM first so an interrupted rank 0 can write its checkpoint, SIGKILL after this long
            "--shutdown-timeout", str(int(min(30, max(2, dist_timeout)))),
            "--monitor-interval", "0.5"]
    conf = [f"join_timeout={int(max(60, 2 * dist_timeout))}"]
    if is_host is not None:
        conf.append(f"is_host={1 if is_host else 0}")  # explicit: no guessing by host name on loopback tests
    argv += ["--rdzv-conf", ",".join(conf), "-m", "dlbench.launch.worker", str(config), "--run-dir", str(run_dir),
             "--dist-timeout", str(dist_timeout)]
    for o in overrides:
        argv += ["-o", o]
    if resume:
        argv.append("--resume")
    if quiet:
        argv.append("--quiet")
    if observer:
        argv += ["--observer", observer, "--observer-args", observer_args or "{}"]
    if not evaluate_test:
        argv.append("--no-test")
    return argv


def prepare_run_dir(cfg, run_dir, resume: bool, multi_node: bool, node_rank: int | None) -> Path:
    """The run directory's path, decided before any rank starts so that every rank is handed the same one.

    It is checked here but not created: rank 0 creates it (api.train, through the recipe's regime) once the
    data and model are built, so a run whose ranks fail before training leaves nothing behind."""
    from dlbench.run.rundir import has_run, is_unused, plan_run_dir

    if multi_node and run_dir is None:
        raise UserError("a multi-node run needs --run-dir", "give the same path on a filesystem every node shares")
    if resume:
        if run_dir is None:
            raise UserError("--resume needs --run-dir naming the run to continue")
        if node_rank in (None, 0) and not has_run(run_dir) and not is_unused(run_dir):
            raise UserError(f"{run_dir}: nothing to resume (no config.yaml)", "choose another --run-dir")
        return Path(run_dir)  # a directory without a run yet is started there (api.train decides on rank 0)
    if multi_node and node_rank != 0:
        return Path(run_dir)  # node 0 checks it; rank 0 (on whichever node) creates it
    return plan_run_dir(run_dir, cfg.name or "run")


@dataclass
class Launched:
    """How a distributed training ended on this node: its exit code and the run directory every rank was given
    (its result.json is there on the node that ran rank 0; the CLI prints the same summary as for one process)."""
    code: int
    run_dir: Path


def launch_distributed(config, overrides: list[str], run_dir, resume: bool, quiet: bool, nproc_per_node: int,
                       nnodes: str = "1", node_rank: int | None = None, rdzv_endpoint: str | None = None,
                       rdzv_id: str | None = None, dist_timeout: float = 300.0, *, observer: str | None = None,
                       observer_args: str | None = None, evaluate_test: bool = True) -> int:
    """Run `config` on nproc_per_node processes on this node (one node of nnodes); return the exit code.

    Raises UserError for bad input found here or reported by any rank of this node.
    observer: "module:factory" called on every rank as factory(dist=ctx, **json.loads(observer_args)) to
    build the training loop's observer (the benchmark clock); evaluate_test=False keeps the test split sealed.
    """
    return run_distributed(config, overrides, run_dir, resume, quiet, nproc_per_node, nnodes, node_rank,
                           rdzv_endpoint, rdzv_id, dist_timeout, observer=observer, observer_args=observer_args,
                           evaluate_test=evaluate_test).code


def resume_command(run: Path, nproc_per_node: int, nnodes: str, node_rank: int | None, rdzv_endpoint: str | None,
                   rdzv_id: str | None, dist_timeout: float) -> str:
    """The exact `dlbench train` line that continues this node's part of the job (config and -o are in RUN)."""
    argv = ["dlbench", "train", "--run-dir", str(run), "--resume", "--nproc-per-node", str(nproc_per_node)]
    if str(nnodes) != "1":
        argv += ["--nnodes", str(nnodes)]
    if node_rank is not None:
        argv += ["--node-rank", str(node_rank)]
    if rdzv_endpoint:
        argv += ["--rdzv-endpoint", rdzv_endpoint]
    if rdzv_id:
        argv += ["--rdzv-id", rdzv_id]
    if dist_timeout != 300.0:
        argv += ["--dist-timeout", f"{dist_timeout:g}"]
    return shlex.join(argv)


def run_distributed(config, overrides: list[str], run_dir, resume: bool, quiet: bool, nproc_per_node: int,
                    nnodes: str = "1", node_rank: int | None = None, rdzv_endpoint: str | None = None,
                    rdzv_id: str | None = None, dist_timeout: float = 300.0, *, observer: str | None = None,
                    observer_args: str | None = None, evaluate_test: bool = True) -> Launched:
    """launch_distributed, returning the run directory with the exit code."""
    given_endpoint = rdzv_endpoint
    from dlbench.schema import load_config
    from dlbench.training.distributed import check_world

    cfg = load_config(config, overrides)
    lo, hi = parse_nnodes(nnodes)
    multi = hi > 1
    check_nproc(nproc_per_node, cfg.train.device)
    if lo == hi:
        check_world(cfg.train.batch_size, lo * nproc_per_node)
    if multi and not rdzv_endpoint:
        raise UserError("a multi-node run needs --rdzv-endpoint HOST:PORT", "the same value on every node, "
                        "HOST being the node that hosts the rendezvous (node rank 0)")
    is_host = None
    if rdzv_endpoint:
        host, port = parse_endpoint(rdzv_endpoint)
        if node_rank is not None:
            is_host = node_rank == 0
        if (is_host or (is_host is None and not multi and is_local_host(host))) and port != 0:
            check_port_free(host, port)
        rdzv_endpoint = f"{host}:{port}"
    elif node_rank not in (None, 0):
        raise UserError(f"--node-rank {node_rank} without --nnodes > 1 and --rdzv-endpoint")
    else:
        is_host = True  # one node, a free port picked by the store itself (localhost:0)
    run = prepare_run_dir(cfg, run_dir, resume, multi, node_rank)
    argv = torchrun_argv(config, overrides, str(run), resume=resume, quiet=quiet, nproc=nproc_per_node,
                         nnodes=str(nnodes), rdzv_endpoint=rdzv_endpoint,
                         rdzv_id=rdzv_id or ("dlbench" if multi else uuid.uuid4().hex), is_host=is_host,
                         dist_timeout=dist_timeout, observer=observer, observer_args=observer_args,
                         evaluate_test=evaluate_test)
    log.info("torchrun %s", " ".join(argv))
    if cfg.train.device in ("auto", "cpu") and "OMP_NUM_THREADS" not in os.environ:
        # torchrun would set 1; share this node's cores instead (train.threads still wins when set)
        os.environ["OMP_NUM_THREADS"] = str(max(1, usable_cpus() // nproc_per_node))
    again = resume_command(run, nproc_per_node, nnodes, node_rank, given_endpoint, rdzv_id, dist_timeout)
    return Launched(_run_torchrun(argv, again), run)


def _quiet_elastic_logs() -> None:
    """torchrun's agent logs every teardown step; our summary names the failed ranks instead."""
    level = os.environ.get("LOGLEVEL", "CRITICAL")
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("torch.distributed"):
            logging.getLogger(name).setLevel(level)


def _run_torchrun(argv: list[str], again: str) -> int:
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.rendezvous.api import RendezvousError
    from torch.distributed.run import get_args_parser
    from torch.distributed.run import run as torchrun

    args = get_args_parser().parse_args(argv)
    _quiet_elastic_logs()
    t0 = time.perf_counter()
    try:
        torchrun(args)
    except ChildFailedError as e:
        return _report_failures(e.failures, time.perf_counter() - t0, again)
    except RendezvousError as e:
        raise UserError(f"rendezvous at {args.rdzv_endpoint} failed: {type(e).__name__}: {e}",
                        "check that every node uses the same --rdzv-endpoint/--rdzv-id and --nnodes, "
                        "and that the host is reachable") from None
    except Exception as e:  # torchrun's SignalException: we were told to stop; the workers are gone
        if type(e).__name__ == "SignalException":
            print(f"stopped by signal {e.sigval.name}; continue with: {again}", file=sys.stderr)
            return 128 + int(e.sigval)
        raise
    return 0


def _message(failure) -> str:
    m = failure.message
    if isinstance(m, dict):
        m = m.get("message", "")
    return str(m).strip()


def _report_failures(failures: dict, seconds: float, again: str = "") -> int:
    """One line per failed rank, root cause first; bad input (exit 2, UserError) becomes a UserError."""
    ordered = sorted(failures.items(), key=lambda kv: (kv[1].timestamp, kv[0]))
    user = [_message(f) for _, f in ordered if f.exitcode == 2 and _message(f).startswith("UserError: ")]
    if user:
        raise UserError(user[0][len("UserError: "):])
    if again and all(f.exitcode == 130 for _, f in ordered):  # every rank stopped at a checkpoint (a stop signal)
        print(f"interrupted after {seconds:.0f}s; checkpoint saved; continue with: {again}", file=sys.stderr)
        return 130
    host = socket.gethostname()
    # ranks the agent itself stopped (SIGTERM after the first failure) are consequences, not causes
    stopped = [r for r, f in ordered if f.exitcode in (-signal.SIGTERM, 128 + signal.SIGTERM)]
    causes = [(r, f) for r, f in ordered if r not in stopped] or ordered
    lines = []
    for rank, f in causes:
        if f.exitcode < 0:
            what = f"was killed by {f.signal_name()}"
        else:
            msg = _message(f).replace("DistributedFailure: ", "")
            what = f"exited with code {f.exitcode}" + (f": {msg.splitlines()[0][:400]}" if msg and "pytorch.org" not in msg else "")
        lines.append(f"rank {rank} (local rank {f.local_rank}, pid {f.pid}, {host}) {what}")
    rest = [r for r in stopped if r not in dict(causes)]
    tail = f"; stopped: rank{'s' if len(rest) > 1 else ''} {', '.join(map(str, rest))}" if rest else ""
    print(f"error: distributed training failed after {seconds:.0f}s: " + "; ".join(lines) + tail, file=sys.stderr)
    return 1
