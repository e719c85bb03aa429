"""``pose-appliance doctor``: one line per check, ``OK|WARN|FAIL  what  -- fix``; exit status 1 when anything
FAILs. The checks are :mod:`pose_appliance.doctor`."""

from __future__ import annotations

import argparse
from pathlib import Path

from pose_appliance.doctor import DEFAULT_CONFIG, SERVICE_USER, host_for, run_checks
from pose_appliance.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help=f"config file to check against (default: {DEFAULT_CONFIG})")
    parser.add_argument("--user", help=f"check device permissions for this user, e.g. {SERVICE_USER} "
                                       "(default: the user running doctor)")
    parser.add_argument("--root", type=Path, default=Path("/"),
                        help="look for /dev, /sys, /proc and /etc under this folder (tests use a fake tree)")


def run(args: argparse.Namespace) -> int:
    try:
        host = host_for(args.root, args.user)
    except LookupError as exc:
        raise UserError(f"--user: {exc}") from None
    checks = run_checks(args.config, host)
    for check in checks:
        print(check.line())
    failed = sum(c.status == "FAIL" for c in checks)
    warned = sum(c.status == "WARN" for c in checks)
    print(f"{len(checks)} checks: {failed} failed, {warned} warnings")
    return 1 if failed else 0
