"""Text generation from a causal language model (`models.causal_lm` interface): sampling options, the decoding
loop with or without the key/value cache, stop strings and streaming.

Sampling (the order of Hugging Face's logits processors): temperature, then top-k, then top-p (nucleus) on the
next-token distribution; temperature 0 (or `greedy`) takes the most likely token. <pad>, <bos>, <eos> and <unk>
are never produced (a corpus joins its documents with a blank line, so no special token is ever a target). A seed makes sampling reproducible: every prompt gets its own generator
seeded with it, so a prompt's continuation does not depend on the other prompts of a batch.

A model with a bounded number of positions (the Transformer) sees at most its last `positions` tokens: when the
text outgrows them, the oldest are dropped down to half the window and the cache is rebuilt from the rest (one
prefill every positions / 2 tokens). Generation without the cache follows the same rule, so both give the same
tokens (greedy) and the cache only saves time.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dlbench.data.tokenize import BOS, EOS, PAD, UNK
from dlbench.errors import UserError

MAX_NEW_TOKENS = 4096
"""The most tokens one request may ask for (`max_new_tokens`)."""
MAX_PROMPT_CHARS = 20_000
"""The longest prompt accepted, in characters."""


class SamplingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_new_tokens: int = Field(200, ge=1, le=MAX_NEW_TOKENS)
    """Most tokens generated after the prompt."""
    temperature: float = Field(1.0, ge=0, le=100, allow_inf_nan=False)
    """Divides the logits: below 1 sharper, above 1 flatter; 0 is greedy."""
    top_k: int | None = Field(None, ge=1)
    """Sample among the k most likely tokens only."""
    top_p: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    """Sample among the fewest most likely tokens whose probabilities sum to at least p."""
    seed: int = Field(0, ge=0, lt=2**63)
    """Same seed, same prompt, same options: the same text."""
    stop: list[str] = Field(default_factory=list, max_length=16)
    """Strings that end the text (not included in it)."""
    greedy: bool = False
    """The most likely token at every step (same as temperature 0)."""

    @field_validator("stop", mode="before")
    @classmethod
    def _one_or_many(cls, v):
        if isinstance(v, str):
            return [v]
        return v

    @field_validator("stop")
    @classmethod
    def _non_empty(cls, v):
        if any(not s for s in v):
            raise ValueError("stop strings must not be empty")
        return v

    @classmethod
    def parse(cls, **options) -> "SamplingOptions":
        """Options by name (None: the default); any bad value is one UserError line naming it."""
        try:
            return cls(**{k: v for k, v in options.items() if v is not None})
        except ValidationError as e:
            err = e.errors()[0]
            name = ".".join(str(x) for x in err.get("loc", ())) or "options"
            if err.get("type") == "extra_forbidden":
                raise UserError(f"unknown generation option '{name}'",
                                f"use {', '.join(cls.model_fields)}") from None
            raise UserError(f"{name} {err.get('input')!r}: {err['msg'][:1].lower() + err['msg'][1:]}",
                            "see dlbench generate --help for the ranges") from None

    @property
    def is_greedy(self) -> bool:
        return self.greedy or self.temperature == 0


def encode_prompt(tok, prompt: str) -> list[int]:
    """Token ids of a prompt; characters the model never saw are refused, naming them."""
    if len(prompt) > MAX_PROMPT_CHARS:
        raise UserError(f"the prompt has {len(prompt)} characters; at most {MAX_PROMPT_CHARS} are accepted",
                        "give a shorter prompt (the model sees only its last context tokens anyway)")
    unknown = tok.unknown(prompt)
    if unknown:
        shown = ", ".join(repr(u) for u in list(dict.fromkeys(unknown))[:8])
        raise UserError(f"the prompt has {len(unknown)} character(s) outside the model's vocabulary ({shown})",
                        "remove or replace them: the model never saw them in training")
    ids = tok.encode(prompt)
    if not ids:  # an empty prompt starts at a line break, as a new paragraph would
        ids = tok.encode("\n")
        if not ids or UNK in ids:
            raise UserError("the prompt is empty and the model's vocabulary has no line break to start from",
                            "give a prompt")
    return ids


def pick(logits: torch.Tensor, opts: SamplingOptions, gen: torch.Generator | None) -> int:
    """The next token from [V] logits."""
    logits = logits.float().clone()
    logits[[PAD, BOS, EOS, UNK]] = -math.inf  # documents are joined by a blank line: <eos> is never a target
    if opts.is_greedy:
        return int(logits.argmax())
    logits = logits / opts.temperature
    if opts.top_k is not None and opts.top_k < logits.numel():
        kth = torch.topk(logits, opts.top_k).values[-1]
        logits[logits < kth] = -math.inf
    if opts.top_p is not None and opts.top_p < 1:
        probs, order = logits.softmax(-1).sort(descending=True)
        drop = probs.cumsum(-1) - probs >= opts.top_p      # tokens entirely beyond the nucleus (the first always stays)
        logits[order[drop]] = -math.inf
    return int(torch.multinomial(logits.softmax(-1), 1, generator=gen))


@torch.no_grad()
def generate_ids(model, prompt: list[int], opts: SamplingOptions, *, use_cache: bool = True,
                 on_token: Callable[[int], bool] | None = None) -> tuple[list[int], str]:
    """New token ids after `prompt`, and why generation ended ("length", or "stop" when `on_token` returned True). `on_token(id)` is called after every token."""
    model.eval()
    device = next(model.parameters()).device
    P = model.positions
    ids = list(prompt)
    start = max(0, len(ids) - P) if P else 0
    gen = None if opts.is_greedy else torch.Generator(device=device).manual_seed(opts.seed)
    window = lambda: torch.tensor([ids[start:]], device=device)  # noqa: E731

    logits, state = model.prefill(window()) if use_cache else (model(window())[:, -1], None)
    new, reason = [], "length"
    for _ in range(opts.max_new_tokens):
        t = pick(logits[0], opts, gen)
        ids.append(t)
        new.append(t)
        if on_token is not None and on_token(t):
            reason = "stop"
            break
        if P and len(ids) - start > P:                       # the window is full: keep its newer half
            start = len(ids) - P // 2
            if use_cache:
                logits, state = model.prefill(window())
                continue
        if use_cache:
            logits, state = model.step(torch.tensor([t], device=device), state)
        else:
            logits = model(window())[:, -1]
    return new, reason


class TextStream:
    """Decodes new tokens into text, cuts it at the first stop string, and hands out only text that can no
    longer turn into a stop string (`emit`)."""

    def __init__(self, tok, stop: list[str], emit: Callable[[str], None] | None = None):
        self.tok, self.stop, self.emit = tok, stop, emit
        self.ids: list[int] = []
        self.text, self.sent = "", 0
        self.hold = max((len(s) for s in stop), default=1) - 1

    def add(self, token: int) -> bool:
        """True when a stop string has appeared (the text is then cut before it)."""
        self.ids.append(token)
        self.text = self.tok.decode(self.ids)
        hit = min((i for i in (self.text.find(s) for s in self.stop) if i >= 0), default=-1)
        if hit >= 0:
            self.text = self.text[:hit]
            self.flush()
            return True
        self._send(len(self.text) - self.hold)
        return False

    def _send(self, upto: int) -> None:
        if self.emit is not None and upto > self.sent:
            self.emit(self.text[self.sent:upto])
            self.sent = upto

    def flush(self) -> None:
        self._send(len(self.text))


def generate_text(model, tok, prompt: str, opts: SamplingOptions, *, use_cache: bool = True,
                  emit: Callable[[str], None] | None = None) -> dict:
    """{"text": the continuation, "tokens": how many were generated, "finish_reason": length | stop}."""
    stream = TextStream(tok, opts.stop, emit)
    new, reason = generate_ids(model, encode_prompt(tok, prompt), opts, use_cache=use_cache, on_token=stream.add)
    stream.flush()
    return {"text": stream.text, "tokens": len(new), "finish_reason": reason}
