"""What every benchmark's JSON result starts with: its name, when and where it ran.

Used by the parent processes of ``bench.listwatch``, ``bench.sync_throughput``,
``bench.store_memory`` and ``bench.api_throughput`` as they write ``bench/results/*.json``.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any


def result_header(benchmark: str) -> dict[str, Any]:
    """``{benchmark, generated_at, python, machine: {cpus, platform}}`` for a result written now."""
    return {
        "benchmark": benchmark,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }
