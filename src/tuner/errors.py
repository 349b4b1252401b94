"""The one error type that command-line tools turn into `error: ...` and exit code 2."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import NoReturn


class UserError(Exception):
    """Bad input from the user: a file, a name, a value or missing data. Message says what and where."""


def unknown_name(kind: str, name: object, known: Iterable[str]) -> UserError:
    return UserError(f"unknown {kind} {name!r}; choose one of: {', '.join(sorted(known))}")


def exit_with_error(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Run a CLI `main`, turning a UserError into one `error:` line and exit code 2, and Ctrl-C or SIGTERM outside
    a sweep's own handling into one `interrupted` line and exit code 130 (no traceback)."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        return main(argv) or 0
    except UserError as exc:
        exit_with_error(str(exc))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(number: int, frame: object) -> None:
    raise KeyboardInterrupt
