"""Inference benchmarks of trained models under MLPerf LoadGen (`dlbench bench infer`).

    samples.py   what a query sample is per model family: raw request, logged bytes, score
    backends.py  the model in-process, or a running `dlbench serve` over HTTP (httpx)
    sut.py       LoadGen's test settings, QSL and SUT callbacks, one LoadGen test
    summary.py   reading LoadGen's summary (verdict, figures, why) and accuracy log
    runner.py    one scenario start to finish: calibrate, test (Server: QPS search), score, store
    sizing.py    latency- vs throughput-bound, batch size, per-sample cost, replicas
    records.py   the results store's `inference` table and the rows `bench compare` shows
"""
