"""Exceptions raised by drift-tracking.

Every error a user can cause derives from :class:`DriftTrackingError`, so the CLI
can print its message as one line and exit 2 instead of dumping a traceback.
Messages say what was wrong *and* what to do about it.
"""

from __future__ import annotations


class DriftTrackingError(Exception):
    """Base class for errors caused by input, artifacts or configuration."""


class DataError(DriftTrackingError, ValueError):
    """The input data cannot be read or holds no usable text."""


class ArtifactError(DriftTrackingError):
    """A saved baseline is missing, truncated, tampered with or of an unknown format."""


class ModelMismatchError(DriftTrackingError):
    """A baseline and a window (or embedder) were built with different embedding models."""


class ConfigError(DriftTrackingError, ValueError):
    """A configuration value is unknown, out of range or inconsistent."""
