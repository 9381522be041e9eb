"""drift-tracking through its public Python API with defaults, as a new user runs it.

``Baseline().fit`` on the baseline's embeddings and texts (what ``fit_texts`` does after
embedding: K-means, novelty scores and cut-offs, calibration over a grid of window sizes), then
``compare_embeddings`` on each window with the window's texts and the default policy, no
history. An alarm is a tier other than ``ok``; ``critical`` is the top tier. The metrics
of each report are kept. Runs with drift-tracking's own environment.
"""

import json

import drift_tracking
import numpy as np
from drift_tracking import Baseline, ModelIdentity, compare_embeddings

from protocol import load_job, run

_KEEP = ("js_divergence", "wasserstein", "novel_cluster_share", "outlier_share", "unexplained_share", "classifier_auc",
         "mmd_p_value")

job, x, baseline_x = load_job()
texts = json.loads(open(job["options"]["texts"], encoding="utf-8").read())
baseline_idx = np.load(job["baseline"], allow_pickle=False)
identity = ModelIdentity.from_dict(job["options"]["identity"])
baseline = Baseline().fit(baseline_x, identity=identity, texts=[texts[i] for i in baseline_idx])
windows = np.load(job["windows"], allow_pickle=False)
order = iter(sorted(windows.files, key=lambda k: int(k[1:])))


def check(window):
    idx = windows[next(order)]  # the same window, for its texts
    report = compare_embeddings(baseline, window, texts=[texts[i] for i in idx])
    return {"alarm": report.tier != "ok", "critical": report.tier == "critical", "tier": report.tier,
            **{k: report.metrics[k] for k in _KEEP}}


run(job, x, check, {"drift-tracking": drift_tracking.__version__, "numpy": np.__version__})
