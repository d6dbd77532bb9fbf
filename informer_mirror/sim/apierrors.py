"""The simulated API server's errors, each of which becomes a real ``Status`` object on the wire.

Place in the data flow: raised by ``ClusterState`` (``sim/state.py``, which re-exports them) and by
the HTTP layer (``sim/handler.py``, ``sim/faults.py``) on whichever thread handles a request or
writes to the state; ``sim/handler.py`` turns them into HTTP responses with
``SimError.to_status()``. Messages, reasons and ``details`` follow
``k8s.io/apimachinery/pkg/api/errors`` so clients see what a real apiserver sends. Pure values; no
thread owns anything here.
"""

from __future__ import annotations

from typing import Any

from informer_mirror.errors import InformerMirrorError
from informer_mirror.kinds import KindInfo

Obj = dict[str, Any]


class SimError(InformerMirrorError):
    """An API error of the simulated server: HTTP ``status``, Status ``reason`` and ``message``.

    ``details`` is the Status ``details`` object (``name``, ``group``, ``kind``, ``causes``);
    ``retry_after`` adds ``details.retryAfterSeconds`` and the ``Retry-After`` header;
    ``list_continue`` is the ``metadata.continue`` of an expired-continue Status.
    """

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        details: Obj | None = None,
        retry_after: int | None = None,
        list_continue: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details
        self.retry_after = retry_after
        self.list_continue = list_continue

    def to_status(self) -> Obj:
        """The ``Status`` object the real API server sends for this error."""
        meta: Obj = {"continue": self.list_continue} if self.list_continue else {}
        body: Obj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": meta,
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None or self.retry_after is not None:
            details = dict(self.details or {})
            if self.retry_after is not None:
                details["retryAfterSeconds"] = self.retry_after
            body["details"] = details
        body["code"] = self.status
        return body


class SimBadRequest(SimError):
    """400 BadRequest."""

    def __init__(self, message: str, **kw: Any) -> None:
        super().__init__(400, "BadRequest", message, **kw)


class SimNotFound(SimError):
    """404 NotFound: the object, its namespace, or the resource type does not exist."""

    def __init__(self, message: str, **kw: Any) -> None:
        super().__init__(404, "NotFound", message, **kw)


class SimConflict(SimError):
    """409: ``AlreadyExists`` on create, ``Conflict`` on a stale resourceVersion."""

    def __init__(self, message: str, *, reason: str = "Conflict", **kw: Any) -> None:
        super().__init__(409, reason, message, **kw)


class SimExpired(SimError):
    """410 Expired: a resourceVersion or continue token older than the retained history."""

    def __init__(self, message: str, **kw: Any) -> None:
        super().__init__(410, "Expired", message, **kw)


class SimInvalid(SimError):
    """422 Invalid: the object (or the list options) failed validation."""

    def __init__(self, message: str, **kw: Any) -> None:
        super().__init__(422, "Invalid", message, **kw)


class SimTooLarge(SimError):
    """504 Timeout with cause ``ResourceVersionTooLarge``: an RV the server has not reached."""

    def __init__(self, requested: int, current: int) -> None:
        super().__init__(
            504,
            "Timeout",
            f"Too large resource version: {requested}, current: {current}",
            details={
                "causes": [
                    {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
                ]
            },
            retry_after=1,
        )


def details_for(kind: KindInfo, name: str | None = None) -> Obj:
    """Status ``details`` naming an object (or a resource) the way the apiserver does."""
    details: Obj = {}
    if name is not None:
        details["name"] = name
    if kind.group:
        details["group"] = kind.group
    details["kind"] = kind.plural
    return details


def qualified(kind: KindInfo) -> str:
    """``pods`` or ``deployments.apps``: how error messages name a resource."""
    return f"{kind.plural}.{kind.group}" if kind.group else kind.plural


def not_found(kind: KindInfo, name: str) -> SimNotFound:
    """404 for a missing object: ``pods "web" not found``."""
    return SimNotFound(f'{qualified(kind)} "{name}" not found', details=details_for(kind, name))


def already_exists(kind: KindInfo, name: str) -> SimConflict:
    """409 AlreadyExists on create."""
    return SimConflict(
        f'{qualified(kind)} "{name}" already exists',
        reason="AlreadyExists",
        details=details_for(kind, name),
    )


def modified_conflict(kind: KindInfo, name: str) -> SimConflict:
    """409 Conflict on a write carrying a stale resourceVersion."""
    return SimConflict(
        f'Operation cannot be fulfilled on {qualified(kind)} "{name}": the object has been '
        "modified; please apply your changes to the latest version and try again",
        details=details_for(kind, name),
    )


def invalid_field(kind: KindInfo, name: str, field: str, problem: str) -> SimInvalid:
    """422 Invalid naming one field: ``Pod "" is invalid: metadata.name: Required value``."""
    reason = "FieldValueRequired" if problem.startswith("Required value") else "FieldValueInvalid"
    details: Obj = {"name": name} if name else {}
    if kind.group:
        details["group"] = kind.group
    details["kind"] = kind.kind
    details["causes"] = [{"reason": reason, "message": problem, "field": field}]
    return SimInvalid(f'{kind.kind} "{name}" is invalid: {field}: {problem}', details=details)
