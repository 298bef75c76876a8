"""Dynamic batching, exercised on the event loop directly (no HTTP)."""

import asyncio
import time

import numpy as np
import pytest

from dlbench.errors import UserError
from dlbench.serve.batching import Batcher, Overloaded, TimedOut
from tests.unit.serve.serve_fakes import FakeClassifier, FakeGenerator


def rows(n, value=0.0):
    return {"input": np.full((n, 40), value, dtype=np.float32)}


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_concurrent_requests_share_one_predict_and_get_their_own_rows():
    model = FakeClassifier(delay_s=0.05)

    async def main():
        b = Batcher(model, max_batch_size=64, max_batch_delay_ms=20, max_queue=100, timeout_s=10)
        # Row i of request i has x[:, i % 10] = 1, so its label tells which request it came from.
        reqs = []
        for i in range(12):
            x = np.zeros((2, 40), dtype=np.float32)
            x[:, i % 10] = 1
            reqs.append(b.submit({"input": x}, {}))
        results = await asyncio.gather(*reqs)
        await b.close(1)
        return results

    results = run(main())
    for i, (out, batch) in enumerate(results):
        assert out["label"].tolist() == [i % 10, i % 10]
        assert out["probabilities"].shape == (2, 10)
    assert sum(model.calls) == 24 and len(model.calls) < 12  # batched, nothing lost
    assert max(r[1] for r in results) > 2


def test_max_batch_size_one_runs_each_request_alone():
    model = FakeClassifier()

    async def main():
        b = Batcher(model, max_batch_size=1, max_batch_delay_ms=5, max_queue=100, timeout_s=10)
        out = await asyncio.gather(*[b.submit(rows(1), {}) for _ in range(5)])
        await b.close(1)
        return out

    out = run(main())
    assert model.calls == [1] * 5 and all(size == 1 for _, size in out)


def test_batches_never_exceed_max_rows_but_an_oversized_request_still_runs():
    model = FakeClassifier(delay_s=0.02)

    async def main():
        b = Batcher(model, max_batch_size=8, max_batch_delay_ms=50, max_queue=100, timeout_s=10)
        await asyncio.gather(*[b.submit(rows(3), {}) for _ in range(6)], b.submit(rows(20), {}))
        await b.close(1)

    run(main())
    assert sorted(model.calls)[-1] == 20
    assert all(c <= 8 for c in model.calls if c != 20) and sum(model.calls) == 38


def test_full_queue_refuses_immediately():
    model = FakeClassifier(delay_s=0.3)

    async def main():
        b = Batcher(model, max_batch_size=1, max_batch_delay_ms=0, max_queue=2, timeout_s=10)
        tasks = [asyncio.create_task(b.submit(rows(1), {})) for _ in range(6)]
        done = await asyncio.gather(*tasks, return_exceptions=True)
        await b.close(2)
        return done

    done = run(main())
    refused = [d for d in done if isinstance(d, Overloaded)]
    assert 1 <= len(refused) <= 4 and all(isinstance(d, (tuple, Overloaded)) for d in done)


def test_timeout_and_the_timed_out_request_is_skipped():
    model = FakeClassifier(delay_s=0.3)

    async def main():
        b = Batcher(model, max_batch_size=1, max_batch_delay_ms=0, max_queue=10, timeout_s=0.1)
        out = await asyncio.gather(*[b.submit(rows(1), {}) for _ in range(3)], return_exceptions=True)
        await b.close(2)
        return out

    start = time.monotonic()
    out = run(main())
    assert all(isinstance(o, TimedOut) for o in out)
    assert time.monotonic() - start < 1.5
    assert len(model.calls) <= 2  # the queued ones that timed out were never run


def test_a_bad_request_does_not_fail_its_batch_mates():
    class Picky(FakeClassifier):
        def predict(self, inputs, parameters):
            if (inputs["input"] < 0).any():
                raise UserError("negative input")
            return super().predict(inputs, parameters)

    async def main():
        b = Batcher(Picky(delay_s=0.01), max_batch_size=64, max_batch_delay_ms=30, max_queue=10, timeout_s=5)
        out = await asyncio.gather(b.submit(rows(1), {}), b.submit(rows(1, -1.0), {}), b.submit(rows(2), {}),
                                   return_exceptions=True)
        await b.close(1)
        return out

    good, bad, good2 = run(main())
    assert isinstance(bad, UserError) and isinstance(good, tuple) and good2[0]["label"].shape == (2,)


def test_different_parameters_are_not_mixed_in_one_predict():
    seen = []

    class Recorder(FakeClassifier):
        def predict(self, inputs, parameters):
            seen.append((inputs["input"].shape[0], dict(parameters)))
            return super().predict(inputs, parameters)

    async def main():
        b = Batcher(Recorder(), max_batch_size=64, max_batch_delay_ms=30, max_queue=10, timeout_s=5)
        await asyncio.gather(b.submit(rows(1), {"t": 1}), b.submit(rows(1), {"t": 2}), b.submit(rows(1), {"t": 1}))
        await b.close(1)

    run(main())
    assert sorted((n, p["t"]) for n, p in seen) == [(1, 2), (2, 1)]


def test_non_batchable_runs_one_request_per_predict():
    calls = []

    class Counting(FakeGenerator):
        def predict(self, inputs, parameters):
            calls.append(1)
            return super().predict(inputs, parameters)

    def req(n):
        return {"count": np.array([n], dtype=np.int32), "labels": np.zeros(n, dtype=np.int64)}

    async def main():
        b = Batcher(Counting(), max_batch_size=64, max_batch_delay_ms=20, max_queue=10, timeout_s=5)
        out = await asyncio.gather(*[b.submit(req(n), {}) for n in (1, 2, 3)])
        await b.close(1)
        return out

    out = run(main())
    assert len(calls) == 3 and [o["samples"].shape[0] for o, _ in out] == [1, 2, 3]


def test_close_drains_queued_work_then_refuses():
    model = FakeClassifier(delay_s=0.05)

    async def main():
        b = Batcher(model, max_batch_size=1, max_batch_delay_ms=0, max_queue=10, timeout_s=5)
        tasks = [asyncio.create_task(b.submit(rows(1), {})) for _ in range(4)]
        await asyncio.sleep(0.01)
        await b.close(drain_s=5)
        results = await asyncio.gather(*tasks)
        with pytest.raises(Overloaded):
            await b.submit(rows(1), {})
        return results

    assert len(run(main())) == 4 and model.calls == [1] * 4
