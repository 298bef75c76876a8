"""What the language-model head of a family needs beyond building it: `dlbench generate`, the server predictor
(text in, text out) and the corpus recommendation. The transformer and rnn recipes delegate here when their
data is a corpus (`spec.task == "language_model"`).

    dlbench generate runs/lm --prompt "def main(" --max-new-tokens 200 --temperature 0.8 --top-k 40 --seed 1
    dlbench generate runs/lm --prompts prompts.txt --output out.jsonl
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dlbench.codecs.base import TensorSpec, text_of
from dlbench.errors import UserError

GAN_ONLY = ("label",)
"""generate options that a language model refuses."""


def is_lm(spec) -> bool:
    return spec.task == "language_model"


def _prompts(prompt: str | None, prompts: str | None) -> list[str]:
    from dlbench.data.tokenize import read_text_lines

    if prompt is not None and prompts is not None:
        raise UserError("give --prompt or --prompts, not both")
    if prompts is not None:
        return [line.replace("\\n", "\n") for line in read_text_lines(prompts)]
    return [(prompt or "").replace("\\n", "\n")]


def generate(loaded, *, prompt: str | None = None, prompts: str | None = None, n: int | None = None,
             output: str | None = None, no_cache: bool = False, **options) -> dict:
    """Continue each prompt (n samples each, seeds seed, seed+1, ...); write JSON lines to `output` (.jsonl)
    or a text file (.txt), else return the texts for the console."""
    from dlbench.tasks.generation import SamplingOptions, generate_text

    for k in GAN_ONLY:
        if options.pop(k, None) is not None:
            raise UserError(f"--{k} applies to GAN runs; a language model continues prompts",
                            "give --prompt TEXT or --prompts FILE")
    n = 1 if n is None else n
    if not 1 <= n <= 1000:
        raise UserError(f"--n {n}: give from 1 to 1000 samples per prompt")
    path = None
    if output is not None:
        path = Path(output)
        if path.suffix not in (".jsonl", ".txt"):
            raise UserError(f"--output {output}: a language model writes .jsonl (one JSON object per text) or .txt")
        if path.exists():
            raise UserError(f"--output {output} already exists", "choose a new file name (nothing is overwritten)")
        if not path.parent.is_dir():
            raise UserError(f"--output {output}: folder {path.parent} does not exist")
    opts = SamplingOptions.parse(**options)
    tok = loaded.task.tokenizer
    records = []
    for p in _prompts(prompt, prompts):
        for j in range(n):
            o = opts.model_copy(update={"seed": opts.seed + j})
            out = generate_text(loaded.model, tok, p, o, use_cache=not no_cache)
            records.append({"prompt": p, "seed": o.seed, **out})
    if path is not None:
        if path.suffix == ".jsonl":
            body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        else:
            body = "".join(r["prompt"] + r["text"] + "\n\n" for r in records)
        with open(path, "x", encoding="utf-8") as f:
            f.write(body)
    return {"path": str(path) if path else None, "count": len(records), "records": records}


class LMPredictor:
    """Serving a language model: `text_input` BYTES [-1] prompts in, `text_output` BYTES [-1] continuations and
    `finish_reason` BYTES [-1] out; sampling options are request parameters (max_new_tokens or max_tokens,
    temperature, top_k, top_p, seed, stop, greedy). One request at a time runs the model (its prompts in turn).
    `_emit` (set by the server's streaming route, never by a client) receives text as it is generated."""
    platform = "pytorch"
    batchable = False
    ALIASES = {"max_tokens": "max_new_tokens"}

    def __init__(self, run, name: str, version: str):
        self.run, self.name, self.version = run, name, version

    def inputs(self) -> list[TensorSpec]:
        return [TensorSpec("text_input", "BYTES", (-1,))]

    def outputs(self) -> list[TensorSpec]:
        return [TensorSpec("text_output", "BYTES", (-1,)), TensorSpec("finish_reason", "BYTES", (-1,))]

    def options(self, parameters: dict):
        from dlbench.tasks.generation import SamplingOptions

        given = {self.ALIASES.get(k, k): v for k, v in parameters.items() if not k.startswith("_")}
        return SamplingOptions.parse(**given)

    def prompts(self, inputs: dict) -> list[str]:
        from dlbench.tasks.generation import encode_prompt

        texts = [text_of(v) for v in np.asarray(inputs["text_input"]).reshape(-1)]
        if not texts:
            raise UserError("text_input holds no prompt")
        for t in texts:
            encode_prompt(self.run.task.tokenizer, t)  # the prompt limit and unknown characters, before any work
        return texts

    def predict(self, inputs: dict[str, np.ndarray], parameters: dict) -> dict[str, np.ndarray]:
        from dlbench.tasks.generation import generate_text

        opts, texts = self.options(parameters), self.prompts(inputs)
        emit = parameters.get("_emit") if callable(parameters.get("_emit")) else None  # set by the server only
        outs = [generate_text(self.run.model, self.run.task.tokenizer, t, opts, emit=emit) for t in texts]
        return {"text_output": np.array([o["text"] for o in outs], dtype=object),
                "finish_reason": np.array([o["finish_reason"] for o in outs], dtype=object)}


# --- recommend ----------------------------------------------------------------------------------

def starter_data(profile) -> dict:
    """The corpus data section: characters for small corpora, SentencePiece subwords beyond ~5 MB (`profile.n`
    counts windows of 128 characters)."""
    big = profile.n * 128 > 5_000_000
    return {"context": 256 if big else 128,
            "tokenizer": {"type": "sentencepiece", "vocab_size": 8000} if big else {"type": "char"}}


def check_predicts(loaded) -> None:
    if is_lm(loaded.spec):
        raise UserError(f"{loaded.path} is a language model: it continues prompts rather than predicting from inputs",
                        "use dlbench generate RUN --prompt TEXT (or --prompts FILE); serve it for text in, text out")


class LanguageModelHead:
    """Mixed into the recipes of the families that build a language model on a corpus (rnn, transformer): their
    runs refuse predict, serve text in / text out, and generate by continuing prompts; other heads fall through."""

    def check_predicts(self, loaded):
        check_predicts(loaded)

    def predictor(self, loaded, name, version):
        return LMPredictor(loaded, name, version) if is_lm(loaded.spec) else super().predictor(loaded, name, version)

    def generate(self, loaded, **options):
        return generate(loaded, **options) if is_lm(loaded.spec) else super().generate(loaded, **options)
