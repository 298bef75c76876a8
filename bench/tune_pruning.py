"""ASHA pruning versus none: the same 30-trial search on mnist1d-cnn, same space, same sampler seed.

    python bench/tune_pruning.py [--trials 30] [--steps 6000] [--min-resource 500] [--num-samples 12500]
                                 [--val-fraction 0.4] [--record]

Both searches run in this one process, one after the other, each in its own study (SQLite in a temporary
directory). The clocks (wall and CPU) cover the search only (trials), not the final test evaluation or the plots.
Target: the pruned search takes at most a third of the unpruned one's time, and its best validation
accuracy is within 0.5 points of the unpruned best.

The space is the shipped configs/spaces/mnist1d-cnn.yaml without its batch-size and skip-connection
parameters and with at most 3 conv layers of width <= 48: a fixed batch and plain stages keep the unpruned
baseline's length predictable and the whole bench near 15 minutes on 2 cores. One torch thread per trial
(tiny models run fastest that way on CPU).

Validation set: the stock MNIST-1D (5000 samples) leaves 800 validation samples at val_fraction 0.2, where
0.5 points is 4 samples and the standard error of one accuracy near 0.95 is 0.8 points, so "best of 30"
mostly measures luck. The bench generates 12500 samples (mnist1d's own 80/20 split, so 2500 test) and
keeps 40 % of the train part for validation: 4000 validation samples (standard error 0.35 points), 6000
for training. MNIST-1D is generated once per process (build_mnist1d caches make_dataset), so a pruned
trial pays only its training steps.

Time is reported both as wall time and as this process's CPU time; on a shared machine the CPU-time ratio
is the one that other jobs' load does not move, and the verdict uses it (the wall ratio is printed beside it).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import yaml


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--steps", type=int, default=6000, help="training steps of a trial that is never pruned")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-resource", type=int, default=500,
                    help="ASHA's first rung in steps (the shipped space's default is the first evaluation, 250)")
    ap.add_argument("--num-samples", type=int, default=12500, help="MNIST-1D samples generated (data.num_samples)")
    ap.add_argument("--val-fraction", type=float, default=0.4, help="validation share of the train part")
    ap.add_argument("--record", action="store_true", help="append the result to bench/RESULTS.md")
    args = ap.parse_args()

    from dlbench.tune.runner import run_study
    from dlbench.tune.space import SHIPPED_SPACES
    from dlbench.tune.study import TuneSpec

    space = yaml.safe_load((SHIPPED_SPACES / "mnist1d-cnn.yaml").read_text())
    space["params"].pop("train.batch_size")
    space["params"].pop("model.stages.*.residual")
    space["pruner"]["min_resource"] = args.min_resource
    space["params"]["model.stages"].update({"depth": {"low": 2, "high": 3}, "width": {"low": 16, "high": 48, "step": 16}})
    space["overrides"].update({"train.steps": args.steps, "train.eval_every": 250, "train.batch_size": 100,
                               "train.threads": 1, "data.val_fraction": args.val_fraction,
                               "data.num_samples": args.num_samples})
    rows, load0 = [], os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="dlbench-tune-bench-") as tmp:
        space_path = Path(tmp) / "space.yaml"
        space_path.write_text(yaml.safe_dump(space, sort_keys=False))
        for pruner in ("none", "asha"):
            spec = TuneSpec(config="mnist1d-cnn", space=str(space_path), trials=args.trials, study=f"bench-{pruner}",
                            studies_dir=tmp, pruner=pruner, seed=args.seed)
            t0 = time.perf_counter()
            res = run_study(spec)
            cpu = res["cpu_s"]
            import optuna

            study = optuna.load_study(study_name=spec.study, storage=spec.storage_url)
            steps = sum(t.user_attrs.get("dlbench.steps", 0) for t in study.trials)
            rows.append({"pruner": pruner, "search_s": res["elapsed_s"], "cpu_s": cpu, "total_s": time.perf_counter() - t0,
                         "best": res["best"]["value"], "test": res["final"]["test"]["accuracy"],
                         "complete": res["counts"].get("COMPLETE", 0), "pruned": res["counts"].get("PRUNED", 0),
                         "steps": steps})
            print(f"{pruner:>5}: search {rows[-1]['search_s']:.0f}s wall, {cpu:.0f}s CPU, best val.accuracy {rows[-1]['best']:.4f}, "
                  f"{rows[-1]['complete']} complete / {rows[-1]['pruned']} pruned, {steps} steps trained", flush=True)
    none, asha = rows
    wall_ratio = asha["search_s"] / none["search_s"]
    ratio = asha["cpu_s"] / none["cpu_s"]
    gap = 100 * (none["best"] - asha["best"])
    ok = ratio <= 1 / 3 and gap <= 0.5
    load1 = os.getloadavg()
    lines = ["| pruner | search wall time | search CPU time | best val.accuracy | test.accuracy (once) "
             "| complete / pruned | steps trained |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['pruner']} | {r['search_s']:.0f} s | {r['cpu_s']:.0f} s | {r['best']:.4f} | {r['test']:.4f} | {r['complete']} / {r['pruned']} "
              f"| {r['steps']} |" for r in rows]
    verdict = (f"ASHA / none: CPU time x{ratio:.2f} (target <= 0.33; wall x{wall_ratio:.2f}), best val.accuracy {-gap:+.2f} points "
               f"(target within 0.5): {'PASS' if ok else 'FAIL'}")
    print("\n".join(lines) + "\n" + verdict)
    if args.record:
        machine = f"{platform.node()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
        text = (f"\n## tune: ASHA vs no pruning ({time.strftime('%Y-%m-%d')})\n\n"
                f"`python bench/tune_pruning.py --trials {args.trials} --steps {args.steps} --min-resource {args.min_resource}"
                f" --seed {args.seed} --num-samples {args.num_samples} --val-fraction {args.val_fraction}` on {machine}; load average {load0[0]:.1f} at start, {load1[0]:.1f} at end "
                f"(shared machine).\n{args.trials} trials each, TPE seed {args.seed}, space configs/spaces/mnist1d-cnn.yaml "
                f"without batch size and skip connections, depth <= 3, width <= 48, {args.steps} steps per full trial, ASHA reduction factor 3 from step {args.min_resource}.\n\n"
                + "\n".join(lines) + f"\n\n{verdict}\n")
        path = Path(__file__).resolve().parent / "RESULTS.md"
        with open(path, "a") as f:
            f.write(text if path.exists() and path.stat().st_size else "# Benchmark results\n" + text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
