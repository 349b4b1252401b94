"""Ctrl-C or SIGTERM while a command starts (Python imports tuner, torch and Ray: seconds, during which nothing has
run or been written): one line and exit 130 at once. A KeyboardInterrupt raised halfway through importing torch or
Ray would leave them half-initialised, and the interpreter could then crash on its way out (a traceback, or a
segmentation fault). Standard library only: it is imported before anything heavy."""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from typing import Any, Callable


_MOMENT = {"now": "starting"}  # or "exiting": what the command had done when a signal came


def install(command: str) -> None:
    """From now until the command installs its own handlers (or `done()`), a signal ends the process with 130.
    `command` is how to run it again (`python -m tuner.sweep`), for the --resume line."""
    if threading.current_thread() is not threading.main_thread():
        return
    if not _MOMENT.get("quiet_end"):
        _MOMENT["quiet_end"] = "registered"
        atexit.register(_ignore_signals)  # registered first, so it runs last: after Ray's own shutdown

    def on_signal(number: int, frame: Any) -> None:
        name = signal.Signals(number).name
        if _MOMENT["now"] == "exiting":
            print(f"\ninterrupted ({name}) while exiting: the command had finished; what it printed stands.",
                  flush=True)
            os._exit(130)
        resume = sys.argv.index("--resume") + 1 if "--resume" in sys.argv[:-1] else None
        line = f" Continue with: {command} --resume {sys.argv[resume]}" if resume else ""
        print(f"\ninterrupted ({name}) while starting: nothing was run or written.{line}", flush=True)
        os._exit(130)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def finish(run: Callable[[], int], command: str) -> int:
    """An entry point: `run` (the command, its own signal handling inside), then `exiting`. A signal that lands after
    the command restored the handlers it found and before `exiting` installs its own is the command's interrupt
    (run_cli's one line and 130), not a traceback or a claim that nothing was run."""
    try:
        code = run()
        exiting(command)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr, flush=True)
        code = 130
        exiting(command)
    return code


def exiting(command: str) -> None:
    """The command has returned; Python and Ray shut down next (seconds): a signal now ends the process with 130 at
    once, saying the work was done, rather than with a traceback or Python's own death by SIGINT. Only for a
    process's entry point (a library caller keeps its own signal handling)."""
    _MOMENT["now"] = "exiting"
    install(command)


def _ignore_signals() -> None:
    """The last exit handler: from here Python tears itself down and puts SIG_DFL back for every handler but an
    ignored one, so a Ctrl-C now would kill the process by SIGINT (exit -2, no line) after its work was done."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def done() -> None:
    """Back to Python's own handling (Ctrl-C raises KeyboardInterrupt, which the command turns into 130)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
