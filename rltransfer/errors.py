"""Errors the command line turns into exit codes.

``UserError`` (exit 2) is a mistake in the user's input: a study file, a flag, a folder. Its
message names the file and the field, and never comes with a traceback. ``RunFailedError``
(exit 1) says that one or more training runs crashed; their tracebacks are in their run folders.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """Invalid input. The message is complete and is shown to the user as it is."""


class RunFailedError(Exception):
    """At least one run failed; the others completed and were kept."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
