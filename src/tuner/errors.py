"""The one error type that command-line tools turn into `error: ...` and exit code 2."""

from __future__ import annotations

import sys
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
    """Run a CLI `main`, turning a UserError into one `error:` line and exit code 2."""
    try:
        return main(argv) or 0
    except UserError as exc:
        exit_with_error(str(exc))
