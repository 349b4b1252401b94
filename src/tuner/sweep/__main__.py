"""python -m tuner.sweep SWEEP_FILE [options]: see tuner.sweep.cli."""

import os
import signal
import sys


def _while_starting(number: int, frame: object) -> None:
    """Ctrl-C or SIGTERM while Python imports tuner, torch and Ray: nothing has run or been written yet."""
    resume = sys.argv.index("--resume") + 1 if "--resume" in sys.argv[:-1] else None
    line = f" Continue with: python -m tuner.sweep --resume {sys.argv[resume]}" if resume else ""
    print(f"\ninterrupted ({signal.Signals(number).name}) while starting: nothing was run or written.{line}",
          flush=True)
    os._exit(130)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, _while_starting)
    signal.signal(signal.SIGTERM, _while_starting)

from tuner.errors import run_cli  # noqa: E402 (after the handlers: these imports take seconds)
from tuner.sweep.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_cli(main))
