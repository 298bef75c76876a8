"""Language modelling on Python's own reference topics (`pydoc_data.topics`, ~0.46 MB of English technical text).

Trains a shipped config (or reads a finished run), then measures on the SAME block split:
  - bits per character of the model on the validation and test blocks (from result.json: the run's own
    evaluation, test opened once);
  - a smoothed character 5-gram baseline: interpolated Kneser-Ney (Chen & Goodman 1998, one discount per order
    from the count-of-counts, D = n1 / (n1 + 2 n2)), fitted on the training blocks, scoring the same characters
    (every held-out character after the first of its block);
  - 200 characters sampled at temperature 0.8 from three prompts: the longest run of one repeated token
    (degenerate text repeats; target <= 10);
  - greedy generation of 200 tokens with and without the key/value cache: identical tokens, and the time per
    token of each (median of 3, interleaved), side by side.

    nice -n 10 .venv/bin/python bench/lm_pydoc.py --config pydoc-char-transformer --run-dir runs/bench-lm-tf
    .venv/bin/python bench/lm_pydoc.py --run runs/bench-lm-tf        # measure a finished run only
"""
from __future__ import annotations

import argparse
import collections
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path


class KneserNey:
    """Interpolated Kneser-Ney over characters. Highest order: counts c(h w); lower orders: continuation counts
    N1+(. h w) (how many distinct characters precede h w); the unigram level interpolates with a uniform
    distribution over the training characters plus one unknown."""

    def __init__(self, text: str, order: int = 5):
        self.n = order
        raw = [collections.Counter() for _ in range(order + 1)]        # raw[k][g]: count of k-gram g
        for k in range(1, order + 1):
            raw[k].update(text[i:i + k] for i in range(len(text) - k + 1))
        cont = [collections.Counter() for _ in range(order + 1)]       # cont[k][g]: N1+(. g), k < order
        for k in range(1, order):
            cont[k].update(g[1:] for g in raw[k + 1])
        self.counts = {k: raw[k] for k in range(order + 1)}
        self.cont = cont
        self.vocab = len(raw[1]) + 1
        self.D = {}
        self.ctx_total = {}   # (k, top) -> {h: sum_w count(h w)}
        self.ctx_types = {}   # k -> {h: number of distinct w}
        for k in range(1, order + 1):
            for top in (True, False):
                table = raw[k] if top else cont[k]
                cc = collections.Counter(v for v in table.values() if v <= 2)
                self.D[k, top] = cc[1] / (cc[1] + 2 * cc[2]) if cc[1] else 0.5
                tot = collections.Counter()
                for g, v in table.items():
                    tot[g[:-1]] += v
                self.ctx_total[k, top] = tot
            types = collections.Counter(g[:-1] for g in raw[k])
            self.ctx_types[k] = types

    def prob(self, history: str, w: str) -> float:
        h = history[-(self.n - 1):] if self.n > 1 else ""
        return self._p(h, w, top=True)

    def _p(self, h: str, w: str, top: bool) -> float:
        k = len(h) + 1
        table = self.counts[k] if top else self.cont[k]
        total = self.ctx_total[k, top].get(h, 0)
        if k == 1:
            lower = 1.0 / self.vocab
        else:
            lower = self._p(h[1:], w, top=False)
        if total == 0:
            return lower
        D = self.D[k, top]
        return max(table.get(h + w, 0) - D, 0) / total + D * self.ctx_types[k].get(h, 0) / total * lower

    def bits(self, block: str) -> tuple[float, int]:
        """(bits, characters) over every character of a block after its first."""
        total = 0.0
        for i in range(1, len(block)):
            total -= math.log2(self.prob(block[max(0, i - self.n + 1):i], block[i]))
        return total, len(block) - 1


def split_texts(cfg) -> dict[str, list[str]]:
    """The run's training/validation/test blocks as text (the corpus data kind's own functions)."""
    from dlbench.data.corpus import SEPARATOR, assign_blocks, block_bounds, read_documents

    docs = [d for d in read_documents(cfg) if d.strip()]
    text = SEPARATOR.join(d.strip("\n") for d in docs)
    bounds = block_bounds(text, cfg.blocks)
    parts = assign_blocks(len(bounds), cfg.val_fraction, cfg.test_fraction, cfg.seed)
    return {s: [text[a:b] for a, b in (bounds[i] for i in idx)] for s, idx in parts.items()}


def longest_run(ids: list[int]) -> int:
    best = run = 0
    for i, t in enumerate(ids):
        run = run + 1 if i and t == ids[i - 1] else 1
        best = max(best, run)
    return best


