"""Drift monitoring on the server: each served run's live inputs and predictions against its reference profile.

Per served (model, version), a sliding window of the last `monitor_window` rows of features (dlbench.monitor) is
scored against the run's reference profile when /metrics is scraped (and only when new rows came in since), and
exported as Prometheus gauges labelled by model and version (scores are at most --drift-interval-s old):

    dlbench_drift_psi{model,version,feature}              population stability index of an input feature
    dlbench_drift_pvalue{model,version,feature}           two-sample test (KS; chi-square for categories)
    dlbench_drift_wasserstein{model,version,feature}      Wasserstein distance in training standard deviations
    dlbench_drift_detected{model,version,feature}         1 when PSI >= --drift-psi-threshold and p < --drift-pvalue
    dlbench_prediction_drift_psi{model,version,output}    the same for the predictions (confidence, label, value)
    dlbench_prediction_drift_detected{model,version,output}
    dlbench_drifted_features{model,version}               inputs and outputs drifted: the one gauge to alert on
    dlbench_out_of_range_ratio{model,version}             window rows with a value outside the training range
    dlbench_far_outside_requests_total{model,version}     requests flagged far outside the training range
    dlbench_monitor_window_rows{model,version}            rows in the window (scores need --drift-min-rows)
    dlbench_monitor_reference{model,version}              1 monitored; 0 no reference profile (not monitored)

Every answer of a monitored model carries the response parameter `far_outside_training_range` (true when a value
of the request lies beyond the training [min, max] by more than --far-outside-std training standard deviations)
and, when true, `far_outside_features`: the features concerned. Sampled requests go to --request-log.
Language models are monitored on their prompts (text_input) over /infer, /generate and /generate_stream alike
(serve/generate.py calls `observe`; a stream carries the parameters in its last event). Prompts that /generate or
/generate_stream refuse for characters outside the vocabulary enter the window too (`observe_refused`), so text in
another script shows as `text.unknown_rate` drift rather than only as 400s.
"""
from __future__ import annotations

import logging
import threading
import time
import weakref

import numpy as np
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from dlbench.errors import UserError
from dlbench.monitor.features import input_features, output_features
from dlbench.monitor.profile import load_profile, parse_features
from dlbench.monitor.stats import Thresholds, score_all
from dlbench.monitor.window import Ranges, SlidingWindow
from dlbench.serve.request_log import RequestLog

log = logging.getLogger("dlbench.serve")
NO_PROFILE = "no reference profile (trained before dlbench stored one, or its inputs have no monitor features)"


