"""Studies in one process on tiny configs: pruning, the single test evaluation, resume, bad input."""
import json
import subprocess

import optuna
import pytest

from dlbench.errors import UserError
from dlbench.tune.runner import run_study, show_study
from dlbench.tune.study import TuneSpec, direction_of
from tests.unit.tune.tiny import HOPELESS, SPACE, write


def spec(tmp_path, space=SPACE, **kw) -> TuneSpec:
    cfg, sp = write(tmp_path, space)
    return TuneSpec(config=cfg, space=sp, studies_dir=str(tmp_path / "studies"), study="s", **kw)


def load(tmp_path, name="s"):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path / 'studies' / name / 'study.db'}")


def test_direction_is_the_one_the_family_declares():
    from dlbench.schema import parse_config

    seq2seq = parse_config({"data": {"kind": "numbers"}, "model": {"name": "transformer"}})
    tables = parse_config({"data": {"kind": "diabetes"}, "model": {"name": "mlp"}})
    assert [direction_of(tables, m) for m in ("val.accuracy", "val.r2", "val.loss", "val.mse", "val.mae")] == \
        ["maximize"] * 2 + ["minimize"] * 3
    assert direction_of(seq2seq, "val.bleu") == "maximize"
    gan = parse_config({"data": {"kind": "digits"}, "model": {"name": "gan"}})
    # a GAN's Fréchet distance is minimized (a name-suffix guess maximized it)
    assert direction_of(gan, "val.classifier_fd") == "minimize"
    assert direction_of(gan, "val.conditional_accuracy") == "maximize"


def test_pruning_stops_hopeless_trials_early(tmp_path):
    res = run_study(spec(tmp_path, HOPELESS, trials=6))
    study = load(tmp_path)
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    assert len(pruned) > 0 and res["counts"]["PRUNED"] == len(pruned)
    assert all(t.params["optim.lr"] == 1e-7 for t in pruned)
    assert all(t.state.name == "COMPLETE" for t in study.trials if t.params["optim.lr"] == 2e-2)
    for t in pruned:  # the run itself stopped at the pruning step, not only the bookkeeping
        assert t.user_attrs["dlbench.steps"] < 60
        steps = [json.loads(line)["step"] for line in open(f"{t.user_attrs['dlbench.run_dir']}/metrics.jsonl")]
        assert max(steps) == max(t.intermediate_values) < 60
    assert res["best"]["params"]["optim.lr"] == 2e-2


def test_the_test_split_is_opened_once_for_the_final_model_only(tmp_path, monkeypatch):
    from dlbench.data.bundle import DataBundle  # not at the top: data before config is an import cycle

    opened = []
    real = DataBundle.open_test
    monkeypatch.setattr(DataBundle, "open_test", lambda self, purpose: opened.append(purpose) or real(self, purpose))
    s = spec(tmp_path, trials=3)
    res = run_study(s)
    assert opened == ["dlbench evaluate"]
    study = load(tmp_path)
    for t in study.trials:  # trials never opened test, and their result.json holds no test numbers
        r = json.loads(open(f"{t.user_attrs['dlbench.run_dir']}/result.json").read())
        assert r["test"] is None and r["data"]["test_opened"] == [] and set(t.user_attrs["dlbench.val"]) >= {"accuracy"}
    final = res["final"]
    best = study.best_trial
    assert final["trial"] == best.number and final["value"] == best.value == final["val"]["accuracy"]
    assert final["how"] == "trial run reused" and 0 <= final["test"]["accuracy"] <= 1
    report = (tmp_path / "studies" / "s" / "report.md").read_text()
    assert "| accuracy (selection) |" in report and "test split evaluated once" in report
    assert (tmp_path / "studies" / "s" / "best.yaml").read_text().startswith("# Best config")
    # showing, or running the finished study again, reuses the recorded result
    show_study(tmp_path / "studies" / "s")
    again = run_study(spec(tmp_path, trials=3, resume=True))
    assert opened == ["dlbench evaluate"] and again["final"] == final and len(load(tmp_path).trials) == 3


def test_resume_fails_the_dead_workers_trial_and_never_repeats_finished_ones(tmp_path):
    run_study(spec(tmp_path, trials=2))
    study = load(tmp_path)
    finished = {t.number: (t.params, t.value) for t in study.trials}
    mtimes = {n: (tmp_path / "studies/s/trials" / f"{n:04d}" / "result.json").stat().st_mtime for n in finished}
    dead = subprocess.Popen(["true"])
    dead.wait()
    crashed = study.ask()  # a trial whose worker process died while running it
    crashed.set_user_attr("dlbench.worker", {"host": __import__("socket").gethostname(), "pid": dead.pid})
    res = run_study(spec(tmp_path, trials=3, resume=True))
    trials = load(tmp_path).trials
    assert [t.state.name for t in trials][crashed.number] == "FAIL"
    done = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(done) == 3 and res["final"] is not None
    assert {t.number: (t.params, t.value) for t in done if t.number in finished} == finished
    assert all((tmp_path / "studies/s/trials" / f"{n:04d}" / "result.json").stat().st_mtime == m for n, m in mtimes.items())
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == crashed.number]
    assert len(retry) == 1 and retry[0].state.name in ("COMPLETE", "PRUNED")