def cache_timing(loaded, prompt: str, tokens: int = 200, repeats: int = 3) -> dict:
    import torch

    from dlbench.tasks.generation import SamplingOptions, encode_prompt, generate_ids

    tok = loaded.task.tokenizer
    ids = encode_prompt(tok, prompt)
    opts = SamplingOptions(max_new_tokens=tokens, greedy=True)
    out, times = {}, {True: [], False: []}
    generate_ids(loaded.model, ids, opts.model_copy(update={"max_new_tokens": 5}))   # warm-up
    for _ in range(repeats):
        for cache in (True, False):
            t0 = time.perf_counter()
            new, _ = generate_ids(loaded.model, ids, opts, use_cache=cache)
            times[cache].append((time.perf_counter() - t0) / max(len(new), 1))
            out[cache] = new
    with_cache, without = statistics.median(times[True]), statistics.median(times[False])
    return {"identical": out[True] == out[False], "tokens": len(out[True]), "ms_per_token_cache": 1000 * with_cache,
            "ms_per_token_no_cache": 1000 * without, "speedup": without / with_cache,
            "threads": torch.get_num_threads()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="pydoc-char-transformer", help="a shipped config name or a YAML path")
    ap.add_argument("--run-dir", default=None, help="where to train (a new directory)")
    ap.add_argument("--run", default=None, help="measure this finished run instead of training")
    ap.add_argument("--override", "-o", action="append", default=[], help="config override a.b=v")
    ap.add_argument("--json", default=None, help="also write the measurements here")
    args = ap.parse_args()

    import dlbench
    from dlbench.run.load import load_run
    from dlbench.tasks.generation import SamplingOptions, encode_prompt, generate_ids

    run = args.run
    if run is None:
        run = args.run_dir or f"runs/bench-{Path(args.config).stem}-{int(time.time())}"
        dlbench.train(args.config, run_dir=run, overrides=args.override)
    result = json.loads((Path(run) / "result.json").read_text())
    loaded = load_run(run)
    cfg = loaded.config.data

    t0 = time.perf_counter()
    texts = split_texts(cfg)
    kn = KneserNey("".join(texts["train"]), order=5)
    baseline = {}
    for s in ("val", "test"):
        bits, chars = map(sum, zip(*(kn.bits(b) for b in texts[s])))
        baseline[s] = bits / chars
    kn_seconds = time.perf_counter() - t0

    tok = loaded.task.tokenizer
    samples = []
    for p in ("The ", "A class ", "def "):
        new, _ = generate_ids(loaded.model, encode_prompt(tok, p), SamplingOptions(max_new_tokens=200,
                                                                                      temperature=0.8, seed=0))
        text = tok.decode(new)
        samples.append({"prompt": p, "text": text, "longest_run": longest_run(new),
                        "longest_run_not_space": longest_run([c if c.strip() else f"{k}" for k, c in
                                                              enumerate(text)])})
    timing = cache_timing(loaded, "The ")

    out = {
        "run": str(run), "config": args.config, "family": result["model"],
        "parameters": json.loads((Path(run) / "model.json").read_text()).get("parameters"),
        "train_seconds": result["timing"]["train_seconds"], "steps": result["training"]["steps"],
        "val_bpc": result["val"]["bits_per_char"], "test_bpc": (result.get("test") or {}).get("bits_per_char"),
        "kn5_val_bpc": baseline["val"], "kn5_test_bpc": baseline["test"], "kn5_seconds": kn_seconds,
        "samples": samples, "max_run": max(s["longest_run"] for s in samples),
        "max_run_not_space": max(s["longest_run_not_space"] for s in samples),
        "corpus_longest_run": longest_run(list("".join(texts["train"]))),
        "corpus_longest_run_not_space": longest_run([c if c.strip() else i for i, c in
                                                     enumerate("".join(texts["train"]))]), "kv_cache": timing,
        "load": os.getloadavg(), "cpus": os.cpu_count(),
    }
    print(f"model {out['family']} ({out['parameters']:,} parameters), {out['steps']} steps in "
          f"{out['train_seconds'] / 60:.1f} min")
    print(f"{'split':<6}{'model bits/char':>17}{'KN 5-gram bits/char':>22}")
    for s in ("val", "test"):
        print(f"{s:<6}{out[s + '_bpc'] or float('nan'):>17.3f}{out['kn5_' + s + '_bpc']:>22.3f}")
    for s in samples:
        print(f"--- T=0.8 from {s['prompt']!r} (longest repeat {s['longest_run']}):\n{s['prompt']}{s['text']}")
    print(f"longest run of one repeated token in the samples: {out['max_run']} ({out['max_run_not_space']} not "
          f"counting whitespace); in the training text itself: {out['corpus_longest_run']} "
          f"({out['corpus_longest_run_not_space']} not counting whitespace: table borders)")
    t = timing
    print(f"greedy 200 tokens: identical with/without cache: {t['identical']}; {t['ms_per_token_cache']:.2f} ms/token "
          f"with the cache, {t['ms_per_token_no_cache']:.2f} without: {t['speedup']:.2f}x")
    print(f"load average {out['load'][0]:.1f} on {out['cpus']} cores")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    ok = (out["test_bpc"] or 99) <= 2.0 and out["test_bpc"] < out["kn5_test_bpc"] and out["max_run"] <= 10 \
        and t["identical"] and t["speedup"] > 1
    print("targets (test <= 2.0 bits/char, beats KN 5-gram, no run > 10, cache identical and faster):",
          "PASS" if ok else "FAIL")
    return 0


if __name__ == "__main__":
    sys.exit(main())
