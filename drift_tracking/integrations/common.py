"""Small helpers every integration shares: scoped environment variables, one-line errors, unreachable servers.

They live in :mod:`drift_tracking.servers`, which the log sources use too.
"""

from __future__ import annotations

from drift_tracking.servers import first_line, is_unreachable, scoped_env

__all__ = ["first_line", "is_unreachable", "scoped_env"]