class ModelMonitor:
    """The window, range checks and cached scores of one served (model, version)."""

    def __init__(self, predictor, run, profile: dict, settings):
        where = f"{run.path}/reference_profile.json"
        self.inputs = input_features(run.codec)
        if self.inputs is None:
            raise UserError(f"{where}: inputs of kind '{run.codec.kind}' have no monitor features")
        self.input_refs = parse_features(profile, "inputs", self.inputs.names, where)
        self.outputs = output_features(run.spec, [s.name for s in predictor.outputs()])
        self.output_refs = parse_features(profile, "outputs", self.outputs.names, where) if profile.get("outputs") else []
        self.window = SlidingWindow(len(self.input_refs), settings.monitor_window)
        self.output_window = SlidingWindow(len(self.output_refs), settings.monitor_window)
        self.ranges = Ranges(self.input_refs, settings.far_outside_std)
        self.thresholds = Thresholds(settings.drift_psi_threshold, settings.drift_pvalue_threshold,
                                     settings.drift_min_rows)
        self.far_requests = 0
        self.interval_s = settings.drift_interval_s
        # Rows wait here, as the requests gave them, until the window is scored or holds a window's worth: the
        # window copy and the prediction features are then one vectorized step for many requests.
        self._pending_in: list = []
        self._pending_out: list = []
        self._pending_rows = 0
        self._cached: tuple[int, float, tuple] | None = None
        self._lock = threading.Lock()
        self._scoring = threading.Event()

    def observe(self, inputs: dict, outputs: dict | None) -> list[str]:
        """Note a request's rows (outputs None: a refused request, inputs only); the features far outside the
        training range (empty: none)."""
        rows = self.inputs.extract(inputs)
        with self._lock:
            self._pending_in.append(rows)
            if self.output_refs and outputs is not None:
                self._pending_out.append(outputs)
            self._pending_rows += len(rows)
            if self._pending_rows >= self.window.size:
                self._flush()
        far = self.ranges.far(rows)
        if not far.any():
            return []
        self.far_requests += 1
        return self.ranges.far_features(far)

    def _flush(self) -> None:
        if not self._pending_in:
            return
        self.window.add(np.concatenate(self._pending_in))
        if self._pending_out:
            joined = {k: np.concatenate([o[k] for o in self._pending_out]) for k in self._pending_out[0]}
            self.output_window.add(self.outputs.extract(joined))
        self._pending_in, self._pending_out, self._pending_rows = [], [], 0

    def rows(self) -> int:
        return min(self.window.size, self.window.filled + self._pending_rows)

    def scores(self) -> tuple[list, list, float]:
        """(input scores, output scores, out-of-range share of the window) for a scrape. They are recomputed when new
        rows came in and the last ones are older than --drift-interval-s: at once with 0, else in a thread of their
        own while the scrape gets the last ones, so that scoring (tens of scipy tests) never stalls requests."""
        seen = self.window.total + self._pending_rows
        if self._cached is not None and (seen == self._cached[0] or time.monotonic() - self._cached[1] < self.interval_s):
            return self._cached[2]
        if self.interval_s == 0:
            self._score()
        elif not self._scoring.is_set():
            self._scoring.set()
            threading.Thread(target=self._score, name="drift-scores", daemon=True).start()
        return self._cached[2] if self._cached is not None else ([], [], 0.0)

    def _score(self) -> None:
        try:
            with self._lock:  # only the copy holds the requests up
                self._flush()
                seen = self.window.total
                rows, out_rows = self.window.rows().copy(), self.output_window.rows().copy()
            out_of_range = float(self.ranges.check(rows)[0].any(axis=1).mean()) if len(rows) else 0.0
            outs = score_all(self.output_refs, out_rows, self.thresholds) if self.output_refs else []
            self._cached = (seen, time.monotonic(), (score_all(self.input_refs, rows, self.thresholds), outs, out_of_range))
        except Exception:  # noqa: BLE001 - the last scores stay; the next scrape tries again
            log.exception("drift scoring failed")
        finally:
            self._scoring.clear()


