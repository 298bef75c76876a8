from dlbench.training.diagnose import diagnose


def ev(step, tl, vl, ta, va):
    return {"step": step, "train.loss": tl, "val.loss": vl, "train.accuracy": ta, "val.accuracy": va}


def test_overfitting_from_rising_validation_loss():
    evals = [ev(1, 1.0, 1.0, .6, .6), ev(2, .5, .6, .8, .78), ev(3, .2, .7, .95, .8), ev(4, .05, .9, .99, .8)]
    d = diagnose(evals, "classification")
    assert d["verdict"] == "overfitting" and "rose" in d["reason"] and d["evidence"]["best_val_loss"] == .6


def test_overfitting_from_train_validation_gap():
    evals = [ev(1, 1.0, 1.0, .6, .6), ev(2, .1, .5, .99, .80), ev(3, .05, .49, 1.0, .82)]
    assert diagnose(evals, "classification")["verdict"] == "overfitting"


def test_underfitting_plateau_at_low_accuracy():
    evals = [ev(i, 1.5 - (0.5 if i > 1 else 0), 1.5, .4, .4) for i in range(1, 8)]
    d = diagnose(evals, "classification")
    assert d["verdict"] == "underfitting" and "plateaued" in d["reason"]


def test_undertrained_when_still_improving():
    evals = [ev(i, 2.0 / i, 2.0 / i, .3 + .05 * i, .3 + .05 * i) for i in range(1, 7)]
    assert diagnose(evals, "classification")["verdict"] == "undertrained"


def test_good_fit():
    evals = [ev(1, 1.0, 1.0, .7, .7), ev(2, .3, .32, .93, .92), ev(3, .2, .25, .95, .94)]
    d = diagnose(evals, "classification")
    assert d["verdict"] == "good fit" and "0.95" in d["reason"]


def test_regression_uses_r2():
    evals = [{"step": i, "train.loss": 1 / i, "val.loss": 1 / i, "train.r2": .9, "val.r2": .85} for i in (1, 2, 3)]
    assert diagnose(evals, "regression")["verdict"] == "good fit"


def test_tiny_absolute_rise_is_not_overfitting_and_kept_step_is_named():
    evals = [ev(1, .5, .5, .9, .9), ev(2, .01, .005, 1.0, 1.0), ev(3, .001, .006, 1.0, 1.0)]
    assert diagnose(evals, "classification")["verdict"] == "good fit"
    evals = [ev(1, 1.0, 1.0, .6, .6), ev(2, .5, .6, .8, .78), ev(3, .2, .7, .95, .8), ev(4, .05, .9, .99, .8)]
    d = diagnose(evals, "classification", kept_step=2)
    assert "weights of the best validation step 2" in d["reason"] and d["evidence"]["kept_step"] == 2


NAN = float("nan")


def test_nan_in_the_history_is_diverged_never_a_good_fit():
    """Issue 27.1: metrics that are NaN (null once read back from metrics.jsonl) never give "good fit"."""
    for bad in (NAN, None, float("inf")):
        evals = [ev(1, 1.0, 1.0, .7, .7), ev(2, .3, .32, .93, .92), ev(3, .2, bad, .95, .94)]
        d = diagnose(evals, "classification")
        assert d["verdict"] == "diverged" and "val.loss" in d["reason"] and "step 3" in d["reason"]
    evals = [ev(1, 1.0, 1.0, .7, .7), ev(2, .3, .32, .93, NAN), ev(3, .2, .25, .95, .94)]
    assert diagnose(evals, "classification")["verdict"] == "diverged"


def test_a_final_model_with_nan_metrics_is_invalid():
    """The issue's case: a good history, then garbage best weights made the saved model's val loss NaN."""
    evals = [ev(1, 1.0, 1.0, .7, .7), ev(2, .3, .32, .93, .92), ev(3, .2, .25, .95, .94)]
    d = diagnose(evals, "classification", final={"loss": NAN, "accuracy": 0.1})
    assert d["verdict"] == "invalid" and "validation loss is nan" in d["reason"]
    assert diagnose(evals, "regression", final={"loss": 0.2, "r2": None})["verdict"] == "invalid"
    assert diagnose(evals, "classification", final={"loss": .25, "accuracy": .94})["verdict"] == "good fit"


def test_gan_fd_that_is_not_a_number_is_never_a_good_fit():
    from dlbench.recipes.gan.measure import diagnose_gan

    evals = [{"step": 0, "val.classifier_fd": 100.0}, {"step": 10, "val.classifier_fd": 5.0},
             {"step": 20, "val.classifier_fd": 4.0}]
    good = {"classifier_fd": 4.0, "classifier_fd_real": 3.9}
    assert diagnose_gan(evals, good, "classifier_fd")["verdict"] == "good fit"
    assert diagnose_gan(evals, {**good, "classifier_fd": NAN}, "classifier_fd")["verdict"] == "invalid"
    evals[1]["val.classifier_fd"] = None  # NaN as metrics.jsonl stores it
    d = diagnose_gan(evals, good, "classifier_fd")
    assert d["verdict"] == "diverged" and "step 10" in d["reason"]
