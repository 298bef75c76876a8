"""Distributed pieces that need no second process: batch/lr rules, launcher checks, failure reports,
and a one-rank gloo group in this process (collectives, DDP wrap, config agreement, failure report)."""
import signal
import socket
from types import SimpleNamespace

import pytest
import torch

from dlbench.schema import parse_config
from dlbench.data.bundle import Split
from dlbench.data.loaders import TrainBatches
from dlbench.errors import UserError
from dlbench.launch import torchrun as launch
from dlbench.training.distributed import check_world, effective_lr
from tests.conftest import tiny


def test_train_batch_size_is_global_and_shards_cover_it_exactly():
    n = 100
    split = Split(torch.arange(n).float()[:, None], torch.arange(n))
    for world, gb in ((2, 32), (3, 32), (8, 100)):
        ranks = [TrainBatches(split, gb, 0, torch.device("cpu"), r, world) for r in range(world)]
        full = TrainBatches(split, gb, 0, torch.device("cpu"))
        for _ in range(4):  # crosses an epoch boundary (3 batches of 32 per epoch)
            parts = [next(b)[1] for b in ranks]
            assert torch.equal(torch.cat(parts), next(full)[1])
            assert max(map(len, parts)) - min(map(len, parts)) <= 1
        assert sum(b.loss_weight for b in ranks) == pytest.approx(world)


def test_dataloader_path_shards_like_the_in_memory_path():
    x, y = torch.arange(50).float()[:, None], torch.arange(50)
    lazy, mem = Split(dataset=torch.utils.data.TensorDataset(x, y)), Split(x, y)
    for rank in range(3):
        a = TrainBatches(lazy, 16, 1, torch.device("cpu"), rank, 3, num_workers=0)
        b = TrainBatches(mem, 16, 1, torch.device("cpu"), rank, 3)
        for _ in range(5):  # crosses an epoch boundary: 3 global batches of 16 per epoch
            assert torch.equal(next(a)[1], next(b)[1])


def test_uneven_shard_weights_give_the_global_mean_gradient():
    """(1/W) sum_r w_r * mean_r(loss) is the mean over the global batch, as DDP needs."""
    torch.manual_seed(0)
    x, y = torch.randn(13, 5), torch.randint(0, 3, (13,))
    lin = torch.nn.Linear(5, 3)
    ref = torch.autograd.grad(torch.nn.functional.cross_entropy(lin(x), y), lin.weight)[0]
    world, split = 4, Split(x, y)
    total = torch.zeros_like(ref)
    for r in range(world):
        b = TrainBatches(split, 13, 0, torch.device("cpu"), r, world)
        idx = torch.arange(b.lo, b.hi)
        loss = torch.nn.functional.cross_entropy(lin(x[idx]), y[idx]) * b.loss_weight
        total += torch.autograd.grad(loss, lin.weight)[0] / world
    assert torch.allclose(total, ref, atol=1e-6)


def test_lr_scaling_rules_and_validation():
    def cfg(**t):
        return parse_config(tiny(**t)).train

    assert effective_lr(cfg(batch_size=256), 0.1) == 0.1
    assert effective_lr(cfg(batch_size=256, lr_scaling="linear", reference_batch_size=64), 0.1) == pytest.approx(0.4)
    assert effective_lr(cfg(batch_size=256, lr_scaling="sqrt", reference_batch_size=64), 0.1) == pytest.approx(0.2)
    with pytest.raises(Exception, match="reference_batch_size"):
        cfg(lr_scaling="linear")


def test_world_larger_than_the_global_batch_is_refused():
    check_world(8, 8)
    with pytest.raises(UserError, match="global batch"):
        check_world(4, 8)


def test_nproc_limit_on_cpu(monkeypatch):
    monkeypatch.setattr(launch, "usable_cpus", lambda: 2)
    monkeypatch.delenv(launch.OVERSUBSCRIBE_ENV, raising=False)
    launch.check_nproc(2, "cpu")
    with pytest.raises(UserError, match="more than the 2 CPU cores"):
        launch.check_nproc(3, "cpu")
    monkeypatch.setenv(launch.OVERSUBSCRIBE_ENV, "1")
    launch.check_nproc(3, "cpu")


