"""Log output of the daemon: one stderr handler, journald-friendly text or JSON, secrets masked.

Place in the data flow: beside it. ``cli.py`` (the only module that installs handlers) calls
:func:`configure_logging` on the main thread before anything else runs, and again once the
configuration file is loaded (``logging.level`` and ``logging.format``); every other module just
uses ``logging.getLogger(__name__)``. Owns the handler, the formatters and the masking filter.

Formats:

* ``text``: ``2025-01-02 03:04:05,678 INFO writer-0 informer_mirror.writer: ...`` for a terminal.
  Under journald (``journal=True``, see :func:`stderr_is_journal`) the timestamp is dropped, as
  the journal stamps every line itself, and each line starts with a ``<N>`` syslog priority
  (``<6>`` info, ``<4>`` warning...) that journald strips and records as the entry's PRIORITY,
  so ``journalctl -p warning`` works. Every line of a multi-line record (a traceback) gets the
  prefix, because journald reads each line as its own entry.
* ``json``: one object per line, ``{"ts", "level", "logger", "thread", "message"}`` plus
  ``"exc_info"`` (the whole traceback as one string) when there is one, for log shippers. ``ts``
  (UTC, ISO 8601) stays under journald too: it is a field of the record, not a prefix of a line;
  the ``<N>`` prefix is added in front of the object, and journald stores the bare object.

Secrets: the settings never put one in a message, but a library may (an exception quoting a URI,
a request echoed in an error). :class:`SecretMaskingFilter` sits on the handler, so it sees every
record from every logger, and replaces bearer tokens, JWTs (service-account tokens), MongoDB URI
passwords and ``password=``/``token=`` values with ``***`` in the message, the traceback and the
stack. It is defence in depth, not a licence to log secrets.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import TextIO

from informer_mirror.settings import MASK, redact_mongo_uri

FORMATS = ("text", "json")
"""Values of ``logging.format``."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
"""Text lines for a terminal or a file."""

JOURNAL_TEXT_FORMAT = "%(levelname)s %(threadName)s %(name)s: %(message)s"
"""Text lines under journald, which stamps each line itself."""

_SYSLOG_PRIORITIES = (
    (logging.CRITICAL, 2),  # crit
    (logging.ERROR, 3),  # err
    (logging.WARNING, 4),  # warning
    (logging.INFO, 6),  # info (5, notice, has no logging level)
)


def syslog_priority(levelno: int) -> int:
    """The syslog priority (``sd-daemon(3)``'s ``<N>``) of a logging level; custom levels take the
    priority of the nearest standard level at or below them."""
    for threshold, priority in _SYSLOG_PRIORITIES:
        if levelno >= threshold:
            return priority
    return 7  # debug


def stderr_is_journal(journal_stream: str | None, stream: TextIO | None = None) -> bool:
    """True when ``stream`` (default: stderr) is the journald stream systemd connected.

    ``journal_stream`` is ``$JOURNAL_STREAM`` (``device:inode``, from ``Settings.runtime``). It is
    compared with the stream's own fstat, as ``systemd.exec(5)`` recommends, because a child
    started with ``2>file`` inherits the variable but not the journal.
    """
    if not journal_stream:
        return False
    device, sep, inode = journal_stream.partition(":")
    if not (sep and device.isdigit() and inode.isdigit()):
        return False
    target = sys.stderr if stream is None else stream
    try:
        info = os.fstat(target.fileno())
    except (OSError, ValueError, AttributeError):  # closed, or a stream with no descriptor
        return False
    return info.st_dev == int(device) and info.st_ino == int(inode)


