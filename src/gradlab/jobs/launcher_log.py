"""Launcher output on SLURM clusters without accounting: one ``sacct`` warning, not one per poll.

submitit asks ``sacct`` for the state of its jobs, every few seconds at first and
then once a minute.  Where accounting is off (no slurmdbd) every call fails and
submitit logs a warning each time, although it still learns that a job ended
from the result file the job writes.  :func:`one_sacct_warning` lets the first
warning through, saying so, and drops the repeats.
"""

from __future__ import annotations

import logging

#: The start of submitit's warning when ``sacct`` fails.
SACCT_WARNING = "Bypassing sacct error"


class FirstSacctWarning(logging.Filter):
    """Pass the first of submitit's ``sacct`` warnings, annotated, and drop the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = False

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if SACCT_WARNING not in text:
            return True
        if self.seen:
            return False
        self.seen = True
        record.msg = (
            f"{text} (no SLURM accounting here: job ends are read from the jobs' result "
            "files; this warning is shown once)"
        )
        record.args = ()
        return True


def one_sacct_warning() -> None:
    """Install :class:`FirstSacctWarning` on submitit's logger in this process (once)."""
    logger = logging.getLogger("submitit")
    if not any(isinstance(f, FirstSacctWarning) for f in logger.filters):
        logger.addFilter(FirstSacctWarning())
