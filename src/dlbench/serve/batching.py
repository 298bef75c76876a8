"""Dynamic batching: concurrent requests for one model are run as one `predict` call.

One asyncio queue and one worker task per predictor. The worker takes the first waiting request,
then keeps collecting until it holds `max_batch_size` rows or `max_batch_delay_ms` has passed since
that first request, concatenates the inputs along axis 0, runs `predict` in the predictor's own
thread (the event loop keeps serving other requests meanwhile) and hands each request its slice
of the outputs. While a batch runs, new requests pile up in the queue, so under load batches fill
without waiting for the delay at all.

Memory is bounded: the queue holds at most `max_queue` requests; when it is full a request is
refused at once with `Overloaded` (HTTP 503 + Retry-After), never buffered. Each request waits at
most `timeout_s` in total (`TimedOut`, HTTP 504: the request was accepted but the model did not
answer in time; 503 stays reserved for "refused before any work, safe to retry").

A non-batchable predictor (a generator whose inputs are counts and seeds, not rows) gets the same
code path with batches of one request. Batching off is `max_batch_size=1`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from dlbench.errors import UserError
from dlbench.serve.predictor import Predictor

log = logging.getLogger("dlbench.serve")


class Overloaded(Exception):
    """The model's queue is full (or the server is shutting down): refused before any work."""


class TimedOut(Exception):
    """Accepted, but no answer within the request timeout."""


@dataclass
class _Item:
    inputs: dict[str, np.ndarray]
    parameters: dict
    rows: int
    future: asyncio.Future
    # Requests are batched only with requests of the same group key: same parameters and same
    # non-batch dimensions (concatenating [n, 40] with [m, 41] along axis 0 is impossible).
    key: tuple = field(default=())


def _group_key(inputs: dict[str, np.ndarray], parameters: dict) -> tuple:
    # Parameter values are str/int/float/bool (protocol.Parameters); the type is part of the key
    # because True == 1 in Python, and a model may well treat them differently.
    shapes = tuple((k, v.shape[1:], v.dtype) for k, v in sorted(inputs.items()))
    return shapes, tuple((k, type(v).__name__, v) for k, v in sorted(parameters.items()))


