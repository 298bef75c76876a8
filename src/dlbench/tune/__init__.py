"""Hyperparameter search with Optuna over a declarative search space.

    dlbench tune configs/mnist1d-cnn.yaml --space configs/spaces/mnist1d-cnn.yaml --trials 40 --pruner asha
    dlbench tune ... --n-jobs 2                                   # two worker processes on this machine
    dlbench tune ... --storage postgresql://user@db/dlbench --study cnn-sweep   # same command on each machine
    dlbench tune ... --resume                                     # continue after a crash
    dlbench tune show studies/cnn-sweep                           # trials table, best config, plots

- space.py: the search-space YAML (float/int/categorical/layers, `when` conditions), validated like configs.
- study.py: the Optuna study (samplers tpe/random/grid/cmaes, pruners median/asha/hyperband/none) and the
  worker loop; each trial is `dlbench.api.train(...)` in studies/<study>/trials/NNNN, reporting its validation
  metric at every evaluation through fit()'s observer, with the test split left sealed.
- storage.py: RDB storage (SQLite in the study directory by default), heartbeats, the study lock.
- parallel.py: --n-jobs worker processes.  final.py: the single test evaluation and the outputs.
- runner.py / cli.py: the library calls and the command.

Workers join a study by running the same command: without --resume an existing study with the same config
and space is joined (a different one is refused); --resume requires the study to exist and also redoes a
final test evaluation that a dead worker had claimed. `--trials` counts trials of the whole study, all
workers together; finished trials are never rerun, and a dead worker's running trial is failed and rerun
once with the same parameters (at once on the same machine, after the heartbeat grace period elsewhere).
"""
