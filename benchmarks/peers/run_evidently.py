"""Evidently 0.7 embedding drift, default ``model`` method (domain classifier, ROC AUC > 0.55).

The method object is what ``EmbeddingsDriftMetric`` calls with its defaults (bootstrap off
for a reference of 1,000 rows or more); it is called directly so that the metric's t-SNE
picture, which is for display only, is not timed.
"""

import pandas as pd
from evidently import __version__ as evidently_version
from evidently.legacy.metrics.data_drift.embedding_drift_methods import model

from protocol import load_job, run

job, x, baseline = load_job()
columns = [f"e{i}" for i in range(x.shape[1])]
reference = pd.DataFrame(baseline, columns=columns)
method = model(bootstrap=len(reference) < 1000)


def check(window):
    score, drift, _ = method(pd.DataFrame(window, columns=columns), reference.copy())
    return {"alarm": bool(drift), "score": float(score)}


run(job, x, check, {"evidently": evidently_version, "pandas": pd.__version__})
