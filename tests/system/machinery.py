"""Debian root filesystems (bookworm and trixie, amd64 and arm64) cached as tarballs, and containers booted or
run from them with systemd-nspawn. Used by the system stage's tests; also a command to build the caches ahead:

    python3 tests/system/machinery.py build bookworm-amd64 trixie-amd64 bookworm-arm64

Everything lives under ``$POSE_APPLIANCE_CACHE`` (default ``~/.cache/pose-appliance``, or
``$XDG_CACHE_HOME/pose-appliance``): ``rootfs/<name>-<spec hash>.tar.zst`` and ``pip/<name>`` (pip's download
cache per environment), so a second run downloads nothing. A rootfs is rebuilt when its package list changes.
Needs root, ``systemd-nspawn`` (systemd-container), ``mmdebstrap``, and for arm64 ``qemu-user-static``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

MIRROR = "http://deb.debian.org/debian"
SECURITY = "http://deb.debian.org/debian-security"

# What the tests run besides Python: the unit suite drives Xvfb, xwd, xwininfo, headless Chromium (with a font for
# its text), shellcheck, git, systemd-analyze, systemd-sysusers and the Mosquitto broker for real (the apt
# packages scripts/test installs on the host).
SUITE_TOOLS = ("xvfb", "x11-apps", "x11-utils", "chromium", "fonts-dejavu-core", "shellcheck", "git", "procps",
               "mosquitto", "mosquitto-clients")
# A Raspberry Pi OS image ships python3 with apt's numpy; the installer adds the rest (venv, pip, systemd).
PI_BASE = ("python3", "python3-numpy", "ca-certificates")
BOOTABLE = ("systemd", "systemd-sysv", "dbus", "procps", "sudo", "iproute2")


@dataclass(frozen=True)
class Rootfs:
    name: str
    suite: str
    arch: str
    packages: tuple[str, ...]

    def sources(self) -> list[str]:
        updates = f"{self.suite}-updates"
        return [f"deb {MIRROR} {self.suite} {updates} main", f"deb {SECURITY} {self.suite}-security main"]

    def spec_hash(self) -> str:
        text = "\n".join([self.suite, self.arch, *sorted(self.packages), *self.sources()])
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def tarball(self) -> Path:
        return cache_dir() / "rootfs" / f"{self.name}-{self.spec_hash()}.tar.zst"


ROOTFS = {
    # The Pi's own OS generation: systemd 252, Python 3.11, numpy 1.24.2; booted for the install test and used
    # for the Bookworm package stack.
    "bookworm-amd64": Rootfs("bookworm-amd64", "bookworm", "amd64",
                             (*PI_BASE, *BOOTABLE, "python3-venv", "python3-pip", "python3-systemd", *SUITE_TOOLS)),
    # Raspberry Pi OS Trixie's generation: Python 3.13, apt's numpy 2.x.
    "trixie-amd64": Rootfs("trixie-amd64", "trixie", "amd64",
                           (*PI_BASE, "systemd", "python3-venv", "python3-pip", "python3-systemd", *SUITE_TOOLS)),
    # A Pi 4/5 userland under qemu-user emulation: only what the keypoint comparison needs.
    "bookworm-arm64": Rootfs("bookworm-arm64", "bookworm", "arm64", (*PI_BASE, "python3-venv", "python3-pip")),
}

# /proc/cpuinfo of a Raspberry Pi 4 (4 x Cortex-A72): qemu-user shows the guest the host's x86 text otherwise,
# and LiteRT's CPU feature probe then crashes at model load.
PI4_CPUINFO = "".join(
    f"processor\t: {n}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\n"
    f"CPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n" for n in range(4)
) + "Hardware\t: BCM2835\nRevision\t: c03114\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n"


def cache_dir() -> Path:
    explicit = os.environ.get("POSE_APPLIANCE_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pose-appliance"


NOTES: list[tuple[str, str]] = []  # (environment, measured fact), printed in the stage's summary


def log(message: str) -> None:
    print(f"[system] {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def note(environment: str, message: str) -> None:
    """A measured figure worth reading in the summary (fps, timings, versions, differences)."""
    log(f"{environment}: {message}")
    NOTES.append((environment, message))


def retry_once(what: str, command: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a command that downloads; a failure (a transient network error, most often) is tried once more."""
    for attempt in (1, 2):
        result = subprocess.run(command, check=False, **kwargs)
        if result.returncode == 0 or attempt == 2:
            return result
        log(f"{what} failed (exit {result.returncode}); retrying once in 10 s")
        time.sleep(10)
    raise AssertionError("unreachable")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock file, so two runs on one machine build a cache entry once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def enable_arm64_emulation() -> None:
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    if not (binfmt / "register").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt)], check=True)
    if not (binfmt / "qemu-aarch64").exists():
        subprocess.run(["/lib/systemd/systemd-binfmt", "/usr/lib/binfmt.d/qemu-aarch64.conf"], check=True)
    # Prove it: arch-test runs a tiny arm64 binary.
    subprocess.run(["arch-test", "arm64"], check=True, capture_output=True)


