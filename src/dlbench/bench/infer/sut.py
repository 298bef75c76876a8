"""The LoadGen glue: test settings per scenario, the QSL and SUT callbacks, one LoadGen test.

LoadGen (mlcommons-loadgen, module `mlperf_loadgen`) generates the load, measures every latency
and writes mlperf_log_summary.txt / mlperf_log_detail.txt (and mlperf_log_accuracy.json in
accuracy mode). This module only answers its callbacks:

    QSL load_samples_to_ram(indices)   the back end stages those samples (HTTP: their JSON text)
    SUT issue_query(samples)           run them; report each one with QuerySamplesComplete

How queries become back-end calls differs by scenario, as it does in a real deployment:
    inline   (SingleStream, MultiStream, in-process Offline) run in LoadGen's issue thread, a query
             at a time, `rows` samples per call: LoadGen issues the next query only after this one;
    queued   (Server, HTTP Offline) queued, `workers` threads each take up to `rows` waiting
             samples per call. In-process Server: one worker that batches whatever has arrived
             (dynamic batching without a delay). HTTP Server: one sample per request and many
             requests in flight, so the *server* batches them, as it would for real clients.
"""
from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dlbench.bench.infer.backends import RequestFailed
from dlbench.errors import UserError

SCENARIOS = {"single-stream": "SingleStream", "multi-stream": "MultiStream", "server": "Server", "offline": "Offline"}
SAMPLES_PER_MULTISTREAM_QUERY = 8
# Short runs: LoadGen's early-stopping estimate of a p90 needs >= 64 queries and of a p99 >= 662
# (it says so in the summary when it has fewer); below these the verdict is INVALID however fast.
SHORT_MIN_QUERIES = {"SingleStream": 100, "MultiStream": 662, "Server": 662, "Offline": 1}


def check_scenario(name: str) -> str:
    if name not in SCENARIOS:
        import difflib

        close = difflib.get_close_matches(name, list(SCENARIOS), n=1)
        raise UserError(f"unknown scenario '{name}'",
                        (f"did you mean '{close[0]}'? " if close else "") + f"use one of {', '.join(SCENARIOS)}")
    return SCENARIOS[name]


@dataclass
class Plan:
    """One LoadGen test. `expected`: the calibrated latency (s) of a query (SingleStream, MultiStream)
    or throughput (samples/s, Offline), so LoadGen schedules enough queries to fill the duration."""

    scenario: str                 # SingleStream | MultiStream | Server | Offline
    accuracy: bool = False
    full: bool = False
    duration_s: float = 1.0       # short runs only; --full uses LoadGen's own minimum (600 s)
    expected: float = 0.0
    target_qps: float = 0.0       # Server
    latency_bound_s: float = 0.01  # Server: p99 bound (LoadGen's default for models it does not know)
    min_queries: int = 0          # raise LoadGen's minimum query count (a rerun its early stopping asked for)


def loadgen_settings(plan: Plan, model: str):
    import mlperf_loadgen as lg

    s = lg.TestSettings()
    if plan.full:
        # LoadGen's built-in mlperf.conf (the path is not read with conf_type 0): 600 s minimum
        # duration, official RNG seeds and per-scenario minimum query counts.
        s.FromConfig("", model, plan.scenario, 0)
    else:
        s.min_duration_ms = int(plan.duration_s * 1000)
        s.min_query_count = SHORT_MIN_QUERIES[plan.scenario]
        # A safety net for a badly calibrated run; LoadGen stops issuing new queries after it.
        s.max_duration_ms = int(max(60.0, 30 * plan.duration_s) * 1000)
    s.min_query_count = max(s.min_query_count, plan.min_queries)
    s.scenario = getattr(lg.TestScenario, plan.scenario)
    s.mode = lg.TestMode.AccuracyOnly if plan.accuracy else lg.TestMode.PerformanceOnly
    if plan.scenario == "SingleStream":
        # Under-estimating the latency makes LoadGen pre-schedule more queries than it needs, never too few.
        s.single_stream_expected_latency_ns = max(1, int(plan.expected * 0.5 * 1e9))
    elif plan.scenario == "MultiStream":
        s.multi_stream_samples_per_query = SAMPLES_PER_MULTISTREAM_QUERY
        s.multi_stream_expected_latency_ns = max(1, int(plan.expected * 0.5 * 1e9))
    elif plan.scenario == "Offline":
        # The one Offline query holds expected_qps x duration samples: over-estimate, so it lasts long enough.
        s.offline_expected_qps = max(1.0, plan.expected * 1.5)
    else:
        s.server_target_qps = float(plan.target_qps)
        s.server_target_latency_ns = int(plan.latency_bound_s * 1e9)
        s.server_target_latency_percentile = 0.99
    return s


@dataclass
class Outcome:
    """What the SUT saw during one test (LoadGen's own figures are in its summary)."""

    outdir: Path
    calls: int = 0
    rows: int = 0
    failed: int = 0
    failures: collections.Counter = field(default_factory=collections.Counter)
    error: BaseException | None = None
    wall_s: float = 0.0

    @property
    def mean_batch(self) -> float:
        return self.rows / self.calls if self.calls else 0.0


