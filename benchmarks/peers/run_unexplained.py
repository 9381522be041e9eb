"""The unexplained-share estimate (drift_tracking.statistics.best_bin_estimation) on each window.

The baseline's leave-one-out scores are computed once, as a baseline would store them
(not timed); each check is ``unexplained_share`` with them: the window's distances to the
baseline plus Best Bin Estimation. ``bbe_seconds`` is the time of the last step alone,
what a check pays when it reuses the nearest-neighbour distances novel_clusters computes.
An estimate, not a detector: ``alarm`` is never set.
"""

import time

import drift_tracking
import numpy as np
from drift_tracking.statistics import knn_distance as _knn_distance
from drift_tracking.statistics.best_bin_estimation import estimate_from_scores, reference_scores, unexplained_share

from protocol import load_job, run

job, x, baseline = load_job()
seed = int(job["options"].get("seed", 0))
ref, ref_scores = reference_scores(baseline, seed=seed)


def check(window):
    start = time.perf_counter()
    result = unexplained_share(ref, window, reference_scores=ref_scores, seed=seed)
    seconds = time.perf_counter() - start
    cur_scores = _knn_distance(window[:2000], ref, 3)  # for timing the last step
    start = time.perf_counter()
    estimate_from_scores(ref_scores, cur_scores)
    return {"alarm": False, "estimate": result.share, "auc": result.auc, "bin_quantile": result.bin_quantile,
            "seconds": seconds, "bbe_seconds": time.perf_counter() - start}


run(job, x, check, {"drift-tracking": drift_tracking.__version__})
