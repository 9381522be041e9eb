"""alibi-detect 0.11.4 (the last Apache-2.0 release): ``MMDDrift`` or ``KSDrift`` with defaults.

``options.detector`` picks one. MMDDrift: RBF kernel with the bandwidth set from the
reference at init, 100 permutations, p < 0.05, PyTorch backend on the CPU (the default
backend is TensorFlow; the statistic and the test are the same). KSDrift: one
Kolmogorov-Smirnov test per embedding dimension, Bonferroni-corrected, p < 0.05. A drift
is an alarm; the p-value is kept as the score.
"""

import alibi_detect
import numpy as np
from alibi_detect.cd import KSDrift, MMDDrift

from protocol import load_job, run

job, x, baseline = load_job()
kind = job["options"]["detector"]
if kind == "mmd":
    import torch

    torch.manual_seed(0)
    detector = MMDDrift(baseline, backend="pytorch", device="cpu")
elif kind == "ks":
    detector = KSDrift(baseline)
else:
    raise SystemExit(f"options.detector must be 'mmd' or 'ks', got {kind!r}")


def check(window):
    data = detector.predict(window)["data"]
    return {"alarm": bool(data["is_drift"]), "score": float(np.min(data["p_val"]))}


run(job, x, check, {"alibi-detect": alibi_detect.__version__, "numpy": np.__version__})
