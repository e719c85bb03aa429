"""The error type for bad input a user can fix. A leaf module: anything may raise it, the command line prints it."""

from __future__ import annotations


class UserError(Exception):
    """Bad input a user can fix (a file, a field, an option): printed as one line, exit status 2."""


def shorten(text: str, limit: int = 80) -> str:
    """A value as it goes into an error message: a long one keeps its start and end, so the message stays one
    readable line (a path keeps its file name)."""
    return text if len(text) <= limit else text[:limit - 30] + "..." + text[-27:]
