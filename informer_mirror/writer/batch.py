"""One resource's part of a batch: read the current records, build the documents, apply, account.

Place in the data flow: the inside of a BatchWriter cycle, on the ``writer-N`` thread holding the
keys. :meth:`GroupWriter.write` reads each key's CURRENT record from the Store (so a retry after
an outage writes the latest state, never a stale one), drops keys whose document is already
current (start-up reconciliation), builds upserts and deletes, makes one ``Backend.apply``, and
records the outcome. It raises only what the caller should retry (``BackendError``); documents
that can never be stored are skipped, logged and counted here.

Owns nothing across calls: the Stores belong to the informers, the reconciliation state to the
Reconciler, the counters to the BatchWriter (through ``count_error``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from informer_mirror.backends import ApplyResult, Backend, Delete, FailedWrite, Upsert
from informer_mirror.errors import PermanentBackendError
from informer_mirror.informer.stored import StoredObject, documents
from informer_mirror.registry import ResourceSpec
from informer_mirror.writer.documents import MirrorStamp, UnencodableDocument, build_upsert
from informer_mirror.writer.metrics_hooks import WriterMetrics
from informer_mirror.writer.reconcile import Reconciler

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Skipped:
    key: str
    reason: str
    message: str


@dataclass(slots=True)
class _Plan:
    upserts: list[Upsert] = field(default_factory=list)
    deletes: list[Delete] = field(default_factory=list)
    skipped: list[_Skipped] = field(default_factory=list)


class GroupWriter:
    """Writes the keys of one resource of a batch (see the module docstring)."""

    def __init__(
        self,
        *,
        backend: Backend,
        reconciler: Reconciler,
        cluster: str,
        formats: Mapping[str, str],
        metrics: WriterMetrics,
        count_error: Callable[[str, str], None],
        wall_clock: Callable[[], float],
    ) -> None:
        self._backend = backend
        self._reconciler = reconciler
        self._cluster = cluster
        self._formats = formats
        self._metrics = metrics
        self._count_error = count_error
        self._wall_clock = wall_clock

    def write(
        self,
        spec: ResourceSpec,
        store_get: Callable[[str], StoredObject | None],
        keys: Sequence[str],
    ) -> None:
        """Write ``keys`` (Store keys of ``spec``'s resource) as the Store holds them now."""
        name = spec.name
        records: list[StoredObject] = []
        plan = _Plan()
        for key in keys:
            record = store_get(key)
            if record is None:
                plan.deletes.append(Delete.by_key(key))
            else:
                records.append(record)
        to_write, current = self._reconciler.unchanged(name, records)
        stamp = MirrorStamp.make(
            cluster=self._cluster, wall_seconds=self._wall_clock(), format=self._formats[name]
        )
        with_uid: list[StoredObject] = []
        for record in to_write:
            if record.uid:
                with_uid.append(record)
            else:
                plan.skipped.append(
                    _Skipped(record.key, "no_uid", "the object has no metadata.uid")
                )
        # Each document read is let go as soon as its upsert holds the stamped copy, so a batch
        # holds one copy of its documents at a time, not two (resident memory: a 5,000-document
        # batch of Pods is ~7 MB per copy, and freed memory stays with the process).
        read = documents(with_uid)
        read.reverse()
        for record in with_uid:
            document = read.pop()
            try:
                plan.upserts.append(build_upsert(record, stamp, document))
            except UnencodableDocument as e:
                plan.skipped.append(_Skipped(record.key, "unencodable", str(e)))
        result = ApplyResult()
        if plan.upserts or plan.deletes:
            result = self._apply(spec, plan.upserts, plan.deletes)
        failed = {f.uid for f in result.failed}
        plan.skipped.extend(_Skipped(f.key, f.reason, f.message) for f in result.failed)
        for skip in plan.skipped:
            logger.error("%s: %s not stored (%s): %s", name, skip.key, skip.reason, skip.message)
            self._count_error(skip.reason, f"{name} {skip.key}: {skip.reason}: {skip.message}")
        self._metrics.on_written(resource=name, operation="upsert", count=result.upserted)
        self._metrics.on_written(resource=name, operation="delete", count=result.deleted)
        self._reconciler.written(
            name,
            upserted=[(u.uid, u.resource_version) for u in plan.upserts if u.uid not in failed],
            keys=keys,
            counts={
                "upsert": result.upserted,
                "delete": result.deleted,
                "skipped": len(plan.skipped),
            },
        )
        logger.debug(
            "%s: %d keys: %d upserted, %d deleted, %d current, %d skipped",
            name,
            len(keys),
            result.upserted,
            result.deleted,
            len(current),
            len(plan.skipped),
        )

    def _apply(
        self, spec: ResourceSpec, upserts: list[Upsert], deletes: list[Delete]
    ) -> ApplyResult:
        try:
            return self._backend.apply(spec, upserts, deletes)
        except PermanentBackendError as e:
            if len(upserts) + len(deletes) <= 1:
                raise  # nothing to isolate: the backend itself refuses (retried with backoff)
            self._count_error("permanent", f"{spec.name}: {e}")
            logger.warning(
                "%s: a write of %d documents was refused (%s); writing them one by one",
                spec.name,
                len(upserts) + len(deletes),
                e,
            )
        return self._apply_one_by_one(spec, upserts, deletes)

    def _apply_one_by_one(
        self, spec: ResourceSpec, upserts: list[Upsert], deletes: list[Delete]
    ) -> ApplyResult:
        """Isolate the documents the backend refuses.

        If every single write is refused too, the fault is the backend's, not the documents':
        the last error propagates and the group is retried with backoff (nothing is dropped).
        A TransientBackendError propagates as well; what was written here is rewritten,
        harmlessly.
        """
        upserted = deleted = 0
        failed: list[FailedWrite] = []
        refused: list[tuple[str, PermanentBackendError]] = []
        accepted = 0
        for delete in deletes:
            try:
                deleted += self._backend.apply(spec, [], [delete]).deleted
                accepted += 1
            except PermanentBackendError as e:
                refused.append((delete.key, e))
        for up in upserts:
            try:
                result = self._backend.apply(spec, [up], [])
            except PermanentBackendError as e:
                refused.append((up.key, e))
                failed.append(
                    FailedWrite(uid=up.uid, key=up.key, reason="rejected", message=str(e))
                )
                continue
            accepted += 1
            upserted += result.upserted
            failed.extend(result.failed)
        if refused and not accepted:
            raise refused[-1][1]
        for key, error in refused:
            if key not in {f.key for f in failed}:
                logger.error("%s: delete of %s refused: %s", spec.name, key, error)
        return ApplyResult(upserted=upserted, deleted=deleted, failed=tuple(failed))
