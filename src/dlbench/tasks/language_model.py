"""Language modelling: next-token cross-entropy, perplexity and bits per character.

Rows of a split hold token ids (data/corpus.py). Training rows are 2 * context + 1 wide: every step takes
`context + 1` tokens at a random offset inside each row (a window starting anywhere in the text). Evaluation
rows are `context + 1` wide and score every token after the first; <pad> is never a target.

Metrics, all from one sum of negative log-likelihoods (nats) over the scored tokens:
  loss            nats per token (what training minimises)
  perplexity      exp(loss)
  bits_per_token  loss / ln 2
  bits_per_char   total bits / characters those tokens spell (spec.extras["token_chars"]), so a character
                  model and a subword model of the same text are compared on one scale (as enwik8/text8 are)
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from dlbench.data.loaders import eval_batches
from dlbench.data.tokenize import tokenizer_from_json
from dlbench.errors import UserError
from dlbench.tasks.errors import input_name, worst

SAMPLE_PROMPTS = 3
"""Generated samples in the final evaluation: from the first characters of this many validation windows."""


def random_windows(x: torch.Tensor, width: int) -> torch.Tensor:
    """[B, W] rows -> [B, width] windows, each at a uniformly random offset in its row."""
    if x.shape[1] <= width:
        return x
    off = torch.randint(0, x.shape[1] - width + 1, (x.shape[0], 1), device=x.device)
    return x.gather(1, off + torch.arange(width, device=x.device))


class LanguageModelTask:
    name = "language_model"
    metrics = {"loss": "min", "perplexity": "min", "bits_per_token": "min", "bits_per_char": "min"}
    metric = "val.bits_per_char"
    """The metric that selects the best checkpoint when early stopping names none."""

    def __init__(self, spec, label_smoothing: float = 0.0):
        self.spec, self.label_smoothing = spec, label_smoothing
        e = spec.extras
        self.context, self.pad = int(e["context"]), int(e["pad_id"])
        self.chars = torch.tensor(e["token_chars"], dtype=torch.float64)
        self._tok = None

    @property
    def tokenizer(self):
        if self._tok is None:
            self._tok = tokenizer_from_json(self.spec.extras["tokenizer"])
        return self._tok

    def loss(self, model, x, y=None):
        w = random_windows(x, self.context + 1)
        logits = model(w[:, :-1])
        return F.cross_entropy(logits.flatten(0, 1), w[:, 1:].flatten(), ignore_index=self.pad,
                               label_smoothing=self.label_smoothing)

    @torch.no_grad()
    def window_scores(self, model, split, batch_size, device, autocast=None):
        """Per row: (nats, tokens, characters) of its scored tokens (the first context + 1 of the row)."""
        was_training = model.training
        model.eval()
        nats, toks, chars = [], [], []
        table = self.chars.to(device)
        for xb, _ in eval_batches(split, batch_size, device):
            xb = xb[:, :self.context + 1]
            tgt = xb[:, 1:]
            if autocast:
                with autocast():
                    logits = model(xb[:, :-1]).float()
            else:
                logits = model(xb[:, :-1]).float()
            nll = F.cross_entropy(logits.transpose(1, 2), tgt, ignore_index=self.pad, reduction="none")
            real = tgt != self.pad
            nats.append(nll.double().sum(1))
            toks.append(real.sum(1))
            chars.append((table[tgt] * real).sum(1))
        model.train(was_training)
        return torch.cat(nats).cpu(), torch.cat(toks).cpu(), torch.cat(chars).cpu()

    def evaluate(self, model, split, batch_size, device, detailed=False, num_workers=0, autocast=None) -> dict:
        nats, toks, chars = self.window_scores(model, split, min(batch_size, 64), device, autocast)
        total, n, c = float(nats.sum()), int(toks.sum()), float(chars.sum())
        loss = total / max(n, 1)
        out = {"loss": loss, "perplexity": math.exp(min(loss, 700)), "bits_per_token": loss / math.log(2),
               "bits_per_char": total / math.log(2) / max(c, 1.0)}
        if detailed:
            out.update(tokens=n, characters=int(c), samples=self.samples(model, split, device))
        return out

    def samples(self, model, split, device, n: int = SAMPLE_PROMPTS, chars: int = 200) -> list[dict]:
        """Continuations of fixed prompts (the first 40 characters of validation windows), temperature 0.8,
        seed 0: the report shows what the model writes."""
        from dlbench.tasks.generation import SamplingOptions, generate_text

        tok, out = self.tokenizer, []
        step = max(1, len(split) // n)
        for i in range(0, min(len(split), n * step), step):
            prompt = tok.decode(split.x[i, :self.context].tolist())[:40]
            if not prompt.strip() or tok.unknown(prompt):
                continue
            opts = SamplingOptions(max_new_tokens=chars, temperature=0.8, seed=0)
            was = model.training
            text = generate_text(model, tok, prompt, opts)["text"]
            model.train(was)
            out.append({"prompt": prompt, "generated": text})
        return out

    def errors(self, model, split, n: int, device, batch_size: int = 64) -> list[dict]:
        """The n windows the model predicts worst: highest bits per character first. Each: rank, input, text,
        bits_per_char."""
        nats, toks, chars = self.window_scores(model, split, batch_size, device)
        bpc = (nats / math.log(2) / chars.clamp_min(1)).numpy()
        out = []
        for rank, i in enumerate(worst(bpc, np.flatnonzero(toks.numpy() > 0), n, descending=True), 1):
            text = self.tokenizer.decode(split.x[i, :self.context + 1].tolist())
            out.append({"rank": rank, "input": input_name(split, i), "text": text, "bits_per_char": float(bpc[i])})
        return out

    def predict(self, model, x, device, beam=None):
        raise UserError("a language model continues prompts rather than predicting labels",
                        "use dlbench generate RUN --prompt TEXT (or --prompts FILE)")
