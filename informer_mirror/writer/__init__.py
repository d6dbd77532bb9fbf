"""The batch writer: keys from the WorkQueue in, the Stores' current state out to the backend.

Place in the data flow: between the informers' shared ``WorkQueue`` and the ``Backend``, on
threads ``writer-0`` .. ``writer-N``. Modules: ``writer`` (the BatchWriter: threads, retry,
circuit breaker, shutdown), ``batch`` (one resource's part of a batch), ``documents`` (the stored
document: ``_mirror`` stamp, normalisation), ``reconcile`` (start-up reconciliation against the
backend), ``metrics_hooks`` (the metrics Protocol and the status snapshot).
"""

from informer_mirror.writer.documents import MirrorStamp, build_upsert, document_format
from informer_mirror.writer.metrics_hooks import (
    ERROR_REASONS,
    NoWriterMetrics,
    ResourceProgress,
    WriterMetrics,
    WriterStatus,
)
from informer_mirror.writer.writer import BatchWriter, ResourceSource, breaker_policy

__all__ = [
    "ERROR_REASONS",
    "BatchWriter",
    "MirrorStamp",
    "NoWriterMetrics",
    "ResourceProgress",
    "ResourceSource",
    "WriterMetrics",
    "WriterStatus",
    "breaker_policy",
    "build_upsert",
    "document_format",
]