class Sut:
    """issue_query / flush_queries for LoadGen over a back end (see the module docstring)."""

    def __init__(self, backend, samples, rows: int, workers: int = 0):
        self.backend, self.samples = backend, samples
        self.rows = rows if samples.batchable else 1
        self.workers = workers  # 0: inline
        self.outcome: Outcome | None = None
        self._pending: collections.deque = collections.deque()
        self._cv = threading.Condition()
        self._stop = False
        self._threads: list[threading.Thread] = []
        self._stats_lock = threading.Lock()

    def start(self, outcome: Outcome) -> None:
        self.outcome, self._stop = outcome, False
        self._threads = [threading.Thread(target=self._work, name=f"sut-{i}", daemon=True) for i in range(self.workers)]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        for t in self._threads:
            t.join()

    # -- LoadGen callbacks (called from LoadGen's threads) --------------------------------------------
    def issue(self, ids: list[int], indices: list[int]) -> None:
        """ConstructFastSUT's issue_query: plain id and index lists, no QuerySample object per sample."""
        items = list(zip(ids, indices))
        if not self.workers:
            for i in range(0, len(items), self.rows):
                self._run(items[i:i + self.rows])
            return
        with self._cv:
            self._pending.extend(items)
            self._cv.notify(len(items))

    def flush(self) -> None:
        pass

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._stop:
                    self._cv.wait()
                if not self._pending:
                    return
                take = [self._pending.popleft() for _ in range(min(self.rows, len(self._pending)))]
            self._run(take)

    def _run(self, items: list[tuple[int, int]]) -> None:
        import mlperf_loadgen as lg

        idx = np.fromiter((i for _, i in items), dtype=np.int64, count=len(items))
        enc = None
        try:
            enc = self.samples.encode(self.backend.infer(idx), len(items))
        except RequestFailed as e:
            with self._stats_lock:
                self.outcome.failed += len(items)
                self.outcome.failures[str(e)[:160]] += 1
        except Exception as e:  # noqa: BLE001 - a model error: reported after the test, LoadGen must finish
            with self._stats_lock:
                self.outcome.failed += len(items)
                if self.outcome.error is None:
                    self.outcome.error = e
        with self._stats_lock:
            self.outcome.calls += 1
            self.outcome.rows += len(items)
        # Every issued sample is completed exactly once, even on failure, or LoadGen waits forever.
        # `enc` (and `buf`) stay referenced until QuerySamplesComplete has copied what it logs.
        if enc is None:
            responses = [lg.QuerySampleResponse(qid, 0, 0) for qid, _ in items]
        elif isinstance(enc, np.ndarray):
            base, stride = enc.ctypes.data, enc.strides[0]
            responses = [lg.QuerySampleResponse(qid, base + k * stride, enc.shape[1]) for k, (qid, _) in enumerate(items)]
        else:
            buf = [np.frombuffer(b, dtype=np.uint8) if b else np.zeros(1, np.uint8) for b in enc]
            responses = [lg.QuerySampleResponse(qid, a.ctypes.data, len(b)) for (qid, _), a, b in zip(items, buf, enc)]
        lg.QuerySamplesComplete(responses)


def run_test(sut: Sut, plan: Plan, model: str, outdir: Path) -> Outcome:
    """One LoadGen test of `sut`; its logs go to `outdir` (earlier LoadGen logs there are replaced)."""
    import mlperf_loadgen as lg

    outdir.mkdir(parents=True, exist_ok=True)
    for old in outdir.glob("mlperf_log_*"):
        old.unlink()
    settings = loadgen_settings(plan, model)
    log = lg.LogSettings()
    log.log_output.outdir = str(outdir)
    log.log_output.copy_summary_to_stdout = False
    log.enable_trace = False
    n = sut.samples.n
    qsl = lg.ConstructQSL(n, n, sut.backend.prepare, lambda idx: None)
    handle = lg.ConstructFastSUT(sut.issue, sut.flush)
    outcome = Outcome(outdir)
    sut.start(outcome)
    t0 = time.perf_counter()
    try:
        lg.StartTestWithLogSettings(handle, qsl, settings, log)
    finally:
        outcome.wall_s = time.perf_counter() - t0
        sut.stop()
        lg.DestroyFastSUT(handle)
        lg.DestroyQSL(qsl)
    trace = outdir / "mlperf_log_trace.json"
    if trace.is_file() and trace.stat().st_size == 0:  # tracing is off; don't leave an empty file behind
        trace.unlink()
    if outcome.error is not None:
        e = outcome.error
        if isinstance(e, UserError):
            raise UserError(f"the model refused a test sample: {e.line()}") from None
        raise UserError(f"the model failed on a test sample ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})",
                        "bench infer runs the model exactly as the server does; check the run with `dlbench predict`")
    return outcome
