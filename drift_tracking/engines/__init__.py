"""Where a check runs: in this process (``local``) or on a Ray cluster (``ray``).

Both produce the same :class:`~drift_tracking.comparison.Measurements` for the same
rows, so the policy, the report and every sink are shared. The Ray engine
(:mod:`drift_tracking.engines.ray_engine`) needs the ``ray`` extra
(``pip install drift-tracking[ray]``); nothing imports Ray until it is used.
:mod:`~drift_tracking.engines.partials`, :mod:`~drift_tracking.engines.blocks` and
:mod:`~drift_tracking.engines.driver` are the engine-free pieces: a window measured from
mergeable summaries of its blocks.
"""

ENGINES = ("local", "ray")
