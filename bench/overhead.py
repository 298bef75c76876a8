"""dlbench's training loop vs a hand-written PyTorch loop on the same data, in one process.

    .venv/bin/python bench/overhead.py [--steps 2000] [--repeats 3] [--threads N]

Both train the mnist1d-cnn reference model (batch 100) from the same initial weights on the same
device-resident data with AdamW, and evaluate once on validation at the end. dlbench also logs
every 50 steps, writes its checkpoint and metrics.jsonl; the hand loop does none of that. The runs
are interleaved (hand, dlbench, hand, ...) so machine noise hits both; the ratio of the medians is
printed. Target: dlbench within 5 % of the hand loop on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

from dlbench.api import prepare
from dlbench.recipes.registry import get_recipe
from dlbench.run import RunDir
from dlbench.schema import load_config
from dlbench.training.loop import fit
from dlbench.training.supervised import selection


def hand_loop(model, x, y, xv, yv, steps, batch, lr):
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(0)
    n = len(x)
    perm, i = torch.randperm(n, generator=g), 0
    t0 = time.perf_counter()
    for _ in range(steps):
        if i + batch > n:
            perm, i = torch.randperm(n, generator=g), 0
        idx = perm[i:i + batch]
        i += batch
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = (model(xv).argmax(1) == yv).float().mean().item()
    return time.perf_counter() - t0, acc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    over = [f"train.steps={args.steps}", "train.batch_size=100", f"train.eval_every={args.steps}",
            f"train.checkpoint_every={args.steps}", "train.log_every=50", "train.eval_train_samples=0",
            "train.keep_best=false", "optim.weight_decay=0.0"]
    cfg = load_config("mnist1d-cnn", over)
    bundle, model, task, device = prepare(cfg)
    init = {k: v.clone() for k, v in model.state_dict().items()}
    times = {"hand": [], "dlbench": []}
    cpu = {"hand": [], "dlbench": []}  # CPU seconds of this process: far less sensitive to other jobs' load
    accs = {"hand": [], "dlbench": []}
    for r in range(args.repeats):
        model.load_state_dict(init)
        c0 = time.process_time()
        t, acc = hand_loop(model, bundle.train.x, bundle.train.y, bundle.val.x, bundle.val.y, args.steps, 100,
                           cfg.optim.lr)
        times["hand"].append(t)
        cpu["hand"].append(time.process_time() - c0)
        accs["hand"].append(acc)
        model.load_state_dict(init)
        with tempfile.TemporaryDirectory() as d:
            t0, c0 = time.perf_counter(), time.process_time()
            recipe = get_recipe(cfg.model.name)  # the loop's own step: optimizer, scheduler, clipping, autocast
            step = recipe.train_step(cfg, model, task, device, args.steps)
            res = fit(cfg, model, task, bundle, RunDir(d), device, step,
                      selection=selection(recipe, cfg, bundle.spec.task))
            times["dlbench"].append(time.perf_counter() - t0)
            cpu["dlbench"].append(time.process_time() - c0)
            accs["dlbench"].append(res.evals[-1]["val.accuracy"])
        print(f"repeat {r + 1}: hand {times['hand'][-1]:.2f}s  dlbench {times['dlbench'][-1]:.2f}s", flush=True)
    h, d = statistics.median(times["hand"]), statistics.median(times["dlbench"])
    print(f"\n{'':10}{'hand loop':>12}{'dlbench':>12}")
    print(f"{'median s':10}{h:12.2f}{d:12.2f}")
    hc, dc = statistics.median(cpu["hand"]), statistics.median(cpu["dlbench"])
    print(f"{'median cpu':10}{hc:12.2f}{dc:12.2f}")
    print(f"{'val acc':10}{statistics.mean(accs['hand']):12.3f}{statistics.mean(accs['dlbench']):12.3f}")
    print(f"ratio dlbench / hand: wall {d / h:.3f}, cpu {dc / hc:.3f}  (target <= 1.05) threads={torch.get_num_threads()}")


if __name__ == "__main__":
    main()
