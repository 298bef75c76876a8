"""Validate the sizing model (dlbench.size) against published MLPerf Training results.

    .venv/bin/python bench/sizing_mlperf.py

ResNet-50 v1.5 on ImageNet, closed division, NVIDIA A100-SXM4-80GB, at 4, 8 and 64 GPUs. For each
published run the model gets exactly what the issue allows: the benchmark's model FLOPs (counted here with
torch's FLOP counter on a ResNet-50 v1.5 built on the meta device), the samples to converge and the global
batch (both read from the published result log), and the A100-80GB row of the shipped device table. Its
efficiency is the stated default (no GPU was measured: nothing is fitted to these results). The
prediction is compared with the published time-to-train (run_start to run_stop of that log).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from dlbench.size.devices import find, shipped
from dlbench.size.model import DEFAULT_GPU_EFFICIENCY, Efficiency, Q, Workload, human_seconds, predict
from dlbench.size.workload import _OpCounter

IMAGENET_TRAIN, IMAGENET_VAL = 1_281_167, 50_000
REPO = "https://github.com/mlcommons/training_results_{}/blob/master/{}"
# (label, MLPerf round, result log, GPUs per node, nodes, global batch, epochs to converge, run_start, run_stop)
# run_start/run_stop (ms) and global_batch_size/epoch_num are copied from the cited result_0.txt.
PUBLISHED = [
    ("Dell XE8545 4xA100-SXM-80GB", "v1.1", "Dell/results/XE8545x4A100-SXM-80GB/resnet/result_0.txt",
     4, 1, 1632, 35, 1634531131600, 1634534539017),
    ("NVIDIA DGX A100 (8 GPUs)", "v2.0", "NVIDIA/results/dgxa100_ngc22.04_mxnet/resnet/result_0.txt",
     8, 1, 3264, 35, 1652653456890, 1652655161518),
    ("NVIDIA 8x DGX A100 (64 GPUs)", "v2.0", "NVIDIA/results/dgxa100_n8_ngc22.04_mxnet/resnet/result_0.txt",
     8, 8, 3264, 35, 1652557047031, 1652557317131),
]
NETWORK_GBPS = 8 * 200  # DGX A100: 8 single-port 200 Gb/s HDR InfiniBand adapters for compute traffic
EVAL_EVERY_EPOCHS, EVAL_OFFSET = 4, 3  # MLPerf ResNet: evaluations at epochs 3, 7, 11, ... (as in the logs)


class Bottleneck(nn.Module):
    """ResNet v1.5: the stride sits on the 3x3 convolution."""

    def __init__(self, cin, width, stride):
        super().__init__()
        cout = width * 4
        self.c1, self.b1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.c2, self.b2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.c3, self.b3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
        self.down = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = F.relu(self.b2(self.c2(y)))
        return F.relu(self.b3(self.c3(y)) + self.down(x))


def resnet50(num_classes=1000):
    layers, cin = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)], 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(Bottleneck(cin, width, stride if i == 0 else 1))
            cin = width * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)


def count(batch: int = 8):
    """(train FLOPs/sample, forward FLOPs/sample, parameters, operators per step) on the meta device."""
    model = resnet50().to("meta")
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.empty(batch, 3, 224, 224, device="meta")
    y = torch.zeros(batch, dtype=torch.long, device="meta")
    train, ops = FlopCounterMode(display=False), _OpCounter()
    with train, ops:
        F.cross_entropy(model(x), y).backward()
        opt.step()
    fwd = FlopCounterMode(display=False)
    with torch.no_grad(), fwd:
        model(x)
    params = sum(p.numel() for p in model.parameters())
    return train.get_total_flops() / batch, fwd.get_total_flops() / batch, params, ops.ops


def main():
    train_f, fwd_f, params, ops = count()
    dev = find("A100-80GB", list(shipped()))
    eff = Efficiency(DEFAULT_GPU_EFFICIENCY, f"stated default {DEFAULT_GPU_EFFICIENCY:.0%} (no GPU measured)")
    print(f"ResNet-50 v1.5 @224: {train_f / 1e9:.2f} GFLOP/sample trained, {fwd_f / 1e9:.2f} forward, "
          f"{params / 1e6:.2f} M parameters, {ops} operators per eager step (torch FLOP counter, meta device)")
    print(f"device row: {dev.name} fp16 {dev.tflops.fp16} TFLOP/s, NVLink {dev.interconnect_gbs} GB/s; "
          f"efficiency {eff.value:.0%} ({eff.source}); network {NETWORK_GBPS} Gb/s per node")
    print(f"{'system':32s} {'round':5s} {'GPUs':>4s} {'batch':>5s} {'published':>10s} {'predicted':>10s} "
          f"{'pred/pub':>8s} {'bound':>18s}  within 2x")
    errors = []
    for label, rnd, path, per_node, nodes, batch, epochs, t0, t1 in PUBLISHED:
        samples = epochs * IMAGENET_TRAIN
        evals = len(range(EVAL_OFFSET, epochs + 1, EVAL_EVERY_EPOCHS))
        src = f"{REPO.format(rnd, path)}"
        q = lambda v, u, s=src: Q(v, u, s)  # noqa: E731
        w = Workload(
            name="resnet50", precision="fp16", flops_per_sample=q(train_f, "FLOP", "torch FLOP counter"),
            samples=q(float(samples), "samples"), global_batch=q(float(batch), "samples"),
            eval_flops=q(fwd_f * IMAGENET_VAL * evals, "FLOP"), params=q(float(params), ""),
            weight_bytes=q(4.0 * params, "bytes"), grad_bytes=q(2.0 * params, "bytes", "fp16 gradients (assumed)"),
            optimizer_bytes=q(4.0 * params, "bytes"), activation_bytes_per_sample=q(0.0, "bytes"),
            peak_memory_bytes=q(0.0, "bytes"), measured_batch=batch,
            storage_bytes_per_sample=q(110e3, "bytes", "mean ImageNet JPEG (assumed)"),
            dataset_bytes=q(140e9, "bytes"), loader_cpu_s_per_sample=q(0.0, "s"),
            operators_per_step=q(float(ops), "", "eager operator count"))
        p = predict(w, dev, per_node, nodes, eff, network_gbps=NETWORK_GBPS)
        published = (t1 - t0) / 1e3
        ratio = p.time_to_train.value / published
        errors.append(ratio)
        print(f"{label:32s} {rnd:5s} {per_node * nodes:4d} {batch:5d} {human_seconds(published):>10s} "
              f"{human_seconds(p.time_to_train.value):>10s} {ratio:8.2f} {p.bound:>18s}  "
              f"{'yes' if 0.5 <= ratio <= 2 else 'NO'}")
        print(f"    source: {src}")
        print(f"    step {p.step_time.value * 1e3:.2f} ms = compute {p.compute_time.value * 1e3:.2f} ms + exposed "
              f"all-reduce {p.exposed_allreduce.value * 1e3:.2f} ms (of {p.allreduce_time.value * 1e3:.2f} ms)")
    worst = max(max(errors), 1 / min(errors))
    print(f"worst factor {worst:.2f}x; all within 2x: {all(0.5 <= e <= 2 for e in errors)}")


if __name__ == "__main__":
    main()
