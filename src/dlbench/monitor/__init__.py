"""Drift monitoring: a reference profile stored in every run, compared with live traffic or new data.

    features.py   what is measured per row: input features per input kind, the predictions' features
    profile.py    the reference profile (RUN/reference_profile.json, hashed through model.json)
    reference.py  the profile of a freshly trained model (training/supervised.py calls it)
    stats.py      PSI, Kolmogorov-Smirnov / chi-square and Wasserstein (scipy) per feature, the verdict
    window.py     the sliding window of live rows and the training-range checks

The server side is dlbench.serve.drift, the HTML report dlbench.report.drift, the command `dlbench monitor`.
Guide: docs/monitoring.md.
"""
