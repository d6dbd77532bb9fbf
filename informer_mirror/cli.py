"""Command line of informer-mirror: argument parsing, logging set-up and exit codes.

The only module that installs logging handlers and signal handlers. Each subcommand is a small
function that turns arguments into calls on the package and returns an exit code:

* 0 success, 1 a runtime failure, 2 bad usage or invalid configuration (as argparse does).

Runs on the main thread; long-running subcommands (``sim``, ``run``, ``demo``) block until
SIGINT/SIGTERM sets their stop event, then shut down cleanly and return 0. A fatal error of
``run`` or ``demo`` prints one line (its traceback only with ``--debug``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from informer_mirror import __version__, gctuning
from informer_mirror.errors import ConfigError, InformerMirrorError

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace], int]


def _setup_logging(level: str, fmt: str = "text", *, journal: bool = False) -> None:
    """Install the one stderr handler (see ``logsetup``); called again with the configuration's
    ``logging`` section and ``stderr_is_journal(settings.runtime.journal_stream)`` once loaded."""
    from informer_mirror.logsetup import configure_logging  # noqa: PLC0415 - keep `--help` fast

    configure_logging(level, fmt, journal)


def _stop_on_signals() -> threading.Event:
    """An event set by the first SIGINT or SIGTERM, so a subcommand can shut down cleanly."""
    stop = threading.Event()

    def _handler(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    return stop


def _cmd_sim(args: argparse.Namespace) -> int:
    from informer_mirror.sim import run_sim_forever  # noqa: PLC0415 - keep `--help` fast

    stop = _stop_on_signals()
    run_sim_forever(
        host=args.host,
        port=args.port,
        kubeconfig=args.kubeconfig,
        objects=args.objects,
        churn=args.churn,
        seed=args.seed,
        bookmark_interval=args.bookmark_interval,
        stop=stop,
    )
    return EXIT_OK


def _cmd_check_config(args: argparse.Namespace) -> int:
    from informer_mirror.registry import build_registry  # noqa: PLC0415
    from informer_mirror.settings import load_settings  # noqa: PLC0415

    try:
        settings = load_settings(args.config)
        # The registry validates what settings alone cannot: resource names, custom resources'
        # field paths, collisions with API paths. `run` would reject those; so must we.
        build_registry(settings)
    except ConfigError as e:
        message = str(e)
        # Field errors name the field, file errors already name the file: add the file once.
        prefix = "" if message.startswith(str(args.config)) else f"{args.config}: "
        print(f"{prefix}{message}", file=sys.stderr)
        return EXIT_USAGE
    if args.show:
        import json  # noqa: PLC0415

        print(json.dumps(settings.to_public_dict(), indent=2, sort_keys=True))
    else:
        print(f"{args.config}: OK")
    return EXIT_OK


def _cmd_resources(args: argparse.Namespace) -> int:
    import json  # noqa: PLC0415 - keep `--help` fast

    from informer_mirror.registry import build_registry  # noqa: PLC0415
    from informer_mirror.settings import Settings, load_settings  # noqa: PLC0415

    try:
        settings = load_settings(args.config) if args.config is not None else Settings()
        registry = build_registry(settings)
    except ConfigError as e:
        print(f"{args.config or 'defaults'}: {e}", file=sys.stderr)
        return EXIT_USAGE
    rows = registry.describe()
    if args.output == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    header = ("NAME", "APIVERSION", "KIND", "NAMESPACED", "RESYNC", "ICON")
    table = [header] + [
        (
            row["name"],
            row["apiVersion"],
            row["kind"],
            "true" if row["namespaced"] else "false",
            f"{row['resyncPeriod']:g}s" if row["resyncPeriod"] else "off",
            row["icon"],
        )
        for row in rows
    ]
    # the icon goes last: emoji widths differ between terminals and would skew later columns
    widths = [max(len(line[col]) for line in table) for col in range(len(header) - 1)]
    for line in table:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        print("  ".join([*cells, line[-1]]).rstrip())
    return EXIT_OK


def _fatal(text: str) -> None:
    """The one line a fatal error prints (a multi-line library message is folded into it)."""
    print(f"informer-mirror: {' '.join(text.split())}", file=sys.stderr)


def _guarded(args: argparse.Namespace, body: Callable[[], int]) -> int:
    """Run a long-running subcommand: a fatal error is ONE line on stderr and an exit code (2 for
    the configuration, 1 otherwise), with the traceback before it only under ``--debug``."""
    config: Path | None = getattr(args, "config", None)
    error: Exception
    try:
        return body()
    except ConfigError as e:
        message = str(e)
        if config is not None and not message.startswith(str(config)):
            message = f"{config}: {message}"
        error, code, text = e, EXIT_USAGE, message
    except InformerMirrorError as e:
        error, code, text = e, EXIT_FAILURE, str(e)
    except Exception as e:  # noqa: BLE001 - a bug: still one line, the traceback on request
        hint = "" if args.debug else " (run with --debug for the traceback)"
        error, code, text = e, EXIT_FAILURE, f"unexpected error: {type(e).__name__}: {e}{hint}"
    if args.debug:
        traceback.print_exception(error)
    _fatal(text)
    return code


def _cmd_run(args: argparse.Namespace) -> int:
    from informer_mirror.daemon import run_daemon  # noqa: PLC0415 - keep `--help` fast
    from informer_mirror.logsetup import stderr_is_journal  # noqa: PLC0415
    from informer_mirror.settings import DEFAULT_CONFIG_PATH, load_settings  # noqa: PLC0415

    if args.config is None:
        args.config = DEFAULT_CONFIG_PATH

    def body() -> int:
        settings = load_settings(args.config)
        _setup_logging(
            args.log_level or settings.logging.level,
            settings.logging.format,
            journal=stderr_is_journal(settings.runtime.journal_stream),
        )
        gctuning.tune_process()  # this process is the daemon's: its collector is ours to tune
        return run_daemon(settings, stop=_stop_on_signals())

    return _guarded(args, body)


def _cmd_demo(args: argparse.Namespace) -> int:
    from informer_mirror.demo import DemoOptions, run_demo  # noqa: PLC0415 - keep `--help` fast

    options = DemoOptions(
        port=args.port,
        objects=args.objects,
        churn=args.churn,
        data_dir=args.data_dir,
        seed=args.seed,
    )
    gctuning.tune_process()
    return _guarded(args, lambda: run_demo(options, stop=_stop_on_signals(), out=sys.stdout))


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (got {value})")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also rejects NaN
        raise argparse.ArgumentTypeError(f"must be >= 0 (got {text})")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0-65535 (got {value})")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser; exposed for tests and for generating documentation."""
    parser = argparse.ArgumentParser(
        prog="informer-mirror",
        description="Mirror a Kubernetes cluster's state into MongoDB or SQLite with "
        "client-go-style informers, and serve it over REST.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level",
        default=None,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        type=str.upper,
        help="log verbosity on stderr (default: INFO, or for run the configuration's "
        "logging.level)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sim = sub.add_parser(
        "sim",
        help="run a simulated Kubernetes API server (for demos, tests and benchmarks)",
        description="Serve a simulated Kubernetes API on HOST:PORT, write a kubeconfig pointing "
        "at it, pre-populate about N objects across the built-in kinds and churn them, until "
        "SIGINT/SIGTERM. kubectl and the official Python client work against it unchanged.",
    )
    sim.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    sim.add_argument("--port", type=_port, default=8001, help="port to bind (default: 8001)")
    sim.add_argument(
        "--kubeconfig",
        type=Path,
        required=True,
        help="path of the kubeconfig file to write (points at this server)",
    )
    sim.add_argument(
        "--objects", type=_positive_int, default=1000, help="objects to create (default: 1000)"
    )
    sim.add_argument(
        "--churn",
        type=_non_negative_float,
        default=0.0,
        help="creates/updates/deletes per second (default: 0, no churn)",
    )
    sim.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    sim.add_argument(
        "--bookmark-interval",
        type=_non_negative_float,
        default=60.0,
        help="seconds between watch bookmarks (default: 60, as the real API server)",
    )
    sim.set_defaults(handler=_cmd_sim)

    check = sub.add_parser(
        "check-config",
        help="validate a configuration file",
        description="Exit 0 if the configuration file is valid; otherwise print the field path "
        "and the problem, and exit 2.",
    )
    check.add_argument("--config", type=Path, required=True, help="configuration file (YAML)")
    check.add_argument(
        "--show", action="store_true", help="print the effective configuration (secrets masked)"
    )
    check.set_defaults(handler=_cmd_check_config)

    resources = sub.add_parser(
        "resources",
        help="print the effective resource registry",
        description="Print every resource type the configuration mirrors (name, apiVersion, "
        "kind, namespaced, icon, resync period), after include/exclude and overrides. Without "
        "--config: the defaults, i.e. every built-in kind. Exit 2 if the configuration is invalid.",
    )
    resources.add_argument("--config", type=Path, help="configuration file (YAML)")
    resources.add_argument(
        "--output",
        choices=["table", "json"],
        default="table",
        help="table for people (default), json for scripts: a list of objects",
    )
    resources.set_defaults(handler=_cmd_resources)

    run = sub.add_parser(
        "run",
        help="run the daemon: mirror the cluster and serve the API",
        description="Mirror the configured resources of the cluster into the backend and serve "
        "them over REST until SIGTERM/SIGINT (then drain queued writes and exit 0). Tells "
        "systemd READY=1 once the first full sync is written. Exit 2: invalid configuration; "
        "exit 1: the kubeconfig is missing, the backend stays unreachable, the port is taken.",
    )
    run.add_argument(
        "--config",
        type=Path,
        help="configuration file (YAML; default: /etc/informer-mirror/informer-mirror.yaml)",
    )
    run.add_argument(
        "--debug", action="store_true", help="print the traceback of a fatal error too"
    )
    run.set_defaults(handler=_cmd_run)

    demo = sub.add_parser(
        "demo",
        help="mirror a simulated cluster into SQLite and serve the API",
        description="Start a simulated Kubernetes cluster in this process (with churn), mirror "
        "it into SQLite under DATA_DIR and serve the API on 127.0.0.1:PORT until Ctrl-C. Needs "
        "nothing but this package.",
    )
    demo.add_argument(
        "--port", type=_port, default=8080, help="API port on 127.0.0.1 (default: 8080; 0: any)"
    )
    demo.add_argument(
        "--objects",
        type=_positive_int,
        default=500,
        help="objects in the simulated cluster (default: 500)",
    )
    demo.add_argument(
        "--churn",
        type=_non_negative_float,
        default=5.0,
        help="cluster changes per second (default: 5; 0: none)",
    )
    demo.add_argument(
        "--data-dir",
        type=Path,
        default=Path("demo-data"),
        help="where the SQLite file and the kubeconfig go (default: ./demo-data)",
    )
    demo.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    demo.add_argument(
        "--debug", action="store_true", help="print the traceback of a fatal error too"
    )
    demo.set_defaults(handler=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``informer-mirror`` console script."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.log_level or "INFO")
    handler: Handler = args.handler
    try:
        return handler(args)
    except ConfigError as e:
        print(f"informer-mirror: {e}", file=sys.stderr)
        return EXIT_USAGE
    except InformerMirrorError as e:
        print(f"informer-mirror: {e}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
