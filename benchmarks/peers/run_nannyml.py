"""NannyML 0.13 univariate drift: Jensen-Shannon on the baseline's first 10 principal components.

Embeddings have too many columns for NannyML's per-column methods, so they are reduced to
10 principal components fitted on the baseline (scikit-learn PCA). The chunk size is the
window size, so a window is one chunk and the reference (the baseline) is cut into chunks
of the same size; the thresholds are NannyML's default for JS (mean of the reference
chunks + 3 standard deviations). A window alarms when any component alerts. With a window
as large as the baseline there is at most one reference chunk and NannyML cannot set a
threshold: such a cell is reported as not run.
"""

import nannyml
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from protocol import load_job, run

N_COMPONENTS = 10

job, x, baseline = load_job()
# NannyML cuts the reference into chunks in row order. The baseline's rows come in file
# order, which for banking77 is sorted by intent: in-order chunks would each hold a few
# intents and their spread would swamp any window. Rows of a real period are mixed, so the
# reference is shuffled (fixed seed) first.
baseline = baseline[np.random.default_rng(0).permutation(len(baseline))]
pca = PCA(n_components=N_COMPONENTS, random_state=0).fit(baseline)
columns = [f"pc{i}" for i in range(N_COMPONENTS)]
calc = nannyml.UnivariateDriftCalculator(
    column_names=columns, continuous_methods=["jensen_shannon"], chunk_size=int(job["options"]["n"]),
)
calc.fit(pd.DataFrame(pca.transform(baseline), columns=columns))


def check(window):
    frame = pd.DataFrame(pca.transform(window), columns=columns)
    result = calc.calculate(frame).filter(period="analysis").to_df()
    alerts = result.xs("alert", axis=1, level=-1)
    values = result.xs("value", axis=1, level=-1)
    n_alerts = int(np.asarray(alerts.any(axis=0)).sum())
    return {"alarm": n_alerts > 0, "score": float(np.asarray(values).max()), "components_alerting": n_alerts}


run(job, x, check, {"nannyml": nannyml.__version__, "pandas": pd.__version__})