# A MongoDB URI up to the next white space or quote; redact_mongo_uri knows where a password is.
_MONGO_URI = re.compile(r"mongodb(?:\+srv)?://[^\s'\"<>]+")
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # An Authorization header value of any scheme, and a bare "Bearer <token>".
    (
        re.compile(r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?(?:[a-z]+\s+)?)[^\s'\",;]+"),
        rf"\g<1>{MASK}",
    ),
    (re.compile(r"(?i)\b(bearer\s+)(?!\*\*\*)[^\s'\",;]+"), rf"\g<1>{MASK}"),
    # A JWT (service-account and OIDC tokens) wherever it appears: header.payload.signature.
    (re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*"), MASK),
    # password=..., "token": "...", passwd: ... (the key ends right before the separator).
    (
        re.compile(
            r"(?i)\b(\w*(?:password|passwd|token)[\"']?\s*[:=]\s*[\"']?)(?!\*\*\*)[^\s'\",;&]+"
        ),
        rf"\g<1>{MASK}",
    ),
)


def mask_secrets(text: str) -> str:
    """``text`` with anything that looks like a credential replaced by ``***``."""
    text = _MONGO_URI.sub(lambda m: redact_mongo_uri(m.group(0)), text)
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class SecretMaskingFilter(logging.Filter):
    """Masks credentials in a record's message, traceback and stack (see :func:`mask_secrets`).

    Put it on a handler, not a logger: a logger's filters do not see records that propagate from
    its children. It renders the message once (``msg % args``) and keeps only the masked text,
    so a secret passed as an argument is masked too. Never drops a record.
    """

    def __init__(self) -> None:
        super().__init__()
        self._traceback = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is the handler's to report
            return True
        record.msg = mask_secrets(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatters cache the traceback in exc_text; filling it here means they print ours.
            record.exc_text = self._traceback.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_secrets(record.stack_info)
        return True


class TextFormatter(logging.Formatter):
    """Human-readable lines; under journald without timestamps and with ``<N>`` per line."""

    def __init__(self, *, journal: bool = False) -> None:
        super().__init__(JOURNAL_TEXT_FORMAT if journal else TEXT_FORMAT)
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return _prefix_priority(text, record.levelno) if self.journal else text


class JsonFormatter(logging.Formatter):
    """One JSON object per record on one line; ``<N>``-prefixed under journald."""

    def __init__(self, *, journal: bool = False) -> None:
        super().__init__()
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "ts": _utc_timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "thread": record.threadName or "",
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        # ensure_ascii: escapes keep every line 7-bit, whatever the locale of the service.
        line = json.dumps(entry, ensure_ascii=True)
        return f"<{syslog_priority(record.levelno)}>{line}" if self.journal else line


class _DaemonHandler(logging.StreamHandler[TextIO]):
    """The handler :func:`configure_logging` installs; its own class so a second call replaces it
    and leaves handlers others installed (pytest's, an embedding application's) alone.

    Without an explicit stream it writes to whatever ``sys.stderr`` is when a record arrives, as
    logging's own last-resort handler does, so a replaced or captured stderr is followed rather
    than written to after it was closed.
    """

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(sys.stderr if stream is None else stream)
        self._follows_stderr = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        if self._follows_stderr:
            self.stream = sys.stderr  # handle() holds the handler's lock around emit()
        super().emit(record)


def configure_logging(
    level: str | int,
    fmt: str = "text",
    journal: bool = False,
    *,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every log record at ``level`` or above to ``stream`` (default: stderr), formatted as
    ``fmt`` (``text`` or ``json``), journald-friendly when ``journal``, secrets masked.

    Idempotent: calling it again (e.g. once the configuration file has been read) replaces the
    handler it installed before. Returns the installed handler. Raises ValueError for an unknown
    level or format (callers pass validated settings or argparse choices).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if isinstance(level, str):
        levelno = logging.getLevelNamesMapping().get(level.upper())
        if levelno is None:
            raise ValueError(f"unknown log level {level!r}")
    else:
        levelno = level
    handler = _DaemonHandler(stream)
    handler.setFormatter(
        JsonFormatter(journal=journal) if fmt == "json" else TextFormatter(journal=journal)
    )
    handler.addFilter(SecretMaskingFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _DaemonHandler)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(levelno)
    # Python's own warnings (deprecations in a dependency) then reach the same stream, masked.
    logging.captureWarnings(True)
    return handler


def _prefix_priority(text: str, levelno: int) -> str:
    prefix = f"<{syslog_priority(levelno)}>"
    return "\n".join(prefix + line for line in text.split("\n"))


def _utc_timestamp(created: float) -> str:
    stamp = datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")
