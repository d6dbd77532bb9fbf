"""The informer layer: list + watch into an indexed Store, changed keys into a WorkQueue.

Data flow: kube/ ListerWatcher -> Reflector (one thread per resource) -> Informer -> ``Store``
(``store.py``, records in ``stored.py``) -> ``WorkQueue`` of keys (``workqueue.py``) -> the
BatchWriter. Backoff and the circuit breaker the reflector uses live in ``informer_mirror.retry``.
The pure building blocks are re-exported here; the thread-owning classes are imported from their
own modules.
"""

from informer_mirror.informer.store import (
    NAMESPACE_INDEX,
    ChangeKind,
    IndexFunc,
    ReplaceResult,
    Store,
    StoreChange,
    index_by_namespace,
)
from informer_mirror.informer.stored import (
    FrozenDict,
    FrozenList,
    StoredObject,
    TransformFunc,
    object_key,
    split_key,
    strip_managed_fields,
)
from informer_mirror.informer.workqueue import (
    ItemExponentialRateLimiter,
    NoQueueMetrics,
    QueueMetrics,
    RateLimiter,
    WorkQueue,
)

__all__ = [
    "NAMESPACE_INDEX",
    "ChangeKind",
    "FrozenDict",
    "FrozenList",
    "IndexFunc",
    "ItemExponentialRateLimiter",
    "NoQueueMetrics",
    "QueueMetrics",
    "RateLimiter",
    "ReplaceResult",
    "Store",
    "StoreChange",
    "StoredObject",
    "TransformFunc",
    "WorkQueue",
    "index_by_namespace",
    "object_key",
    "split_key",
    "strip_managed_fields",
]
