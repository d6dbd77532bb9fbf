"""Transformer failures: the per-resource tally and the log-once memory.

Place in the data flow: ``ResourceSpec.to_document`` records here when a transformer raises, on
the reflector thread(s) of that resource (one per watched namespace, so this is locked); the
metrics collector and ``/api/v1/status`` read :meth:`TransformFailures.counts` from their own
threads. Owns the counts and a bounded memory of which (key, reason) pairs were already logged.

A failure is described by :func:`describe_failure` as the exception type and the code location,
never its message: messages quote values (``invalid literal for int(): '<the value>'``) and the
value may be a Secret's.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections import OrderedDict
from pathlib import PurePath

log = logging.getLogger(__name__)

LOGGED_KEYS_LIMIT = 4096
"""How many (key, reason) pairs are remembered as already logged; beyond it the oldest is
forgotten (and may be logged again), so memory stays bounded whatever the cluster holds."""


def describe_failure(exc: BaseException) -> str:
    """``TypeError in node_fields (core.py:120)``: type and innermost frame, no message."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    last = frames[-1]
    return f"{type(exc).__name__} in {last.name} ({PurePath(last.filename).name}:{last.lineno})"


class TransformFailures:
    """Counts of transformer failures for one resource, by exception type (a bounded label)."""

    def __init__(self, resource: str) -> None:
        self.resource = resource
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._logged: OrderedDict[tuple[str, str], None] = OrderedDict()

    def record(self, key: str, exc: BaseException) -> str:
        """Count a failure for object ``key``, log it the first time this key fails this way,
        and return the description stored in the document's ``transformError``."""
        reason = describe_failure(exc)
        with self._lock:
            label = type(exc).__name__
            self._counts[label] = self._counts.get(label, 0) + 1
            first = (key, reason) not in self._logged
            if first:
                self._logged[(key, reason)] = None
                if len(self._logged) > LOGGED_KEYS_LIMIT:
                    self._logged.popitem(last=False)
        if first:
            log.warning(
                "%s %s: transformer failed (%s); stored its metadata with transformError",
                self.resource,
                key,
                reason,
            )
        return reason

    def counts(self) -> dict[str, int]:
        """A snapshot: ``{exception type name: failures}`` since start."""
        with self._lock:
            return dict(self._counts)

    @property
    def total(self) -> int:
        """All failures of this resource since start."""
        with self._lock:
            return sum(self._counts.values())
