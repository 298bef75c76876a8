"""The generate extension (Triton's, which KServe's text models also speak) for language models:

    POST /v2/models/{m}[/versions/{v}]/generate          {"text_input": "def main(", "parameters": {...}}
        -> {"model_name", "model_version", "text_output", "finish_reason"}
    POST /v2/models/{m}[/versions/{v}]/generate_stream   same request
        -> text/event-stream: `data: {"model_name", "model_version", "text_output": <new text>}` per piece of
           text, then one event with "finish_reason"; an error after the stream began is an event {"error": ...}

As in Triton, JSON fields other than `id` and `parameters` name model inputs (`text_input`, a string or, for
/generate, a list of strings); sampling options (max_new_tokens or max_tokens, temperature, top_k, top_p, seed,
stop, greedy) go in `parameters` (top-level sampling fields are accepted too). Requests pass the same API keys,
body limits, metrics and the model's bounded queue as /infer (503 when full, 504 past the request timeout); a
prompt or max_new_tokens over the limit, or characters outside the vocabulary, get a 400 before any work.
"""
from __future__ import annotations

import asyncio
import json

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from dlbench.errors import UserError
from dlbench.serve.batching import Overloaded
from dlbench.serve.http_errors import ERROR_RESPONSES

router = APIRouter()
OPTIONS = {"max_new_tokens", "max_tokens", "temperature", "top_k", "top_p", "seed", "stop", "greedy"}


def check_limits(settings, params: dict, prompts) -> None:
    """This server's limits on a generate request (--max-new-tokens, --max-prompt-chars): UserError (400) over them.
    Also applied to text_input sent to a text generator over /infer (app.py)."""
    if settings is None:
        return
    n = params.get("max_new_tokens", params.get("max_tokens"))
    if isinstance(n, (int, float)) and not isinstance(n, bool) and n > settings.max_new_tokens:
        raise UserError(f"max_new_tokens {n} is over this server's limit of {settings.max_new_tokens}",
                        "ask for fewer tokens (the server's --max-new-tokens sets the limit)")
    for prompt in prompts:
        text = prompt.decode("utf-8", "replace") if isinstance(prompt, bytes) else str(prompt)
        if len(text) > settings.max_prompt_chars:
            raise UserError(f"a prompt of {len(text)} characters is over this server's limit of "
                            f"{settings.max_prompt_chars}", "shorten it (the server's --max-prompt-chars sets the limit)")


def _request(served, raw: bytes, settings=None) -> tuple[np.ndarray, dict, object, bool]:
    """(prompts as a BYTES array, parameters, request id, whether text_input was a list) from a generate
    request body; UserError if bad."""
    p = served.predictor
    if not any(s.name == "text_input" and s.datatype == "BYTES" for s in p.inputs()):
        raise UserError(f"model '{p.name}' does not generate text (it has no text_input)",
                        "the generate extension serves language models; use /infer")
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"the request body is not JSON ({e})") from None
    if not isinstance(body, dict):
        raise UserError('the request body must be a JSON object, e.g. {"text_input": "Once", "parameters": {}}')
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise UserError("'parameters' must be a JSON object")
    rid = body.get("id")
    extra = {k: v for k, v in body.items() if k not in ("id", "parameters", "text_input")}
    unknown = [k for k in extra if k not in OPTIONS and k != "stream"]
    if unknown:
        raise UserError(f"model '{p.name}' has no input '{unknown[0]}'",
                        f"give text_input and parameters ({', '.join(sorted(OPTIONS))})")
    params = {**{k: v for k, v in extra.items() if k in OPTIONS}, **params}
    params = {k: v for k, v in params.items() if not k.startswith("_") and k != "stream"}
    text = body.get("text_input")
    texts = text if isinstance(text, list) else [text]
    if text is None or not texts or not all(isinstance(t, str) for t in texts):
        raise UserError("text_input must be a string (or a list of strings) holding the prompt")
    check_limits(settings, params, texts)
    arr = np.empty(len(texts), dtype=object)
    arr[:] = [t.encode("utf-8") for t in texts]
    if hasattr(p, "options"):  # a 400 now rather than an error halfway through a stream
        p.options(params)
        try:
            p.prompts({"text_input": arr})
        except UserError as e:
            e.refused_inputs = {"text_input": arr}  # still what clients send: the drift monitor sees them
            raise
    return arr, params, rid, isinstance(text, list)


def _answer(served, outputs: dict, rid, many: bool) -> dict:
    out = {"model_name": served.predictor.name, "model_version": served.predictor.version}
    if rid is not None:
        out["id"] = rid
    texts = [str(t) for t in outputs["text_output"]]
    reasons = [str(t) for t in outputs.get("finish_reason", [""] * len(texts))]
    out["text_output"], out["finish_reason"] = (texts, reasons) if many else (texts[0], reasons[0])
    return out


def _event(d: dict) -> bytes:
    return b"data: " + json.dumps(d, ensure_ascii=False).encode("utf-8") + b"\n\n"


async def _generate(request: Request, name: str, version: str | None) -> JSONResponse:
    served = request.app.state.registry.get(name, version)
    request.state.version = served.predictor.version
    arr, params, rid, many = await _parsed(request, served)
    outputs, _ = await served.batcher.submit({"text_input": arr}, params)
    answer = _answer(served, outputs, rid, many)
    flags = _observe(request, served, arr, outputs, rid)
    if flags:
        answer["parameters"] = flags
    return JSONResponse(answer)


async def _parsed(request: Request, served) -> tuple[np.ndarray, dict, object, bool]:
    """The request of /generate and /generate_stream (`_request`); a refused prompt still enters the drift window."""
    try:
        return _request(served, await request.body(), getattr(request.app.state, "settings", None))
    except UserError as e:
        _observe_refused(request, served, e)
        raise


def _observe_refused(request: Request, served, e: UserError) -> None:
    monitoring = getattr(request.app.state, "monitoring", None)
    if monitoring is not None and getattr(e, "refused_inputs", None) is not None:
        monitoring.observe_refused(served.predictor, e.refused_inputs)


def _observe(request: Request, served, arr, outputs: dict, rid) -> dict | None:
    """Drift monitoring of the prompts (serve/drift.py); the response parameters it adds, if any."""
    monitoring = getattr(request.app.state, "monitoring", None)
    return monitoring.observe(served.predictor, {"text_input": arr}, outputs, rid) if monitoring else None


async def _stream(request: Request, name: str, version: str | None) -> StreamingResponse:
    served = request.app.state.registry.get(name, version)
    request.state.version = served.predictor.version
    arr, params, rid, many = await _parsed(request, served)
    if many or len(arr) != 1:
        raise UserError("generate_stream takes one prompt (text_input a string)", "use /generate for a list")
    if served.batcher.depth() >= served.batcher.max_queue:
        raise Overloaded(f"model '{name}' has {served.batcher.max_queue} requests waiting")
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[str] = asyncio.Queue()
    params["_emit"] = lambda text: loop.call_soon_threadsafe(pieces.put_nowait, text)
    job = asyncio.ensure_future(served.batcher.submit({"text_input": arr}, params))
    head = {"model_name": served.predictor.name, "model_version": served.predictor.version,
            **({"id": rid} if rid is not None else {})}

    async def events():
        try:
            while True:
                get = asyncio.ensure_future(pieces.get())
                done, _ = await asyncio.wait({get, job}, return_when=asyncio.FIRST_COMPLETED)
                if get in done:
                    yield _event({**head, "text_output": get.result()})
                    continue
                get.cancel()
                while not pieces.empty():  # pieces posted before the result arrived
                    yield _event({**head, "text_output": pieces.get_nowait()})
                if job.exception() is not None:
                    e = job.exception()
                    yield _event({"error": e.line() if isinstance(e, UserError) else f"generation failed: {e}"})
                    return
                outputs = job.result()[0]
                flags = _observe(request, served, arr, outputs, rid)
                yield _event({**head, "text_output": "", "finish_reason": str(outputs["finish_reason"][0]),
                              **({"parameters": flags} if flags else {})})
                return
        finally:
            if not job.done():  # the client went away: the answer is dropped when it comes
                job.add_done_callback(lambda j: j.cancelled() or j.exception())

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


_doc = {"responses": ERROR_RESPONSES, "tags": ["generate"]}


@router.post("/v2/models/{name}/generate", summary="Generate text", **_doc)
async def generate(request: Request, name: str) -> JSONResponse:
    return await _generate(request, name, None)


@router.post("/v2/models/{name}/versions/{version}/generate", summary="Generate text with a model version", **_doc)
async def generate_version(request: Request, name: str, version: str) -> JSONResponse:
    return await _generate(request, name, version)


@router.post("/v2/models/{name}/generate_stream", summary="Generate text, streamed as server-sent events", **_doc)
async def generate_stream(request: Request, name: str) -> StreamingResponse:
    return await _stream(request, name, None)


@router.post("/v2/models/{name}/versions/{version}/generate_stream", summary="Stream text from a model version",
             **_doc)
async def generate_stream_version(request: Request, name: str, version: str) -> StreamingResponse:
    return await _stream(request, name, version)