class Monitoring:
    """Every served predictor's monitor (made when it is first served or first answers), as a Prometheus collector."""

    def __init__(self, settings, registry=None):
        self.settings = settings
        self.enabled = settings.monitor
        self.monitors: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.request_log = RequestLog(settings.request_log, settings.request_log_sample_rate,
                                      settings.request_log_max_bytes) if settings.request_log else None
        self._failed: set[int] = set()
        if registry is not None:
            registry.register(self)

    def attach(self, predictor) -> ModelMonitor | None:
        """The monitor of a predictor (None: not monitored). A damaged reference profile is a UserError."""
        if not self.enabled:
            return None
        if predictor in self.monitors:
            return self.monitors[predictor]
        run = getattr(predictor, "run", None)  # the recipes' predictors keep the LoadedRun they serve
        profile = load_profile(run.path, run.info) if run is not None else None
        try:
            monitor = ModelMonitor(predictor, run, profile, self.settings) if profile is not None else None
        except UserError:
            raise
        except Exception:  # noqa: BLE001 - a model the monitor cannot read is served unmonitored, never refused
            log.exception("model '%s' version %s: not monitored", predictor.name, predictor.version)
            monitor = None
        self.monitors[predictor] = monitor
        return monitor

    def status(self) -> list[str]:
        """One line per served predictor: monitored or why not."""
        if not self.enabled:
            return ["drift monitoring is OFF (--no-monitor): no drift gauges, no far-outside flag"]
        lines = []
        for p, m in list(self.monitors.items()):
            what = (f"drift monitoring on ({len(m.input_refs)} input and {len(m.output_refs)} prediction features, "
                    f"window {m.window.size} rows)") if m else f"not monitored: {NO_PROFILE}"
            lines.append(f"model {p.name} version {p.version}: {what}")
        return lines

    def observe(self, predictor, inputs: dict, outputs: dict, request_id: str | None) -> dict | None:
        """Monitor one answered request; the response parameters to add (None: the model is not monitored)."""
        far: list[str] = []
        params = None
        try:
            monitor = self.monitors.get(predictor, self)
            if monitor is self:  # first seen: a version loaded at run time
                monitor = self.attach(predictor)
            if monitor is not None:
                far = monitor.observe(inputs, outputs)
                params = {"far_outside_training_range": bool(far)}
                if far:
                    params["far_outside_features"] = ", ".join(far)
            if self.request_log is not None and self.request_log.sample():
                self.request_log.write(predictor.name, str(predictor.version), request_id, inputs, outputs, far)
        except Exception:  # noqa: BLE001 - monitoring must never fail a request that the model answered
            if id(predictor) not in self._failed:
                self._failed.add(id(predictor))
                log.exception("drift monitoring failed for model '%s' version %s; answers go on unmonitored",
                              predictor.name, predictor.version)
            self.monitors[predictor] = None
        return params

    def observe_refused(self, predictor, inputs: dict) -> None:
        """Note the inputs of a request the model refused as outside what it knows (a language model's prompt with
        characters outside its vocabulary): they are what clients send, so they enter the window (no answer, no
        flag, never the request log)."""
        monitor = self.monitors.get(predictor)
        if monitor is None:
            return
        try:
            monitor.observe(inputs, None)
        except Exception:  # noqa: BLE001 - the client gets its 4xx whatever the monitor makes of it
            log.debug("refused request not monitored", exc_info=True)

    # --- Prometheus ---------------------------------------------------------------------------------
    def describe(self):
        return []  # names are known only once models are served; nothing to check at registration

    def collect(self):
        mv = ["model", "version"]
        g = {name: GaugeMetricFamily(f"dlbench_{name}", doc, labels=labels) for name, doc, labels in (
            ("drift_psi", "Population stability index of an input feature, live window vs training", mv + ["feature"]),
            ("drift_pvalue", "p-value of the two-sample test (KS, chi-square for categories)", mv + ["feature"]),
            ("drift_wasserstein", "Wasserstein distance in training standard deviations", mv + ["feature"]),
            ("drift_detected", "1 when the feature crosses both drift thresholds", mv + ["feature"]),
            ("prediction_drift_psi", "Population stability index of a prediction feature", mv + ["output"]),
            ("prediction_drift_detected", "1 when the prediction feature crosses both thresholds", mv + ["output"]),
            ("drifted_features", "Input and prediction features over the drift thresholds", mv),
            ("out_of_range_ratio", "Window rows with a value outside the training range", mv),
            ("monitor_window_rows", "Rows in the drift window", mv),
            ("monitor_reference", "1 when the model has a reference profile (monitored)", mv))}
        far = CounterMetricFamily("dlbench_far_outside_requests", "Requests far outside the training range", labels=mv)
        seen = set()
        for p, m in list(self.monitors.items()):
            key = (p.name, str(p.version))
            if key in seen:  # an old predictor of a swapped version not yet collected
                continue
            seen.add(key)
            g["monitor_reference"].add_metric(list(key), 1.0 if m else 0.0)
            if m is None:
                continue
            inputs, outputs, out_of_range = m.scores()
            g["monitor_window_rows"].add_metric(list(key), float(m.rows()))
            far.add_metric(list(key), float(m.far_requests))
            if not inputs:  # the first scores are still being computed
                continue
            g["out_of_range_ratio"].add_metric(list(key), out_of_range)
            g["drifted_features"].add_metric(list(key), float(sum(s.drifted for s in inputs + outputs)))
            for s in inputs:
                if s.psi is None:
                    continue
                labels = [*key, s.feature]
                g["drift_psi"].add_metric(labels, s.psi)
                g["drift_pvalue"].add_metric(labels, s.pvalue)
                if s.wasserstein is not None:
                    g["drift_wasserstein"].add_metric(labels, s.wasserstein)
                g["drift_detected"].add_metric(labels, float(s.drifted))
            for s in outputs:
                if s.psi is not None:
                    g["prediction_drift_psi"].add_metric([*key, s.feature], s.psi)
                    g["prediction_drift_detected"].add_metric([*key, s.feature], float(s.drifted))
        yield from g.values()
        yield far

    def close(self) -> None:
        if self.request_log is not None:
            self.request_log.close()

