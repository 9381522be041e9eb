"""Demo data: seeded support-bot traffic and a golden set, for the ``demo`` command, tests and examples.

The drift-tracking core never imports this package: the topic tables are package data
(``topics.json``, ``golden.json``) read by small generator modules, so a user who never
runs the demo loads none of it.

>>> s = generate(3, seed=1)
>>> len(s), s[0].timestamp
(3, '2026-01-01T00:00:00Z')
>>> [g["expected"] for g in golden_set(2)]
['Account > Billing > Invoices', '$50']
"""

from __future__ import annotations

from drift_tracking.demo.export import COLUMNS, to_frame, to_records, write
from drift_tracking.demo.golden import answer_golden, golden_set
from drift_tracking.demo.traffic import BASE_TOPICS, NOVEL_TOPICS, TOPICS, Sample, generate, topic_weights

__all__ = [
    "Sample",
    "TOPICS",
    "BASE_TOPICS",
    "NOVEL_TOPICS",
    "COLUMNS",
    "generate",
    "topic_weights",
    "to_records",
    "to_frame",
    "golden_set",
    "answer_golden",
    "write",
]
