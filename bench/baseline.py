"""The naive "old system" every benchmark compares against (bench/ only, never the product).

What the seed's old code did, and what most scripts built on the official client still do: the
``kubernetes`` client's typed models (``CoreV1Api.list_pod_for_all_namespaces`` in pages of 500,
then ``watch.Watch().stream``), each object turned back into a dict with
``sanitize_for_serialization``, transformed by the same registry transformer as the mirror (so both
store the same document), and written with **one upsert per event**: SQLite ``INSERT OR REPLACE``
in its own transaction (autocommit, WAL), MongoDB ``find_one_and_update(upsert=True)``.

It keeps no state between runs: a restart relists and rewrites every object. It has no cache and
no work queue: a burst is written event by event, in the thread that reads the watch.

Used from child processes of ``bench.suite`` (and available to ``bench.sync_throughput``); one
thread at a time per :class:`NaiveMirror`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

PAGE = 500


class NaiveSink:
    """One upsert per object, the way the seed's old system wrote: ``kind`` is ``sqlite`` (a file
    path in ``where``) or ``mongo`` (a URI in ``where``)."""

    def __init__(self, kind: str, where: str) -> None:
        self.kind = kind
        self.writes = 0
        if kind == "sqlite":
            self.db = sqlite3.connect(where, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS pods (uid TEXT PRIMARY KEY, namespace TEXT, "
                "name TEXT, resource_version TEXT, doc TEXT)"
            )
        else:
            import pymongo  # noqa: PLC0415 - only when the baseline runs against MongoDB

            self.collection: Any = pymongo.MongoClient(where)["bench_naive"]["pods"]

    def upsert(self, doc: dict[str, Any]) -> None:
        self.writes += 1
        if self.kind == "sqlite":
            self.db.execute(
                "INSERT OR REPLACE INTO pods VALUES (?, ?, ?, ?, ?)",
                (
                    doc["uid"],
                    doc["namespace"],
                    doc["name"],
                    doc["resourceVersion"],
                    json.dumps(doc),
                ),
            )
        else:
            self.collection.find_one_and_update({"uid": doc["uid"]}, {"$set": doc}, upsert=True)

    def versions(self) -> dict[str, str]:
        """``{uid: resourceVersion}`` of what the sink holds."""
        if self.kind == "sqlite":
            return dict(self.db.execute("SELECT uid, resource_version FROM pods").fetchall())
        return {d["uid"]: d["resourceVersion"] for d in self.collection.find({})}

    def close(self) -> None:
        if self.kind == "sqlite":
            self.db.close()


class NaiveMirror:
    """The old system's Pod mirror: typed list, typed watch, one upsert per object."""

    def __init__(self, kubeconfig: str, kind: str, where: str) -> None:
        import kubernetes  # noqa: PLC0415 - the baseline, in bench/ only

        from informer_mirror.registry import build_registry  # noqa: PLC0415
        from informer_mirror.settings import ClusterSettings, Settings  # noqa: PLC0415

        self._kubernetes: Any = kubernetes  # the typed client, used untyped as scripts do
        self.registry = build_registry(Settings(cluster=ClusterSettings(name="bench")))
        self.api_client: Any = self._kubernetes.config.new_client_from_config(
            config_file=kubeconfig
        )
        self.core: Any = self._kubernetes.client.CoreV1Api(self.api_client)
        self.sink = NaiveSink(kind, where)
        self._watcher: Any = None

    def write(self, pod: Any) -> str:
        """Upsert one typed Pod; its resourceVersion."""
        raw = self.api_client.sanitize_for_serialization(pod)
        self.sink.upsert(self.registry.to_document("pods", raw))
        return str(raw["metadata"]["resourceVersion"])

    def initial_sync(self) -> str:
        """List every Pod page by page, writing each; the list's resourceVersion."""
        token = None
        list_rv = ""
        while True:
            page = self.core.list_pod_for_all_namespaces(limit=PAGE, _continue=token)
            if token is None:
                list_rv = page.metadata.resource_version
            for pod in page.items:
                self.write(pod)
            token = page.metadata._continue
            if not token:
                return str(list_rv)

    def events(self, resource_version: str) -> Iterator[dict[str, Any]]:
        """The typed watch from ``resource_version``: ``{"type", "object"}`` per event."""
        self._watcher = self._kubernetes.watch.Watch()
        yield from self._watcher.stream(
            self.core.list_pod_for_all_namespaces,
            resource_version=resource_version,
            timeout_seconds=3600,
        )

    def run_watch(self, resource_version: str, on_written: Callable[[str], bool]) -> None:
        """Write every watch event; ``on_written(rv)`` after each, False ends the watch."""
        for event in self.events(resource_version):
            if not on_written(self.write(event["object"])):
                break

    def stop_watch(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()

    def close(self) -> None:
        self.sink.close()
        self.api_client.close()
