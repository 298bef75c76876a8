"""The SUT under real LoadGen tests, over a fake back end (no model): every scenario completes every
sample, batches as intended, and accuracy mode logs exactly the bytes the back end answered."""
import numpy as np
import pytest

from dlbench.bench.infer.backends import RequestFailed
from dlbench.bench.infer.samples import Generation, Supervised, Translation
from dlbench.bench.infer.summary import read_accuracy_log, read_summary
from dlbench.bench.infer.sut import Plan, Sut, run_test
from dlbench.data.bundle import DataSpec
from dlbench.errors import UserError

N = 64


class OneHot:
    """Answers the true class of each sample with probability 1; optionally fails some calls."""

    kind, device = "fake", "cpu"

    def __init__(self, y, fail_every=0):
        self.y, self.calls, self.fail_every = y, [], fail_every

    def prepare(self, idx):
        pass

    def infer(self, idx):
        self.calls.append(len(idx))
        if self.fail_every and len(self.calls) % self.fail_every == 0:
            raise RequestFailed("HTTP 503: overloaded")
        p = np.zeros((len(idx), 10), np.float32)
        p[np.arange(len(idx)), self.y[idx]] = 1
        return {"probabilities": p}


@pytest.fixture
def samples():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, N)
    spec = DataSpec("classification", (1, 40), 10, [str(i) for i in range(10)])
    return Supervised({"input": rng.standard_normal((N, 1, 40)).astype(np.float32)}, y, spec, "probabilities")


@pytest.mark.parametrize("scenario,rows,workers,expected", [
    ("SingleStream", 1, 0, 0.0005), ("MultiStream", 8, 0, 0.001), ("Offline", 16, 0, 20000), ("Server", 16, 1, 0)])
def test_each_scenario_completes(tmp_path, samples, scenario, rows, workers, expected):
    backend = OneHot(samples.y)
    sut = Sut(backend, samples, rows, workers)
    out = run_test(sut, Plan(scenario, duration_s=0.2, expected=expected, target_qps=2000, latency_bound_s=0.5),
                   "fake", tmp_path)
    s = read_summary(tmp_path / "mlperf_log_summary.txt")
    assert s["scenario"] == scenario and s["valid"] in (True, False) and s["headline"]
    assert out.failed == 0 and out.rows == sum(backend.calls)
    assert max(backend.calls) <= rows
    if scenario == "MultiStream":
        assert set(backend.calls) == {8}  # one call per 8-sample query
    assert (tmp_path / "mlperf_log_detail.txt").is_file()


def test_accuracy_mode_logs_the_answers(tmp_path, samples):
    sut = Sut(OneHot(samples.y), samples, 16)
    run_test(sut, Plan("Offline", accuracy=True, expected=1000, duration_s=0.2), "fake", tmp_path)
    logged = read_accuracy_log(tmp_path / "mlperf_log_accuracy.json")
    assert sorted(logged) == list(range(N))
    assert samples.score(logged)["accuracy"] == 1.0


def test_failed_calls_complete_their_samples(tmp_path, samples):
    backend = OneHot(samples.y, fail_every=3)
    out = run_test(Sut(backend, samples, 8, 2), Plan("Offline", expected=5000, duration_s=0.2), "fake", tmp_path)
    assert out.failed > 0 and "HTTP 503: overloaded" in next(iter(out.failures))
    assert out.rows == sum(backend.calls)  # LoadGen returned: every sample was completed


def test_a_model_error_becomes_one_line(tmp_path, samples):
    class Broken(OneHot):
        def infer(self, idx):
            raise UserError("input has shape [1, 39]")

    with pytest.raises(UserError, match="the model refused a test sample: input has shape"):
        run_test(Sut(Broken(samples.y), samples, 8), Plan("Offline", expected=2000, duration_s=0.1), "fake", tmp_path)


def test_translation_and_generation_samples(tmp_path):
    from tests.unit.serve.serve_fakes import FakeGenerator, FakeTranslator

    tr = Translation(["a b", "c d"], ["b a", "x"], "text", "translation")
    out = FakeTranslator().predict(tr.request(np.arange(2)), {})
    enc = tr.encode(out, 2)
    scores = tr.score({i: b for i, b in enumerate(enc)})
    assert scores["exact_match"] == 0.5 and 0 <= scores["bleu"] <= 100

    gen = Generation(np.array([3, 7]), FakeGenerator(), "samples")
    req = gen.request(np.array([1]))
    assert req["count"].tolist() == [1] and req["labels"].tolist() == [7] and req["seed"].tolist() == [1]
    rows = gen.encode(FakeGenerator().predict(req, {}), 1)
    assert rows.shape == (1, 40 * 4)
    with pytest.raises(UserError, match="accuracy mode"):
        gen.score({})
