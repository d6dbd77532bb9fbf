"""A scripted ListerWatcher: a fake at our own seam for reflector edge cases the sim cannot produce.

The simulated cluster (real HTTP) covers the protocol; this covers byte-exact event sequences a
well-behaved server never sends (malformed events, synthetic ADDED events out of RV order, a
TooLarge list) and records every call the reflector made, so a test can check the RV ladder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from informer_mirror.kinds import BUILTIN_BY_PLURAL
from informer_mirror.kube import ApiResource, ListPage, MalformedEvent, WatchEvent

Script = list[Any]
"""Watch script items: WatchEvent, MalformedEvent, or an exception to raise."""


@dataclass
class Call:
    verb: str
    resource_version: str | None
    limit: int = 0
    continue_token: str | None = None
    send_initial_events: bool = False


class FakeStream:
    """Yields its script, then ends (``end=True``) or blocks until closed."""

    def __init__(self, script: Script, *, end: bool) -> None:
        self._script = script
        self._end = end
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        self._closed.set()

    def __iter__(self) -> Iterator[WatchEvent | MalformedEvent]:
        for item in self._script:
            if self._closed.is_set():
                return
            if isinstance(item, BaseException):
                raise item
            yield item
        if not self._end:
            self._closed.wait(30)


@dataclass
class ScriptedListerWatcher:
    """``lists``: answers to list calls in order (a ListPage or an exception); ``watches``: one
    script per watch call; when a script list runs out the watch idles until closed."""

    lists: list[Any] = field(default_factory=list)
    watches: list[Script] = field(default_factory=list)
    end_watches: bool = False
    resource: ApiResource = field(
        default_factory=lambda: ApiResource.from_kind(BUILTIN_BY_PLURAL["pods"])
    )
    calls: list[Call] = field(default_factory=list)
    on_call: Callable[[Call], None] | None = None

    def __post_init__(self) -> None:
        self._closed = threading.Event()
        self._open: list[FakeStream] = []

    def list_page(
        self, *, resource_version: str | None, limit: int, continue_token: str | None
    ) -> ListPage:
        call = Call("list", resource_version, limit, continue_token)
        self._record(call)
        answer = self.lists.pop(0) if self.lists else ListPage([], "", "")
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, ListPage)
        return answer

    def watch(
        self, *, resource_version: str, timeout_seconds: int, send_initial_events: bool = False
    ) -> FakeStream:
        self._record(Call("watch", resource_version, send_initial_events=send_initial_events))
        script = self.watches.pop(0) if self.watches else []
        if script and isinstance(script[0], BaseException) and len(script) == 1:
            raise script[0]
        stream = FakeStream(script, end=self.end_watches)
        self._open.append(stream)
        if self._closed.is_set():
            stream.close()
        return stream

    def close(self) -> None:
        self._closed.set()
        for stream in self._open:
            stream.close()

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)


def pod(name: str, rv: str, *, uid: str | None = None, ns: str = "default") -> dict[str, Any]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": uid or f"uid-{name}",
            "resourceVersion": rv,
        },
    }


def event(etype: str, obj: dict[str, Any]) -> WatchEvent:
    return WatchEvent(etype, obj)


def bookmark(rv: str, **annotations: str) -> WatchEvent:
    meta: dict[str, Any] = {"resourceVersion": rv}
    if annotations:
        meta["annotations"] = dict(annotations)
    return WatchEvent("BOOKMARK", {"kind": "Pod", "apiVersion": "v1", "metadata": meta})