def build_rootfs(spec: Rootfs) -> Path:
    """The spec's tarball, built with mmdebstrap the first time (atomically: a failed build leaves nothing)."""
    target = spec.tarball
    with locked(target.with_suffix(".lock")):
        if target.is_file():
            return target
        if spec.arch != "amd64":
            enable_arm64_emulation()
        partial = target.with_name(target.name.replace(".tar.zst", ".partial.tar.zst"))
        partial.unlink(missing_ok=True)  # left by a build that was killed
        started = time.monotonic()
        log(f"building {spec.name} ({spec.suite}/{spec.arch}, {len(spec.packages)} packages) into {target}")
        command = ["mmdebstrap", "--quiet", "--variant=minbase", f"--arch={spec.arch}",
                   "--include=" + ",".join(spec.packages), "--aptopt=Acquire::Retries \"3\"",
                   spec.suite, str(partial), *spec.sources()]
        result = retry_once(f"mmdebstrap {spec.name}", command, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            partial.unlink(missing_ok=True)
            raise RuntimeError(f"mmdebstrap {spec.name} failed (exit {result.returncode})")
        partial.rename(target)
        for stale in target.parent.glob(f"{spec.name}-*.tar.zst"):
            if stale != target:
                stale.unlink()
        log(f"built {spec.name} in {time.monotonic() - started:.0f} s ({target.stat().st_size / 1e6:.0f} MB)")
        return target


def unpack(spec: Rootfs, into: Path) -> Path:
    tarball = build_rootfs(spec)
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "--zstd", "-xpf", str(tarball), "-C", str(into), "--numeric-owner"], check=True)
    # pip inside talks TLS to PyPI: the host's trust store (which may carry a proxy's CA) replaces the rootfs's.
    shutil.copy2("/etc/ssl/certs/ca-certificates.crt", into / "etc/ssl/certs/ca-certificates.crt")
    shutil.copy2("/etc/resolv.conf", into / "etc/resolv.conf", follow_symlinks=True) \
        if Path("/etc/resolv.conf").exists() else None
    return into


