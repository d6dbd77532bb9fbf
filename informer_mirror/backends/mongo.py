"""The MongoDB backend (pymongo): one collection per resource, ``_id`` = uid, unordered bulk writes.

Place in the data flow: the end of the pipeline when ``backend.kind`` is ``mongo``. BatchWriter
threads call :meth:`MongoBackend.apply`, API worker threads the queries, the health monitor
:meth:`MongoBackend.ping`; pymongo's ``MongoClient`` is thread-safe and pools connections, so
one instance serves them all. This is the only module that imports ``pymongo`` or ``bson``
(``tests/test_layering.py`` checks it); filters and pipelines are built in ``mongo_query.py``.

Writes: each batch is one ``bulk_write(ordered=False)`` of ``ReplaceOne(upsert=True)`` (whole
documents, so dotted label keys are never field paths) and ``DeleteOne``/``DeleteMany``. Every
document is encoded to BSON here, once, and handed to pymongo as a ``RawBSONDocument`` so pymongo
does not encode it again; encoding each one separately means a document that cannot be stored
(over 16 MiB, an integer beyond 64 bits) is found, reported and skipped before the bulk is sent,
and never fails its batch. On ``BulkWriteError`` only the failed operations are looked at: a
duplicate key on (cluster, namespace, name) means the object was recreated under a new uid (the
stale document is deleted and the upsert retried), transient codes are retried a few times, the
rest are reported as rejected. A write concern error makes the whole call transient: the writer
repeats it, which is safe because every operation is idempotent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import bson
import orjson
import pymongo
from bson.raw_bson import RawBSONDocument
from pymongo import DeleteMany, DeleteOne, ReplaceOne
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    ExecutionTimeout,
    OperationFailure,
    PyMongoError,
    WaitQueueTimeoutError,
    WTimeoutError,
)
from pymongo.write_concern import WriteConcern

from informer_mirror.backends import mongo_query as mq
from informer_mirror.backends.base import (
    MAX_DOCUMENT_BYTES,
    ApplyResult,
    Delete,
    FailedWrite,
    FailureReason,
    FieldComparison,
    GroupCount,
    JsonScalar,
    QueryResult,
    Upsert,
    check_field,
    check_page,
    label_requirements,
    parse_sort,
    sorted_groups,
)
from informer_mirror.errors import BackendError, PermanentBackendError, TransientBackendError
from informer_mirror.registry import ResourceSpec
from informer_mirror.selectors import LabelRequirement
from informer_mirror.settings import MongoBackendSettings

logger = logging.getLogger(__name__)

# Server error codes worth retrying (mongo/base/error_codes.yml: network, failover, lock and
# time-limit errors, and Cosmos DB's "request rate too large").
TRANSIENT_CODES = frozenset(
    {6, 7, 24, 46, 50, 64, 89, 91, 112, 117, 133, 134, 189, 262, 9001, 10107, 11600, 11602}
    | {13435, 13436, 16500}
)
TOO_LARGE_CODES = frozenset({10334, 17419, 17420})
DUPLICATE_KEY = 11000


def translate(error: PyMongoError, what: str) -> BackendError:
    """Our error for a pymongo one: transient when worth retrying, else permanent."""
    message = f"mongo: {what}: {error}"
    if isinstance(error, ConnectionFailure | ExecutionTimeout | WTimeoutError):
        return TransientBackendError(message)
    if isinstance(error, WaitQueueTimeoutError):
        return TransientBackendError(message)
    if isinstance(error, OperationFailure) and (
        error.code in TRANSIENT_CODES or error.has_error_label("RetryableWriteError")
    ):
        return TransientBackendError(message)
    return PermanentBackendError(message)


@dataclass(frozen=True, slots=True)
class _Op:
    op: ReplaceOne[Any] | DeleteOne | DeleteMany
    upsert: Upsert | None = None
    delete: Delete | None = None

    @property
    def key(self) -> str:
        item = self.upsert or self.delete
        return item.key if item is not None else "?"


class MongoBackend:
    """The mirror in a MongoDB database (see the module docstring)."""

    def __init__(
        self,
        *,
        client: Any,
        database: str,
        cluster: str,
        write_concern: WriteConcern | None = None,
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
        write_retries: int = 2,
        description: str = "mongodb",
    ) -> None:
        """``client``: a ``pymongo.MongoClient`` (or a compatible fake, e.g. mongomock's).
        ``write_retries``: how often one ``apply`` re-sends operations that failed transiently
        before it gives up with TransientBackendError (the writer then backs off)."""
        self._client = client
        self._db = client[database]
        self.cluster = cluster
        self.max_document_bytes = max_document_bytes
        self._write_concern = write_concern or WriteConcern(w=1)
        self._write_retries = write_retries
        self._description = description
        self._specs: dict[str, ResourceSpec] = {}
        self._closed = threading.Event()

    @classmethod
    def from_settings(cls, settings: MongoBackendSettings, *, cluster: str) -> MongoBackend:
        """A backend on a new ``MongoClient`` for ``settings``; connects lazily, so a server
        that is down now makes the first call fail (transient), not this one."""
        timeout_ms = max(1, int(settings.timeout * 1000))
        try:
            client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
                settings.uri,
                appname="informer-mirror",
                connect=False,
                serverSelectionTimeoutMS=timeout_ms,
                connectTimeoutMS=timeout_ms,
                # a bulk of a few hundred documents takes milliseconds; a socket silent for
                # this long is dead, and the writer's retry takes over
                socketTimeoutMS=6 * timeout_ms,
            )
        except PyMongoError as e:
            raise PermanentBackendError(
                f"mongo: {settings.redacted_uri}: cannot configure a client: {e}"
            ) from e
        concern = WriteConcern(w=settings.write_concern.w, j=settings.write_concern.j)
        return cls(
            client=client,
            database=settings.database,
            cluster=cluster,
            write_concern=concern,
            description=f"{settings.redacted_uri} database {settings.database}",
        )

    @property
    def kind(self) -> str:
        """``mongo``."""
        return "mongo"

    def describe(self) -> str:
        """The URI with its password masked, and the database."""
        return self._description

    def _collection(self, spec: ResourceSpec) -> Any:
        if self._closed.is_set():
            raise PermanentBackendError(f"mongo: {self._description}: backend is closed")
        return self._db.get_collection(spec.collection, write_concern=self._write_concern)

    # -- schema and writes ---------------------------------------------------------------------

    def ensure_schema(self, spec: ResourceSpec) -> None:
        """Create the collection's indexes (the collection itself appears with the first one)."""
        collection = self._collection(spec)
        try:
            for name, keys, unique in mq.index_specs(spec.indexes):
                collection.create_index(keys, name=name, unique=unique)
        except PyMongoError as e:
            raise translate(e, f"{spec.name}: cannot create indexes") from e
        self._specs[spec.name] = spec

    def encode(self, up: Upsert) -> RawBSONDocument | FailedWrite:
        """The BSON document stored for ``up`` (``_id`` and ``_labels`` added), or why not."""
        if len(up.document) > self.max_document_bytes:  # JSON is a fair bound; BSON checked below
            return _failed(up, "too_large", f"{len(up.document)} bytes of JSON")
        try:
            doc = orjson.loads(up.document)
            if not isinstance(doc, dict):
                return _failed(up, "unencodable", "the document is not a JSON object")
            doc["_id"] = up.uid
            doc[mq.LABELS_FIELD] = mq.label_pairs(doc.get("labels"))
            data = bson.encode(doc)
        except (orjson.JSONDecodeError, bson.errors.BSONError, OverflowError, ValueError) as e:
            return _failed(up, "unencodable", f"{type(e).__name__}: {e}")
        if len(data) > self.max_document_bytes:
            return _failed(up, "too_large", f"{len(data)} bytes of BSON")
        return RawBSONDocument(data)

    def apply(
        self, spec: ResourceSpec, upserts: Sequence[Upsert], deletes: Sequence[Delete]
    ) -> ApplyResult:
        """One unordered bulk write of the batch (see the module docstring)."""
        failed: list[FailedWrite] = []
        ops: list[_Op] = []
        for d in deletes:
            if d.uid is not None:
                ops.append(_Op(DeleteOne({"_id": d.uid, mq.CLUSTER_FIELD: self.cluster}), delete=d))
            else:
                ops.append(
                    _Op(DeleteMany(mq.key_filter(self.cluster, d.namespace, d.name)), delete=d)
                )
        for up in upserts:
            encoded = self.encode(up)
            if isinstance(encoded, FailedWrite):
                failed.append(encoded)
            else:
                ops.append(_Op(ReplaceOne({"_id": up.uid}, encoded, upsert=True), upsert=up))
        sent_upserts = sum(1 for o in ops if o.upsert is not None)
        if not ops:
            return ApplyResult(failed=tuple(failed))
        collection = self._collection(spec)
        deleted = 0
        pending = ops
        rejected_upserts = 0
        for attempt in range(self._write_retries + 1):
            try:
                result = collection.bulk_write([o.op for o in pending], ordered=False)
                deleted += int(result.deleted_count or 0) if result.acknowledged else 0
                pending = []
                break
            except BulkWriteError as e:
                details: Mapping[str, Any] = e.details or {}
                deleted += int(details.get("nRemoved", 0))
                if details.get("writeConcernErrors"):
                    raise TransientBackendError(
                        f"mongo: {spec.name}: write concern not satisfied: "
                        f"{details['writeConcernErrors'][0].get('errmsg')}"
                    ) from e
                pending, rejected = self._sort_out(spec, pending, details, failed)
                rejected_upserts += rejected
                logger.debug(
                    "%s: retrying %d operations of a bulk write (attempt %d)",
                    spec.name,
                    len(pending),
                    attempt + 1,
                )
            except PyMongoError as e:
                raise translate(e, f"{spec.name}: bulk write of {len(pending)} ops") from e
        if pending:
            raise TransientBackendError(
                f"mongo: {spec.name}: {len(pending)} operations still failing after "
                f"{self._write_retries + 1} attempts"
            )
        return ApplyResult(
            upserted=sent_upserts - rejected_upserts, deleted=deleted, failed=tuple(failed)
        )

    def _sort_out(
        self,
        spec: ResourceSpec,
        pending: list[_Op],
        details: Mapping[str, Any],
        failed: list[FailedWrite],
    ) -> tuple[list[_Op], int]:
        """Split a BulkWriteError's failed operations into retries and rejections; clear the
        stale documents that block recreated objects. Returns (retries, rejected upserts)."""
        retry: list[_Op] = []
        stale: list[dict[str, Any]] = []
        rejected = 0
        for error in details.get("writeErrors", []):
            item = pending[int(error["index"])]
            code = error.get("code")
            message = str(error.get("errmsg", ""))[:300]
            if code == DUPLICATE_KEY and item.upsert is not None:
                up = item.upsert
                stale.append(
                    {**mq.key_filter(self.cluster, up.namespace, up.name), "_id": {"$ne": up.uid}}
                )
                retry.append(item)
            elif code in TRANSIENT_CODES:
                logger.warning("%s: write of %s failed: %s; retrying", spec.name, item.key, message)
                retry.append(item)
            elif item.upsert is not None:
                reason: FailureReason = "too_large" if code in TOO_LARGE_CODES else "rejected"
                failed.append(_failed(item.upsert, reason, f"code {code}: {message}"))
                rejected += 1
            else:
                assert item.delete is not None
                logger.error("%s: delete of %s refused: %s", spec.name, item.delete.key, message)
        if stale:
            try:
                self._collection(spec).delete_many({"$or": stale})
            except PyMongoError as e:
                raise translate(e, f"{spec.name}: removing documents of recreated objects") from e
        return retry, rejected

    # -- reads ---------------------------------------------------------------------------------

    def versions(self, spec: ResourceSpec) -> dict[str, str]:
        """``{uid: resourceVersion}`` of this cluster's documents of the resource."""
        try:
            cursor = self._collection(spec).find(
                mq.scope(self.cluster), {"_id": 1, "resourceVersion": 1}, batch_size=10_000
            )
            return {str(d["_id"]): str(d.get("resourceVersion") or "") for d in cursor}
        except PyMongoError as e:
            raise translate(e, f"{spec.name}: reading versions") from e

    def query(
        self,
        spec: ResourceSpec,
        *,
        namespace: str | None = None,
        search: str | None = None,
        label_selector: str | Sequence[LabelRequirement] | None = None,
        page: int = 1,
        limit: int = 10,
        sort: str | None = None,
    ) -> QueryResult:
        """One page and the total (two reads: they may see different moments)."""
        requirements = label_requirements(label_selector)
        check_page(page, limit)
        sort_keys = mq.sort_keys(parse_sort(sort))
        where = mq.list_filter(
            self.cluster, namespace=namespace, search=search, requirements=requirements
        )
        collection = self._collection(spec)
        try:
            total = int(collection.count_documents(where))
            cursor = collection.find(where, mq.PROJECTION).sort(sort_keys)
            items = list(cursor.skip((page - 1) * limit).limit(limit))
        except PyMongoError as e:
            raise translate(e, f"{spec.name}: query") from e
        return QueryResult(items, total)

    def get(self, spec: ResourceSpec, uid: str) -> dict[str, Any] | None:
        """The document of ``uid`` in this cluster, or None."""
        try:
            doc = self._collection(spec).find_one(
                {"_id": uid, mq.CLUSTER_FIELD: self.cluster}, mq.PROJECTION
            )
        except PyMongoError as e:
            raise translate(e, f"{spec.name}: get") from e
        return dict(doc) if doc is not None else None

    def count(self, spec: ResourceSpec, *, namespace: str | None = None) -> int:
        """This cluster's documents of the resource (in ``namespace`` if given)."""
        where = mq.scope(self.cluster)
        if namespace is not None:
            where["namespace"] = namespace
        try:
            return int(self._collection(spec).count_documents(where))
        except PyMongoError as e:
            raise translate(e, f"{spec.name}: count") from e

    def counts(self) -> dict[str, int]:
        """Documents per resource whose schema was ensured."""
        return {name: self.count(spec) for name, spec in list(self._specs.items())}

    def group_counts(
        self,
        spec: ResourceSpec,
        field: str | FieldComparison,
        *,
        namespace: str | None = None,
    ) -> list[GroupCount]:
        """Documents per value of ``field`` or of a comparison, most frequent first."""
        if not isinstance(field, FieldComparison):
            check_field(field)
        pipeline = mq.group_pipeline(self.cluster, field, namespace=namespace)
        try:
            rows = list(self._collection(spec).aggregate(pipeline))
        except PyMongoError as e:
            raise translate(e, f"{spec.name}: group counts") from e
        return sorted_groups((_scalar(row["_id"]), int(row["n"])) for row in rows)

    # -- lifecycle -----------------------------------------------------------------------------

    def ping(self) -> None:
        """Ask the server for ``ping`` (selects a server, so a dead one fails here)."""
        if self._closed.is_set():
            raise PermanentBackendError(f"mongo: {self._description}: backend is closed")
        try:
            self._client.admin.command("ping")
        except PyMongoError as e:
            raise translate(e, "ping") from e

    def close(self) -> None:
        """Close the client's connection pools; later calls raise PermanentBackendError."""
        if not self._closed.is_set():
            self._closed.set()
            self._client.close()


def _failed(up: Upsert, reason: FailureReason, message: str) -> FailedWrite:
    return FailedWrite(uid=up.uid, key=up.key, reason=reason, message=message)


def _scalar(value: Any) -> JsonScalar:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return orjson.dumps(value, default=str).decode()  # a sub-document: its JSON text
