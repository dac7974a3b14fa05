"""Settings for one-shot bulk command-line runs (imports, evaluations of many records)."""

from __future__ import annotations

import gc


def tune_gc_for_bulk() -> None:
    """What was loaded at start moves out of the collector's sight (gc.freeze), and young-generation collections
    run every 100,000 allocations instead of 700: bulk runs allocate millions of short-lived objects, and with
    the defaults the collector re-scanned the loaded modules and models often enough to be a large share of the
    run's CPU time. Only for one-shot processes; services keep the defaults."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
