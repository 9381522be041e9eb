"""Where production logs come from besides files: chat payloads and MLflow traces.

These modules turn what a log source holds into prompt and response *values* and the
reason a record could not be read; :mod:`drift_tracking.data` validates the values and
assembles the :class:`~drift_tracking.data.TextData` every command works on, so a trace
and a JSON line are judged by the same rules.
"""
