"""Log output: journald priority prefixes, JSON lines, secret masking, and the one handler."""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from informer_mirror import cli
from informer_mirror.logsetup import (
    SecretMaskingFilter,
    configure_logging,
    mask_secrets,
    stderr_is_journal,
    syslog_priority,
)

TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl"
"""A service-account token (a JWT) as the API server issues them."""
OPAQUE = "s3cr3t-0paque-t0ken-value"
"""A token that is not a JWT: only its context (Bearer, Authorization, token=) gives it away."""
PASSWORD = "hunter2/with@signs"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d")


@pytest.fixture
def restore_root() -> Iterator[logging.Logger]:
    """The root logger's handlers and level as they were before the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield root
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
        logging.captureWarnings(False)


@pytest.fixture
def stream(restore_root: logging.Logger) -> io.StringIO:
    return io.StringIO()


def _lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def _log_a_failure(logger: logging.Logger) -> None:
    try:
        raise RuntimeError("backend went away")
    except RuntimeError:
        logger.exception("writing %d documents of %s failed", 3, "pods")


def test_under_journald_each_line_starts_with_its_syslog_priority_and_has_no_timestamp(
    stream: io.StringIO,
) -> None:
    configure_logging("DEBUG", "text", journal=True, stream=stream)
    log = logging.getLogger("informer_mirror.test")

    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("e")
    log.critical("c")

    prefixes = [line[:3] for line in _lines(stream)]
    assert prefixes == ["<7>", "<6>", "<4>", "<3>", "<2>"]
    assert not any(TIMESTAMP.search(line) for line in _lines(stream))
    assert _lines(stream)[1] == "<6>INFO MainThread informer_mirror.test: i"


def test_every_line_of_a_traceback_carries_the_priority_under_journald(
    stream: io.StringIO,
) -> None:
    configure_logging("INFO", "text", journal=True, stream=stream)

    _log_a_failure(logging.getLogger("informer_mirror.writer"))

    lines = _lines(stream)
    assert len(lines) > 3
    assert all(line.startswith("<3>") for line in lines)
    assert (
        lines[0] == "<3>ERROR MainThread informer_mirror.writer: writing 3 documents of pods failed"
    )
    assert lines[-1] == "<3>RuntimeError: backend went away"


def test_text_for_a_terminal_has_a_timestamp_and_no_priority(stream: io.StringIO) -> None:
    configure_logging("INFO", "text", journal=False, stream=stream)

    logging.getLogger("informer_mirror.test").warning("reflector/pods: retrying")

    (line,) = _lines(stream)
    assert TIMESTAMP.match(line)
    assert line.endswith(" WARNING MainThread informer_mirror.test: reflector/pods: retrying")


def test_json_format_writes_one_parseable_object_per_record(stream: io.StringIO) -> None:
    configure_logging("INFO", "json", journal=False, stream=stream)
    log = logging.getLogger("informer_mirror.writer")

    log.info("flushed %d documents\nof %s", 500, "pods")
    _log_a_failure(log)

    lines = _lines(stream)
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first == {
        "ts": first["ts"],
        "level": "INFO",
        "logger": "informer_mirror.writer",
        "thread": "MainThread",
        "message": "flushed 500 documents\nof pods",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert second["level"] == "ERROR"
    assert second["exc_info"].startswith("Traceback (most recent call last):")
    assert second["exc_info"].endswith("RuntimeError: backend went away")


def test_json_under_journald_is_prefixed_by_the_priority_and_still_parses(
    stream: io.StringIO,
) -> None:
    configure_logging("INFO", "json", journal=True, stream=stream)

    logging.getLogger("informer_mirror.health").warning("writer stalled")

    (line,) = _lines(stream)
    assert line.startswith("<4>{")
    assert json.loads(line[3:])["message"] == "writer stalled"


def test_records_below_the_configured_level_are_dropped(stream: io.StringIO) -> None:
    configure_logging("warning", "text", stream=stream)
    log = logging.getLogger("informer_mirror.test")

    log.info("not shown")
    log.warning("shown")

    assert [line.split(": ", 1)[1] for line in _lines(stream)] == ["shown"]


def test_configuring_again_replaces_the_handler_instead_of_adding_one(
    restore_root: logging.Logger,
) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("INFO", "text", stream=first)
    handler = configure_logging("DEBUG", "json", stream=second)

    logging.getLogger("informer_mirror.test").debug("once")

    assert first.getvalue() == ""
    assert json.loads(second.getvalue())["message"] == "once"
    assert handler in restore_root.handlers
    assert sum(1 for h in restore_root.handlers if type(h) is type(handler)) == 1


def test_an_unknown_level_or_format_is_a_programming_error(stream: io.StringIO) -> None:
    with pytest.raises(ValueError, match="log level"):
        configure_logging("LOUD", "text", stream=stream)
    with pytest.raises(ValueError, match="log format"):
        configure_logging("INFO", "xml", stream=stream)


@pytest.mark.parametrize(
    ("template", "secret"),
    [
        ("request failed: Authorization: Bearer {}", OPAQUE),
        ("sending header {{'Authorization': 'Basic {}'}}", OPAQUE),
        ("using bearer {} for the API server", OPAQUE),
        ("token rejected: {}", TOKEN),
        ("cannot connect to mongodb://mirror:{}@db-1:27017/admin?replicaSet=rs0", PASSWORD),
        ("cannot connect to mongodb+srv://mirror:{}@cluster0.example.net/db", PASSWORD),
        ("ssl=true&tlsCertificateKeyFilePassword={}", OPAQUE),
        ("config: password={} token = {}", OPAQUE),
        ('{{"access_token": "{}"}}', OPAQUE),
    ],
)
def test_secrets_in_a_message_are_masked(template: str, secret: str) -> None:
    text = template.format(secret, secret)

    masked = mask_secrets(text)

    assert secret not in masked
    assert "***" in masked


def test_masking_keeps_the_context_an_operator_needs() -> None:
    assert mask_secrets("Authorization: Bearer abc.def") == "Authorization: Bearer ***"
    assert mask_secrets(f"mongodb://mirror:{PASSWORD}@db-1:27017/admin") == (
        "mongodb://mirror:***@db-1:27017/admin"
    )


@pytest.mark.parametrize(
    "text",
    [
        "api.token_file: cannot read /etc/informer-mirror/api-token",
        "connected to mongodb://db-1:27017,db-2:27017/informer_mirror?replicaSet=rs0",
        "mongodb://db-1:27017/db?appName=a@b",
        "reflector/secrets: listed 120 secrets at resourceVersion 4711",
        "watch pods: continue token expired, relisting",
        "pod default/bearer-app-7d9f updated",
    ],
)
def test_ordinary_messages_are_left_alone(text: str) -> None:
    assert mask_secrets(text) == text


def test_the_filter_masks_arguments_tracebacks_and_stacks_of_every_logger(
    stream: io.StringIO,
) -> None:
    configure_logging("INFO", "text", stream=stream)
    log = logging.getLogger("some.library")  # not ours: the filter sits on the handler

    log.info("token is %s", TOKEN)
    try:
        raise ValueError(f"bad URI mongodb://u:{PASSWORD}@db-1/x")
    except ValueError:
        log.exception("connect failed")
    log.warning("Authorization: Bearer %s", OPAQUE, stack_info=True)

    output = stream.getvalue()
    assert TOKEN not in output
    assert PASSWORD not in output
    assert OPAQUE not in output
    assert "bad URI mongodb://u:***@db-1/x" in output
    assert "Stack (most recent call last)" in output


def test_json_lines_are_masked_too(stream: io.StringIO) -> None:
    configure_logging("INFO", "json", stream=stream)

    logging.getLogger("informer_mirror.kube").error("401 for Bearer %s", OPAQUE)

    assert json.loads(stream.getvalue())["message"] == "401 for Bearer ***"


def test_a_record_with_a_broken_format_string_is_passed_on_not_raised() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d items", ("many",), None)

    assert SecretMaskingFilter().filter(record) is True
    assert record.msg == "%d items"


def test_warnings_from_libraries_go_through_the_same_handler(stream: io.StringIO) -> None:
    configure_logging("INFO", "text", stream=stream)

    logging.getLogger("py.warnings").warning("DeprecationWarning: Bearer %s", OPAQUE)

    assert "py.warnings: DeprecationWarning: Bearer ***" in stream.getvalue()


def test_syslog_priorities_follow_the_logging_levels() -> None:
    assert [syslog_priority(n) for n in (5, 10, 15, 20, 25, 30, 40, 50, 60)] == [
        7,
        7,
        7,
        6,
        6,
        4,
        3,
        2,
        2,
    ]


def test_stderr_is_the_journal_only_when_journal_stream_names_its_device_and_inode(
    tmp_path: Path,
) -> None:
    with (tmp_path / "stderr").open("w") as target, (tmp_path / "other").open("w") as other:
        info = os.fstat(target.fileno())
        journal_stream = f"{info.st_dev}:{info.st_ino}"

        assert stderr_is_journal(journal_stream, target)
        assert not stderr_is_journal(journal_stream, other)
        assert not stderr_is_journal(None, target)
        assert not stderr_is_journal("", target)
        assert not stderr_is_journal("not-a-pair", target)
        assert not stderr_is_journal(journal_stream, io.StringIO())


def test_the_command_line_installs_the_masking_handler(
    restore_root: logging.Logger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "informer-mirror.yaml"
    config.write_text("logging: {level: INFO}\n", encoding="utf-8")

    assert cli.main(["--log-level", "INFO", "check-config", "--config", str(config)]) == 0
    logging.getLogger("informer_mirror.test").warning("Bearer %s", OPAQUE)

    err = capsys.readouterr().err
    assert "Bearer ***" in err
    assert OPAQUE not in err