def test_busy_rendezvous_port_is_reported():
    with socket.socket() as s:
        s.bind(("", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(UserError, match=f"port {port} .* busy"):
            launch.check_port_free("127.0.0.1", port)


def test_endpoint_and_nnodes_parsing():
    assert launch.parse_endpoint("host0:29500") == ("host0", 29500)
    assert launch.parse_endpoint("host0") == ("host0", launch.DEFAULT_PORT)
    assert launch.parse_nnodes("2") == (2, 2) and launch.parse_nnodes("1:4") == (1, 4)
    with pytest.raises(UserError):
        launch.parse_nnodes("two")
    assert launch.is_local_host("127.0.0.1") and not launch.is_local_host("192.0.2.1")


def test_torchrun_argv_is_what_torchrun_parses():
    from torch.distributed.run import get_args_parser

    argv = launch.torchrun_argv("c.yaml", ["train.steps=5"], "runs/x", resume=True, quiet=True, nproc=4, nnodes="2",
                                rdzv_endpoint="host0:29500", rdzv_id="job7", is_host=False, dist_timeout=60)
    a = get_args_parser().parse_args(argv)
    assert (a.nnodes, a.nproc_per_node, a.rdzv_backend, a.rdzv_endpoint, a.rdzv_id, a.max_restarts) == \
        ("2", "4", "c10d", "host0:29500", "job7", 0)
    assert "is_host=0" in a.rdzv_conf and a.module and a.training_script == "dlbench.launch.worker"
    assert a.training_script_args[:3] == ["c.yaml", "--run-dir", "runs/x"]
    assert "--resume" in a.training_script_args and ["-o", "train.steps=5"] == a.training_script_args[5:7]


def _failure(rank, exitcode, message=""):
    return SimpleNamespace(local_rank=rank, pid=100 + rank, exitcode=exitcode, timestamp=1,
                           message={"message": message} if message else "",
                           signal_name=lambda: signal.Signals(-exitcode).name if exitcode < 0 else "")


def test_failure_report_names_the_cause_not_the_ranks_torchrun_stopped(capsys):
    code = launch._report_failures({0: _failure(0, -signal.SIGTERM), 1: _failure(1, -signal.SIGKILL)}, 3.0)
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: distributed training failed")
    assert "rank 1 (local rank 1, pid 101" in err and "killed by SIGKILL" in err and "stopped: rank 0" in err


def test_failure_report_turns_a_rank_user_error_into_a_user_error():
    with pytest.raises(UserError, match="config differs"):
        launch._report_failures({1: _failure(1, 2, "UserError: the config differs (fix it)")}, 1.0)


def test_bad_launch_input_is_one_line_exit_2(run_cli, write_yaml, tmp_path, monkeypatch):
    monkeypatch.delenv(launch.OVERSUBSCRIBE_ENV, raising=False)
    cfg = write_yaml(tiny(steps=2))
    code, _, err = run_cli("train", cfg, "--nproc-per-node", str(launch.usable_cpus() + 1))
    assert code == 2 and "CPU core" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("train", cfg, "--nnodes", "2", "--nproc-per-node", "1", "--run-dir", tmp_path / "r")
    assert code == 2 and "--rdzv-endpoint" in err
    with socket.socket() as s:
        s.bind(("", 0))
        s.listen()
        port = s.getsockname()[1]
        code, _, err = run_cli("train", cfg, "--nnodes", "2", "--node-rank", "0", "--nproc-per-node", "1",
                               "--rdzv-endpoint", f"127.0.0.1:{port}", "--run-dir", tmp_path / "r")
    assert code == 2 and "busy" in err


@pytest.fixture
def one_rank(monkeypatch):
    """A real one-process gloo group, as torchrun's environment describes it."""
    import torch.distributed as tdist

    from dlbench.training.distributed import init_from_env

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for k, v in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                 "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("TORCHELASTIC_USE_AGENT_STORE", raising=False)
    ctx = init_from_env(20, "cpu")
    yield ctx
    if tdist.is_initialized():
        ctx.close()


def test_context_collectives_wrap_and_config_agreement(one_rank, monkeypatch):
    import torch.distributed as tdist
    from torch.nn.parallel import DistributedDataParallel

    ctx = one_rank
    assert (ctx.rank, ctx.world, ctx.is_main, ctx.device.type) == (0, 1, True, "cpu")
    assert ctx.all_reduce_mean(torch.tensor(3.0)).item() == 3.0
    assert ctx.any_true(True) and not ctx.any_true(False)
    assert ctx.from_main("target", (None, "target")) == "target"
    ctx.barrier()
    assert isinstance(ctx.wrap(torch.nn.Linear(2, 2)), DistributedDataParallel)
    ctx.check_same_config("a: 1\n")
    assert ctx.missing_ranks("test", wait_s=0.1) == []

    def second_node_differs(out, mine):  # what a second node with another config would contribute
        out[0].copy_(mine)
        out[1].copy_(mine + torch.tensor([1, 1]))

    monkeypatch.setattr(ctx, "world", 2)
    monkeypatch.setattr(tdist, "all_gather", second_node_differs)
    with pytest.raises(UserError, match=r"differs across nodes: rank 1 \(node 1\) has config sha256 .* rank 0 "):
        ctx.check_same_config("a: 2\n")


def test_sync_batchnorm_on_cpu_is_refused(one_rank):
    one_rank.sync_batchnorm = True
    with pytest.raises(UserError, match="sync_batchnorm needs GPUs"):
        one_rank.wrap(torch.nn.BatchNorm1d(3))
