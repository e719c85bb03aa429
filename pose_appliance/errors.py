"""The error type for bad input a user can fix. A leaf module: anything may raise it, the command line prints it."""

from __future__ import annotations


class UserError(Exception):
    """Bad input a user can fix (a file, a field, an option): printed as one line, exit status 2."""
