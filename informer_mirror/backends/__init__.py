"""Backends: the database the mirror is kept in, behind one protocol.

Place in the data flow: the end of the pipeline. :func:`open_backend` runs once on the main thread
(the daemon's composition root); the returned :class:`Backend` is then shared by the BatchWriter
threads (writes), the API worker threads (reads) and the health monitor (ping).

Modules: ``base`` (the protocol and the value types crossing it), ``sqlite`` and ``sqlite_sql``
(the embedded default), ``mongo`` (the only importer of pymongo/bson) and ``mongo_query``
(filters and pipelines as plain data).
"""

from __future__ import annotations

from informer_mirror.backends.base import (
    MAX_DOCUMENT_BYTES,
    ApplyResult,
    Backend,
    Delete,
    FailedWrite,
    FieldComparison,
    GroupCount,
    JsonScalar,
    QueryResult,
    Upsert,
    parse_sort,
)
from informer_mirror.backends.sqlite import SqliteBackend
from informer_mirror.registry.transformers.common import MIRROR_FIELD
from informer_mirror.settings import Settings, SqliteBackendSettings

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MIRROR_FIELD",
    "ApplyResult",
    "Backend",
    "Delete",
    "FailedWrite",
    "FieldComparison",
    "GroupCount",
    "JsonScalar",
    "QueryResult",
    "SqliteBackend",
    "Upsert",
    "open_backend",
    "parse_sort",
]


def open_backend(settings: Settings) -> Backend:
    """The backend ``settings.backend`` configures, scoped to ``settings.cluster.name``.

    SQLite opens (and creates) its file now; MongoDB connects lazily, on the first call. Raises
    PermanentBackendError (a wrong or foreign file, SQLite too old) or TransientBackendError (the
    file cannot be opened right now).
    """
    section = settings.backend
    cluster = settings.cluster.name
    if isinstance(section, SqliteBackendSettings):
        return SqliteBackend(section.path, cluster=cluster)
    # imported here so that a SQLite deployment never loads pymongo
    from informer_mirror.backends.mongo import MongoBackend  # noqa: PLC0415

    return MongoBackend.from_settings(section, cluster=cluster)