def test_a_study_name_with_a_different_space_is_refused(tmp_path):
    run_study(spec(tmp_path, trials=1))
    other = {**SPACE, "params": {**SPACE["params"], "optim.lr": {"type": "float", "low": 1e-3, "high": 1e-1}}}
    with pytest.raises(UserError, match="study 's' already exists with a different search space"):
        run_study(spec(tmp_path, other, trials=2))


def test_bad_storage_and_resume_of_nothing_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="cannot open the study storage postgresql"):
        run_study(spec(tmp_path, trials=1, storage="postgresql+psycopg2://nobody@127.0.0.1:1/nothing"))
    with pytest.raises(UserError, match="no study 's' .* to resume"):
        run_study(spec(tmp_path, trials=1, resume=True))


def test_a_metric_the_task_does_not_have_stops_the_study(tmp_path):
    with pytest.raises(UserError, match="'val.bleu' is not a metric of the cnn family"):
        run_study(spec(tmp_path, {**SPACE, "metric": "val.bleu"}, trials=3))
    assert not (tmp_path / "studies").exists() or not load(tmp_path).trials  # refused before any trial ran


def test_a_silent_worker_on_another_machine_is_failed_after_the_heartbeat_grace_period(tmp_path, monkeypatch):
    import time

    from dlbench.tune import storage

    monkeypatch.setattr(storage, "HEARTBEAT_SECONDS", 1)
    monkeypatch.setattr(storage, "GRACE_SECONDS", 2)
    run_study(spec(tmp_path, trials=1))
    rdb = storage.open_storage(f"sqlite:///{tmp_path / 'studies' / 's' / 'study.db'}")
    study = optuna.load_study(study_name="s", storage=rdb)
    lost = study.ask()  # its worker is on another machine: no pid to check, only its heartbeat stops
    lost.set_user_attr("dlbench.worker", {"host": "another-machine", "pid": 1})
    rdb.record_heartbeat(rdb.get_trial_id_from_study_id_trial_number(rdb.get_study_id_from_name("s"), lost.number))
    time.sleep(2.5)
    res = run_study(spec(tmp_path, trials=2, resume=True))
    trials = load(tmp_path).trials
    assert trials[lost.number].state.name == "FAIL"
    assert [t.system_attrs.get("failed_trial") for t in trials].count(lost.number) == 1
    assert res["counts"].get("COMPLETE", 0) + res["counts"].get("PRUNED", 0) == 2


def test_a_selected_run_on_another_machine_is_retrained_here_for_its_test(tmp_path):
    import shutil

    first = run_study(spec(tmp_path, trials=2))
    study = load(tmp_path)
    best = study.best_trial
    shutil.move(best.user_attrs["dlbench.run_dir"], tmp_path / "elsewhere")  # as if trained on another machine
    study.set_user_attr("dlbench.final", None)
    res = run_study(spec(tmp_path, trials=2, resume=True))
    f = res["final"]
    assert f["how"] == "retrained" and f["trial"] == best.number == first["final"]["trial"]
    r = json.loads(open(f"{f['run_dir']}/result.json").read())
    assert r["data"]["test_opened"] == ["final test after training"] and r["test"]["accuracy"] == f["test"]["accuracy"]
    assert len(load(tmp_path).trials) == 2


def test_a_worker_killed_before_its_trial_ran_a_line_is_failed_after_the_grace_period(tmp_path, monkeypatch):
    from dlbench.tune import storage

    monkeypatch.setattr(storage, "GRACE_SECONDS", 2)
    run_study(spec(tmp_path, trials=1))
    orphan = load(tmp_path).ask()  # Optuna created it, then kill -9: no worker identity, no heartbeat ever
    # before the fix this waited forever: the budget counts the orphan, and fail_stale_trials only sees heartbeats
    res = run_study(spec(tmp_path, trials=2, resume=True))
    trials = load(tmp_path).trials
    assert trials[orphan.number].state.name == "FAIL"
    lived = (trials[orphan.number].datetime_complete - trials[orphan.number].datetime_start).total_seconds()
    assert lived >= 2  # not before the grace period: a live worker may still be starting it
    assert [t.system_attrs.get("failed_trial") for t in trials].count(orphan.number) == 1
    assert res["counts"].get("COMPLETE", 0) + res["counts"].get("PRUNED", 0) == 2


def test_studies_with_different_seeds_draw_unrelated_trials():
    import optuna

    from dlbench.tune.study import trial_seed

    def draws(seed):  # what work() does: a fresh sampler per trial, seeded from (study seed, trial number)
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler())
        out = []
        for n in range(10):
            study.sampler = optuna.samplers.RandomSampler(seed=trial_seed(seed, n))
            trial = study.ask()
            out.append(trial.suggest_float("lr", 1e-4, 1e-1, log=True))
            study.tell(trial, 0.0)
        return out

    zero, one = draws(0), draws(1)
    assert draws(0) == zero  # reproducible
    assert not set(zero) & set(one)  # seed + n would make seed 1 repeat seed 0's draws one trial later
    assert len({trial_seed(s, n) for s in range(5) for n in range(50)}) == 250