class Batcher:
    """The queue and worker for one predictor."""

    def __init__(
        self,
        predictor: Predictor,
        max_batch_size: int,
        max_batch_delay_ms: float,
        max_queue: int,
        timeout_s: float,
        on_batch: Callable[[int, float], None] = lambda rows, seconds: None,
        on_depth: Callable[[int], None] = lambda depth: None,
    ):
        self.predictor = predictor
        self.max_rows = max_batch_size if predictor.batchable else 1
        self.delay_s = max_batch_delay_ms / 1000.0
        self.timeout_s = timeout_s
        self.max_queue = max_queue
        self._on_batch = on_batch
        self._on_depth = on_depth
        # Created lazily inside the running loop: an asyncio.Queue belongs to the loop it was used in.
        self._queue: asyncio.Queue[_Item] | None = None
        self._worker: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._carry: _Item | None = None  # the request that did not fit in the previous batch
        self._busy = False
        self._closing = False
        # One thread per predictor: predict() calls never overlap, so a predictor need not be
        # thread-safe, and one slow model cannot take every thread of a shared pool.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"predict-{predictor.name}")

    def depth(self) -> int:
        return (self._queue.qsize() if self._queue else 0) + (self._carry is not None)

    async def submit(self, inputs: dict[str, np.ndarray], parameters: dict) -> tuple[dict, int]:
        """Outputs for this request's rows, and the size (rows) of the batch it ran in."""
        if self._closing:
            raise Overloaded("the server is shutting down")
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop:  # first request, or the app moved to a new loop
            self._loop, self._carry = loop, None
            self._queue = asyncio.Queue(maxsize=self.max_queue)
            self._worker = loop.create_task(self._run(), name=f"batcher-{self.predictor.name}")
        rows = next(iter(inputs.values())).shape[0] if self.predictor.batchable else 1
        future = loop.create_future()
        item = _Item(inputs, parameters, rows, future, _group_key(inputs, parameters))
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            raise Overloaded(f"model '{self.predictor.name}' has {self.max_queue} requests waiting") from None
        self._on_depth(self.depth())
        try:
            # On timeout wait_for cancels the future; the worker then skips the item if it has
            # not started it (a predict already running finishes, its result is dropped).
            return await asyncio.wait_for(future, self.timeout_s)
        except asyncio.TimeoutError:
            raise TimedOut(f"no answer from model '{self.predictor.name}' within {self.timeout_s:g} s") from None

    async def _next_batch(self) -> list[_Item]:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        first = self._carry or await self._queue.get()
        # Busy from the moment a request is held outside the queue: close() must not stop the worker
        # while it gathers a batch (the held requests would never be answered; seen in a version swap).
        self._busy = True
        self._carry = None
        batch, rows = [first], first.rows
        deadline = loop.time() + self.delay_s
        while rows < self.max_rows:
            try:
                if self._queue.empty():
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    item = await asyncio.wait_for(self._queue.get(), remaining)
                else:
                    item = self._queue.get_nowait()
            except asyncio.TimeoutError:
                break
            if item.future.done():  # timed out while queued
                continue
            if rows + item.rows > self.max_rows:
                self._carry = item
                break
            batch.append(item)
            rows += item.rows
        return [it for it in batch if not it.future.done()]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            self._on_depth(self.depth())
            if not batch:
                self._busy = False
                continue
            self._busy = True
            try:
                groups: dict[tuple, list[_Item]] = {}
                for it in batch:
                    groups.setdefault(it.key, []).append(it)
                for items in groups.values():
                    try:
                        await loop.run_in_executor(self._executor, self._run_group, items, loop)
                    except RuntimeError as e:  # executor already shut down: fail, don't hang
                        for it in items:
                            self._resolve(loop, it, error=Overloaded(str(e)))
            finally:
                self._busy = False

    def _run_group(self, items: list[_Item], loop: asyncio.AbstractEventLoop) -> None:
        """Runs in the predictor thread: one predict for the group, results posted to the loop."""
        size = sum(it.rows for it in items)
        start = time.perf_counter()
        try:
            outputs = self._predict_concat(items)
            self._on_batch(size, time.perf_counter() - start)
        except UserError as e:
            if len(items) == 1:
                self._resolve(loop, items[0], error=e)
                return
            # One bad request must not fail its batch-mates: rerun each alone to find which one.
            for it in items:
                self._run_group([it], loop)
            return
        except Exception as e:  # noqa: BLE001 - a model bug: logged here, a 500 for the client
            log.exception("predict failed for model '%s'", self.predictor.name)
            for it in items:
                self._resolve(loop, it, error=e)
            return
        row = 0
        for it in items:
            part = {k: v[row : row + it.rows] for k, v in outputs.items()} if len(items) > 1 else outputs
            row += it.rows
            self._resolve(loop, it, result=(part, size))

    def _predict_concat(self, items: list[_Item]) -> dict[str, np.ndarray]:
        if len(items) == 1:
            return self.predictor.predict(items[0].inputs, items[0].parameters)
        inputs = {k: np.concatenate([it.inputs[k] for it in items]) for k in items[0].inputs}
        outputs = self.predictor.predict(inputs, items[0].parameters)
        total = sum(it.rows for it in items)
        for k, v in outputs.items():
            if np.shape(v)[:1] != (total,):
                raise RuntimeError(f"output '{k}' has shape {np.shape(v)}, expected batch {total} first")
        return outputs

    @staticmethod
    def _resolve(loop, item: _Item, result=None, error: BaseException | None = None) -> None:
        def settle() -> None:
            if item.future.done():  # the client gave up (timeout) meanwhile
                return
            if error is not None:
                item.future.set_exception(error)
            else:
                item.future.set_result(result)

        loop.call_soon_threadsafe(settle)

    async def close(self, drain_s: float) -> None:
        """Refuse new requests, let queued and running ones finish (up to drain_s), stop the worker."""
        self._closing = True
        end = time.monotonic() + drain_s
        while (self.depth() or self._busy) and time.monotonic() < end:
            await asyncio.sleep(0.01)
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
        # Whatever is still queued after the drain window is refused rather than left hanging.
        leftovers = [self._carry] if self._carry else []
        while self._queue is not None and not self._queue.empty():
            leftovers.append(self._queue.get_nowait())
        for it in leftovers:
            if not it.future.done():
                it.future.set_exception(Overloaded("the server is shutting down"))
        self._executor.shutdown(wait=False, cancel_futures=True)