class Booted:
    """A container booted with systemd as PID 1 (``systemd-nspawn -b``), sharing the host's network.

    ``run`` executes a command inside (all namespaces of its PID 1) and returns its exit status and output.
    ``close`` powers it off and waits; nspawn is killed if that takes too long. Always use it as a context manager.
    """

    def __init__(self, root: Path, binds: Sequence[tuple[str, str, bool]] = (), name: str = "pa-system"):
        self.root = root
        name = f"{name}-{os.getpid()}"  # two runs on one machine never share nspawn's per-name state
        command = ["systemd-nspawn", "-D", str(root), "-b", "--register=no", "--keep-unit", "--console=passive",
                   f"--machine={name}", "--quiet"]
        for source, dest, writable in binds:
            command.append(f"--bind{'' if writable else '-ro'}={source}:{dest}")
        self.console = root.parent / "console.log"
        self.nspawn = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=self.console.open("wb"),
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.leader = 0

    def wait_running(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            if self.nspawn.poll() is not None:
                console = self.console.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"systemd-nspawn exited {self.nspawn.returncode}: {console}")
            if not self.leader:
                children = subprocess.run(["pgrep", "-P", str(self.nspawn.pid)], capture_output=True, text=True,
                                          check=False)
                self.leader = int(children.stdout.split()[0]) if children.stdout.split() else 0
            if self.leader:
                state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
                if state in ("running", "degraded"):
                    return state
            time.sleep(0.3)
        raise TimeoutError(f"container not running after {timeout} s (state {state!r})")

    def run(self, *command: str, check: bool = True, timeout: float = 300, input: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        prefix = ["nsenter", "-t", str(self.leader), "-a", "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                  "HOME=/root", "LANG=C.UTF-8", *(f"{k}={v}" for k, v in (env or {}).items())]
        result = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=timeout, check=False,
                                input=input, stdin=None if input is not None else subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(f"`{shlex.join(command)}` exited {result.returncode}:\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def sh(self, script: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        return self.run("bash", "-c", script, check=check, timeout=timeout)

    def close(self) -> None:
        if self.nspawn.poll() is None:
            if self.leader:
                with contextlib.suppress(Exception):
                    subprocess.run(["nsenter", "-t", str(self.leader), "-a", "systemctl", "poweroff", "--no-block"],
                                   capture_output=True, timeout=20, check=False)
            try:
                self.nspawn.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.nspawn.pid, signal.SIGKILL)
                self.nspawn.wait(10)

    def __enter__(self) -> Self:
        try:
            self.wait_running()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_in(root: Path, command: Sequence[str], binds: Sequence[tuple[str, str, bool]] = (),
           env: dict[str, str] | None = None, timeout: float = 1800, stream: Path | None = None,
           ) -> subprocess.CompletedProcess:
    """Run one command in the rootfs (no boot) with ``systemd-nspawn``. Its output (stdout and stderr) goes to
    ``stream`` when given; otherwise ``stdout`` is the command's stdout, with its stderr added after a failure."""
    # A machine name of its own: nspawn keeps per-name state in /run, and the directory's name ("root") is shared.
    nspawn = ["systemd-nspawn", "-D", str(root), "--register=no", "--keep-unit", "--quiet", "--pipe",
              f"--machine=pa-{root.parent.name[-24:].replace('_', '-').strip('-')}-{os.getpid()}", "--as-pid2",
              "--setenv=LANG=C.UTF-8", "--setenv=HOME=/root"]
    for source, dest, writable in binds:
        nspawn.append(f"--bind{'' if writable else '-ro'}={source}:{dest}")
    for key, value in (env or {}).items():
        nspawn.append(f"--setenv={key}={value}")
    process = subprocess.Popen([*nspawn, *command], stdin=subprocess.DEVNULL,
                               stdout=stream.open("ab") if stream else subprocess.PIPE,
                               stderr=subprocess.STDOUT if stream else subprocess.PIPE, start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
        raise
    if stream:
        return subprocess.CompletedProcess(command, process.returncode, stream.read_text(errors="replace"), "")
    # stdout alone is the command's; stderr has nspawn's own notes after it, for error messages.
    text, notes = out.decode(errors="replace"), err.decode(errors="replace")
    if process.returncode != 0:
        text += notes
    return subprocess.CompletedProcess(command, process.returncode, text, notes)


def project_copy(repo: Path, dest: Path) -> Path:
    """The project's tracked and new (not ignored) files, copied: tests never write into the repository."""
    listed = subprocess.run(["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, listed):
        source = repo / os.fsdecode(name)
        if source.is_file():
            target = dest / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def scratch(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"pa-{prefix}-", dir=os.environ.get("POSE_APPLIANCE_SCRATCH", "/var/tmp")))


def main(argv: Sequence[str]) -> int:
    if len(argv) < 2 or argv[0] != "build" or not set(argv[1:]) <= set(ROOTFS):
        print(f"usage: machinery.py build {{{','.join(ROOTFS)}}}...", file=sys.stderr)
        return 2
    for name in argv[1:]:
        build_rootfs(ROOTFS[name])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
