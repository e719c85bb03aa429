"""Lines that native libraries (LiteRT, TensorFlow) write straight to the process's stderr, filtered out.

Some of their INFO lines have no switch: LiteRT's XNNPACK banner has no log-severity call or variable, and
TensorFlow's C++ logs before absl::InitializeLog() ignore TF_CPP_MIN_LOG_LEVEL. ``filtered_stderr`` sends fd 2 to
a temporary file around the one call that prints them, then passes every other line on to the real stderr.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator

# absl's INFO and WARNING lines ("I0000 00:00:1796097923.661504    7591 port.cc:153] ..."), and its notice that
# they go to stderr: what TF_CPP_MIN_LOG_LEVEL=2 means to hide, printed before TensorFlow reads it.
ABSL_INFO_OR_WARNING = re.compile(rb"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ ]+:\d+\] |"
                                  rb"WARNING: All log messages before absl::InitializeLog\(\) is called)")


@contextlib.contextmanager
def filtered_stderr(drop: Callable[[bytes], bool]) -> Iterator[list[bytes]]:
    """Run the block with fd 2 sent to a temporary file; afterwards every line for which ``drop`` is false is
    written to the real stderr, in order (so errors still show, and log lines of other threads only come a
    moment later). The block gets a list that holds the dropped lines afterwards."""
    dropped: list[bytes] = []
    sys.stderr.flush()
    with tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield dropped
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept: list[bytes] = []
            for line in captured.read().splitlines(keepends=True):
                (dropped if drop(line.rstrip(b"\r\n")) else kept).append(line)
            data = b"".join(kept)
            while data:
                data = data[os.write(2, data):]
