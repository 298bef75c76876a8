"""`dlbench generate RUN`: new samples from a generative run (a GAN) or text from a language model, through
its recipe.

    dlbench generate runs/g1 --n 64 --label 7 --output sevens.png
    dlbench generate runs/tab --n 500 --output rows.csv
    dlbench generate runs/lm --prompt "def main(" --max-new-tokens 200 --temperature 0.8 --top-k 40 --seed 1
    dlbench generate runs/lm --prompts prompts.txt --output continuations.jsonl
"""
from __future__ import annotations

from typing import List, Optional

import typer

from dlbench.cli.console import err


def generate(
        run_dir: str = typer.Argument(..., help="A finished run: a GAN, or a language model (a corpus run)"),
        n: Optional[int] = typer.Option(None, "--n", help="How many samples (GAN, default 64); per prompt (language "
                                        "model, default 1, seeds seed, seed+1, ...)"),
        label: Optional[str] = typer.Option(None, "--label", help="GAN: class name or index (conditional GANs); "
                                            "default: every class in turn"),
        seed: Optional[int] = typer.Option(None, "--seed", help="Seed: the same seed gives the same samples "
                                           "(default 0)"),
        output: Optional[str] = typer.Option(None, "--output", help="GAN: .png (a grid), .npz or .csv (required). "
                                             "Language model: .jsonl or .txt (default: print the texts)"),
        prompt: Optional[str] = typer.Option(None, "--prompt", help="Language model: the text to continue "
                                             "(\\n for a line break)"),
        prompts: Optional[str] = typer.Option(None, "--prompts", help="Language model: a UTF-8 file of prompts, "
                                              "one per line ('-' for stdin)"),
        max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", help="Language model: most tokens "
                                                     "generated per prompt (default 200)"),
        temperature: Optional[float] = typer.Option(None, "--temperature", help="Language model: below 1 sharper, "
                                                    "above 1 more varied; 0 is greedy (default 1)"),
        top_k: Optional[int] = typer.Option(None, "--top-k", help="Language model: sample among the k most likely "
                                            "tokens"),
        top_p: Optional[float] = typer.Option(None, "--top-p", help="Language model: nucleus sampling, the fewest "
                                              "tokens whose probabilities reach p"),
        stop: Optional[List[str]] = typer.Option(None, "--stop", help="Language model: a string that ends the text "
                                                 "(repeatable)"),
        greedy: bool = typer.Option(False, "--greedy", help="Language model: always the most likely token"),
        no_cache: bool = typer.Option(False, "--no-cache", help="Language model: recompute every position at every "
                                      "step (slower; the same tokens)"),
        device: Optional[str] = typer.Option(None, "--device")):
    """Generate with a trained model: GAN samples (a PNG grid, an .npz of arrays, a CSV of rows) or text that
    continues prompts (language models)."""
    from dlbench.run.load import load_run  # torch loads only when the command runs

    options = dict(n=n, label=label, seed=seed, output=output, prompt=prompt, prompts=prompts,
                   max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                   stop=stop or None, greedy=greedy or None, no_cache=no_cache or None)
    loaded = load_run(run_dir, device)
    res = loaded.recipe.generate(loaded, **{k: v for k, v in options.items() if v is not None})
    if "records" in res and res["path"] is None:
        for i, r in enumerate(res["records"]):
            typer.echo(("\n" if i else "") + r["prompt"] + r["text"])
        return
    err.print(f"wrote {res['count']} samples to {res['path']}", highlight=False)
