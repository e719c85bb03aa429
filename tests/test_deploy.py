"""deploy/: shellcheck, install.sh run for real into a DESTDIR (twice), uninstall.sh, the unit and sysusers file.

Everything that would change the host goes through recording stand-ins put first on PATH: apt-get,
apt-cache, systemctl, systemd-sysusers, journalctl, curl, gpg, userdel, groupdel, dpkg (the architecture it
reports) and python3 (whose ``-m venv`` makes a venv whose ``pip install`` installs a ``pose-appliance`` that runs
this checkout; ``-c`` answers the version and numpy probes). ``check-config`` and ``models fetch`` (from the
../shared mirror) then run for real. The real installer in a real systemd is in tests/system.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "deploy/install.sh"
UNINSTALL = REPO / "deploy/uninstall.sh"
UNIT = REPO / "deploy/pose-appliance.service"
SYSUSERS = REPO / "deploy/pose-appliance.sysusers"
PREFIX = "/opt/pose-appliance"

RECORDER = """#!/bin/sh
echo "$(basename "$0") $*" >> "$STANDIN_LOG"
"""

APT_CACHE = RECORDER + """[ "$1" = show ] && [ "${STANDIN_PI:-0}" = 1 ]
"""

# The host's python3: `-m venv DIR` makes a venv of stand-ins; `-c` answers the version and "is apt's numpy
# 1.x?" probes.
PYTHON3 = RECORDER + """case "$1" in
-c) case "$2" in *version_info*) echo "${STANDIN_PYTHON_VERSION:-3.11}"; exit ;; esac
    [ "${STANDIN_NUMPY1:-0}" = 1 ]; exit ;;
-m) [ "$2" = venv ] || exit 3 ;;
*) exit 3 ;;
esac
for dir; do :; done
mkdir -p "$dir/bin"
system=false
case " $* " in *" --system-site-packages "*) system=true ;; esac
printf 'home = /usr/bin\\ninclude-system-site-packages = %s\\n' "$system" > "$dir/pyvenv.cfg"
cat > "$dir/bin/python" <<'PY'
#!/bin/sh
echo "venv-python $*" >> "$STANDIN_LOG"
[ "$1 $2 $3" = "-m pip install" ] || exit 3
bin=$(dirname "$0")
printf '#!/bin/sh\\nexec %s -m pose_appliance "$@"\\n' "$STANDIN_PACKAGE_PYTHON" > "$bin/pose-appliance"
chmod 755 "$bin/pose-appliance"
PY
chmod 755 "$dir/bin/python"
"""

DPKG = """#!/bin/sh
[ "$1" = --print-architecture ] && echo "${STANDIN_ARCH:-arm64}"
"""

STANDINS = dict.fromkeys(("apt-get", "systemctl", "systemd-sysusers", "journalctl", "curl", "gpg", "userdel",
                          "groupdel"), RECORDER)
STANDINS.update({"apt-cache": APT_CACHE, "python3": PYTHON3, "dpkg": DPKG})


class Host:
    """A PATH of stand-ins, a log of what they were asked, and a way to run the deploy scripts."""

    def __init__(self, tmp_path: Path, shared: Path):
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        for name, text in STANDINS.items():
            (self.bin / name).write_text(text)
            (self.bin / name).chmod(0o755)
        self.log = tmp_path / "standins.log"
        self.shared = shared
        self.env = {
            "PATH": f"{self.bin}:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(tmp_path), "LANG": "C.UTF-8",
            "STANDIN_LOG": str(self.log), "STANDIN_PACKAGE_PYTHON": sys.executable,
            "STANDIN_PI": "1", "STANDIN_NUMPY1": "1",
            "POSE_APPLIANCE_SHARED": str(shared),
        }

    def run(self, script: Path, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
        result = subprocess.run(["bash", str(script), *args], env={**self.env, **env}, capture_output=True,
                                text=True, timeout=120)
        if check:
            assert result.returncode == 0, f"{script.name} {args} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def mirrors(self) -> list[str]:
        return ["--mirror", str(self.shared / "models"), "--mirror", str(self.shared / "data")]


def tree(root: Path) -> dict[str, tuple]:
    """Every path under root with its type, mode and content checksum (or link target)."""
    result = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        rel = str(path.relative_to(root))
        if stat.S_ISLNK(st.st_mode):
            result[rel] = ("link", os.readlink(path))
        elif stat.S_ISDIR(st.st_mode):
            result[rel] = ("dir", stat.S_IMODE(st.st_mode))
        else:
            result[rel] = ("file", stat.S_IMODE(st.st_mode), hashlib.sha256(path.read_bytes()).hexdigest())
    return result


@pytest.fixture
def host(tmp_path, shared) -> Host:
    return Host(tmp_path, shared)


@pytest.fixture
def destdir(tmp_path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


# ------------------------------------------------------------------------------------------------ shellcheck
def test_scripts_pass_shellcheck():
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: apt-get install shellcheck (scripts/test installs it)"
    result = subprocess.run([shellcheck, "--external-sources", "--severity=style", str(INSTALL), str(UNINSTALL)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


# ------------------------------------------------------------------------------------------------ install.sh
def test_install_into_destdir_twice_is_idempotent(host, destdir):
    first = host.run(INSTALL, *host.mirrors(), DESTDIR=str(destdir))
    snapshot = tree(destdir)
    calls = host.calls()

    root = destdir
    venv = root / PREFIX.lstrip("/") / "venv"
    assert (venv / "pyvenv.cfg").read_text().endswith("include-system-site-packages = true\n")
    unit = (root / "etc/systemd/system/pose-appliance.service").read_text()
    assert unit == UNIT.read_text()  # default PREFIX: the unit as shipped
    assert (root / "etc/sysusers.d/pose-appliance.conf").read_bytes() == SYSUSERS.read_bytes()
    example = (REPO / "pose_appliance/data/config.example.toml").read_bytes()
    assert (root / "etc/pose-appliance/config.toml").read_bytes() == example
    assert (root / "etc/pose-appliance/config.toml.example").read_bytes() == example
    assert (root / PREFIX.lstrip("/") / "constraints.txt").read_text() == "numpy<2\n"
    models = sorted(p.name for p in (root / "var/lib/pose-appliance/models").rglob("*") if p.is_file())
    assert models, first.stdout  # fetched (and verified) from the mirror by the real `models fetch`

    # A staged install touches nothing outside DESTDIR: no apt, no live systemctl; the owner's command is linked.
    assert not any(c.startswith(("apt-get", "apt-cache")) for c in calls), calls
    assert "python3-kms++" in first.stdout  # named as what the target needs
    assert os.readlink(root / "usr/local/bin/pose-appliance") == f"{PREFIX}/venv/bin/pose-appliance"
    assert f"python3 -m venv --system-site-packages {venv}" in calls
    pip = [c for c in calls if c.startswith("venv-python -m pip install")]
    assert len(pip) == 1 and pip[0].endswith(str(REPO)) and "--constraint" in pip[0]
    assert f"systemd-sysusers --root={root} pose-appliance.conf" in calls
    assert f"systemctl --root={root} enable pose-appliance.service" in calls
    assert not any(c.startswith(("systemctl restart", "systemctl daemon-reload", "journalctl")) for c in calls)
    assert "libedgetpu1-std" not in "\n".join(calls)

    host.log.unlink()
    second = host.run(INSTALL, *host.mirrors(), DESTDIR=str(destdir))
    assert tree(destdir) == snapshot
    assert "config.toml kept" in second.stdout
    assert host.calls() == [c for c in calls if not c.startswith("python3 -m venv")]  # same steps, venv reused


def test_install_keeps_an_edited_config_and_refreshes_the_example(host, destdir):
    host.run(INSTALL, *host.mirrors(), DESTDIR=str(destdir))
    config = destdir / "etc/pose-appliance/config.toml"
    example = destdir / "etc/pose-appliance/config.toml.example"
    edited = config.read_text().replace('type = "picamera2"', 'type = "opencv"', 1)
    assert edited != config.read_text()
    config.write_text(edited)
    example.write_text("# an old example\n")
    result = host.run(INSTALL, *host.mirrors(), DESTDIR=str(destdir))
    assert config.read_text() == edited
    assert example.read_bytes() == (REPO / "pose_appliance/data/config.example.toml").read_bytes()
    assert "config.toml kept" in result.stdout


def test_reinstall_fetches_the_models_the_kept_config_names(host, destdir):
    host.run(INSTALL, *host.mirrors(), DESTDIR=str(destdir))
    models = destdir / "var/lib/pose-appliance/models"
    assert not (models / "movenet_lightning_int8_edgetpu.tflite").exists()
    config = destdir / "etc/pose-appliance/config.toml"
    config.write_text(config.read_text().replace('delegate = "auto"', 'delegate = "edgetpu"', 1))
    host.run(INSTALL, *host.mirrors(), DESTDIR=str(destdir))  # without --with-coral
    assert (models / "movenet_lightning_int8_edgetpu.tflite").is_file()


def test_install_refuses_a_config_with_a_mistake(host, destdir):
    host.run(INSTALL, *host.mirrors(), DESTDIR=str(destdir))
    (destdir / "etc/pose-appliance/config.toml").write_text('[display]\ntyp = "drm"\n')
    host.log.unlink()
    result = host.run(INSTALL, *host.mirrors(), DESTDIR=str(destdir), check=False)
    assert result.returncode != 0
    assert "display.typ: unknown key" in result.stderr
    # Stopped before the service step (the version probe at the start aside).
    assert not any(c.startswith("systemctl") and c != "systemctl --version" for c in host.calls())


def test_prefix_goes_into_the_unit(host, destdir):
    host.run(INSTALL, *host.mirrors(), DESTDIR=str(destdir), PREFIX="/srv/pa")
    unit = (destdir / "etc/systemd/system/pose-appliance.service").read_text()
    assert "ExecStart=/srv/pa/venv/bin/pose-appliance run --config /etc/pose-appliance/config.toml" in unit
    assert "/opt/pose-appliance" not in unit
    assert (destdir / "srv/pa/venv/bin/pose-appliance").exists()


@pytest.mark.parametrize("prefix", ["/opt/pose appliance", "/opt/R&D/pa", "/opt/a|b", "/opt/a\\b", "/opt/100%",
                                    "opt/pose-appliance", "/opt/tab\there"])
def test_a_prefix_the_unit_cannot_hold_is_refused_before_anything_is_done(host, destdir, prefix):
    result = host.run(INSTALL, *host.mirrors(), check=False, DESTDIR=str(destdir), PREFIX=prefix)
    assert result.returncode == 1
    assert result.stderr.startswith(f"install.sh: PREFIX={prefix}: ") and "/opt/pose-appliance" in result.stderr
    assert host.calls() == [] and list(destdir.iterdir()) == []


def test_dry_run_on_the_live_system_changes_nothing(host, tmp_path):
    prefix = tmp_path / "opt-pa"
    result = host.run(INSTALL, "--dry-run", "--with-coral", PREFIX=str(prefix))
    assert not prefix.exists()
    changed = [c for c in host.calls() if not c.startswith(("apt-cache show", "python3 -c", "systemctl --version"))]
    assert changed == []
    out = result.stdout
    for action in ("apt-get install -y --no-install-recommends python3-venv",
                   "/etc/apt/sources.list.d/coral-edgetpu.list", "apt-get install -y libedgetpu1-std",
                   f"+ python3 -m venv --system-site-packages {prefix}/venv", "models fetch",
                   "+ systemd-sysusers pose-appliance.conf", "+ systemctl daemon-reload",
                   "+ systemctl enable pose-appliance.service", "+ systemctl restart pose-appliance.service",
                   "+ journalctl", "models fetch movenet_lightning_int8_edgetpu"):
        assert action in out, action


def test_install_needs_root_on_the_live_system(host):
    result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash",
                             str(INSTALL)], env=host.env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "run as root" in result.stderr
    assert host.calls() == []


def test_help_says_a_destdir_install_is_not_a_bootable_image(host):
    usage = " ".join(host.run(INSTALL, "--help").stdout.split())
    assert "DESTDIR is for tests and for inspecting what an install writes, not for building an image" in usage


def test_unknown_argument_is_one_line(host):
    result = host.run(INSTALL, "--frobnicate", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "install.sh: unknown argument --frobnicate (see --help)"


# ---------------------------------------------------------------------------------------------- uninstall.sh
def test_uninstall_keeps_the_config_unless_purge(host, destdir):
    host.run(INSTALL, *host.mirrors(), DESTDIR=str(destdir))
    config = destdir / "etc/pose-appliance/config.toml"
    config.write_text(config.read_text() + "# mine\n")
    (destdir / "etc/passwd").write_text("pose-appliance:x:990:990::/var/lib/pose-appliance:/usr/sbin/nologin\n")

    host.run(UNINSTALL, DESTDIR=str(destdir))
    assert config.read_text().endswith("# mine\n")
    for gone in ("etc/systemd/system/pose-appliance.service", "etc/sysusers.d/pose-appliance.conf",
                 PREFIX.lstrip("/"), "var/lib/pose-appliance/models"):
        assert not (destdir / gone).exists(), gone
    assert f"systemctl --root={destdir} disable pose-appliance.service" in host.calls()
    assert not any(c.startswith("userdel") for c in host.calls())

    host.run(UNINSTALL, DESTDIR=str(destdir))  # twice is fine
    host.run(UNINSTALL, "--purge", DESTDIR=str(destdir))
    assert not (destdir / "etc/pose-appliance").exists()
    assert f"userdel --root {destdir} pose-appliance" in host.calls()


def test_uninstall_removes_only_what_the_install_put_under_a_shared_prefix(host, destdir):
    host.run(INSTALL, *host.mirrors(), DESTDIR=str(destdir), PREFIX="/usr/local")
    local = destdir / "usr/local"
    assert (local / "venv/bin/pose-appliance").exists() and (local / "constraints.txt").exists()
    (local / "lib/other-app").mkdir(parents=True)
    (local / "lib/other-app/data.txt").write_text("precious\n")
    (local / "bin/other-tool").write_text("#!/bin/sh\n")
    host.run(UNINSTALL, "--purge", DESTDIR=str(destdir), PREFIX="/usr/local")
    assert not (local / "venv").exists() and not (local / "constraints.txt").exists()
    assert not (local / "bin/pose-appliance").is_symlink()
    assert (local / "lib/other-app/data.txt").read_text() == "precious\n"
    assert (local / "bin/other-tool").exists()


def test_uninstall_removes_the_prefix_it_emptied_and_keeps_one_with_the_owners_files(host, destdir):
    host.run(INSTALL, *host.mirrors(), DESTDIR=str(destdir))
    prefix = destdir / PREFIX.lstrip("/")
    host.run(UNINSTALL, DESTDIR=str(destdir))
    assert not prefix.exists()
    host.run(INSTALL, *host.mirrors(), DESTDIR=str(destdir))
    (prefix / "notes.txt").write_text("mine\n")
    host.run(UNINSTALL, DESTDIR=str(destdir))
    assert sorted(p.name for p in prefix.iterdir()) == ["notes.txt"]


def test_uninstall_keeps_the_owners_drop_ins_unless_purge(host, destdir):
    host.run(INSTALL, *host.mirrors(), DESTDIR=str(destdir))
    override = destdir / "etc/systemd/system/pose-appliance.service.d/override.conf"
    override.parent.mkdir()
    override.write_text("[Service]\nSupplementaryGroups=gpio\n")  # what `systemctl edit` writes
    result = host.run(UNINSTALL, DESTDIR=str(destdir))
    assert override.read_text() == "[Service]\nSupplementaryGroups=gpio\n"
    assert "pose-appliance.service.d" in result.stdout  # said to be kept
    host.run(UNINSTALL, "--purge", DESTDIR=str(destdir))
    assert not override.parent.exists()


def test_purge_removes_the_group_and_the_command_link(host, destdir):
    host.run(INSTALL, *host.mirrors(), DESTDIR=str(destdir))
    (destdir / "etc/passwd").write_text("pose-appliance:x:990:990::/var/lib/pose-appliance:/usr/sbin/nologin\n")
    (destdir / "etc/group").write_text("video:x:44:pose-appliance\npose-appliance:x:990:\n")
    (destdir / "usr/local/bin/mine").write_text("#!/bin/sh\n")
    host.run(UNINSTALL, "--purge", DESTDIR=str(destdir))
    assert f"groupdel --root {destdir} pose-appliance" in host.calls()
    assert not (destdir / "usr/local/bin/pose-appliance").is_symlink()
    assert (destdir / "usr/local/bin/mine").exists()  # only our own link goes


def test_a_command_of_the_owners_own_on_path_is_left_alone(host, destdir):
    link = destdir / "usr/local/bin/pose-appliance"
    link.parent.mkdir(parents=True)
    link.write_text("#!/bin/sh\necho mine\n")
    result = host.run(INSTALL, *host.mirrors(), DESTDIR=str(destdir))
    assert link.read_text() == "#!/bin/sh\necho mine\n" and "left alone" in result.stdout
    host.run(UNINSTALL, DESTDIR=str(destdir))
    assert link.read_text() == "#!/bin/sh\necho mine\n"


@pytest.fixture
def world_readable_dir():
    """pytest's own tmp dirs are private to root; a normal user needs to reach this one."""
    with tempfile.TemporaryDirectory(prefix="pa-deploy-") as name:
        os.chmod(name, 0o755)
        yield Path(name)


def test_second_staged_install_as_a_normal_user_works(world_readable_dir, shared):
    """Not root, DESTDIR owned by the user: twice, without sysusers' unreadable shadow files in the way."""
    base = world_readable_dir
    host = Host(base, shared)
    for path in base.rglob("*"):
        path.chmod(0o755)
    destdir = base / "root"
    destdir.mkdir()
    shutil.chown(destdir, 65534, 65534)
    host.log.touch()
    shutil.chown(host.log, 65534, 65534)
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", str(INSTALL), *host.mirrors()]
    # The project's venv may live where this user cannot go (under /root): the installed command only echoes.
    env = {**host.env, "DESTDIR": str(destdir), "HOME": str(destdir), "STANDIN_PACKAGE_PYTHON": "/bin/echo"}
    for attempt in (1, 2):
        result = subprocess.run(as_nobody, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (attempt, result.stdout[-1500:], result.stderr[-1500:])
    assert "created at the target's first boot" in result.stdout
    assert not any(c.startswith(("systemd-sysusers", "apt-get")) for c in host.calls())
    assert (destdir / "etc/sysusers.d/pose-appliance.conf").is_file()


@pytest.mark.parametrize("arch", ["armhf", "armel"])
def test_a_32_bit_os_is_refused_early_naming_the_64_bit_image(host, arch):
    result = host.run(INSTALL, check=False, STANDIN_ARCH=arch)
    assert result.returncode == 1
    assert f"32-bit OS ({arch})" in result.stderr and "Raspberry Pi OS (64-bit)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert host.calls() == []  # before anything was done


def test_a_too_old_python_is_refused(host):
    result = host.run(INSTALL, check=False, STANDIN_PYTHON_VERSION="3.9")
    assert result.returncode == 1
    assert "Python 3.9 is too old" in result.stderr and "Bookworm or Trixie" in result.stderr


def test_dry_run_says_what_each_pi_package_is_for(host):
    result = host.run(INSTALL, "--dry-run", STANDIN_PI="0")
    assert "python3-kms++ in the apt sources: not Raspberry Pi OS? It is for the HDMI screen" in result.stdout
    assert "python3-picamera2 in the apt sources: not Raspberry Pi OS? It is for the Pi camera" in result.stdout


def test_uninstall_dry_run_on_the_live_system(host, tmp_path):
    result = host.run(UNINSTALL, "--dry-run", "--purge", PREFIX=str(tmp_path / "opt-pa"))
    assert host.calls() == []
    assert "+ systemctl disable --now pose-appliance.service" in result.stdout
    assert "+ systemctl daemon-reload" in result.stdout


# ------------------------------------------------------------------------------------- the unit and the user
def unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_unit_runs_the_contract():
    s = unit_settings(UNIT.read_text())
    assert s["Type"] == ["notify"]
    assert s["ExecStartPre"] == [f"{PREFIX}/venv/bin/pose-appliance check-config /etc/pose-appliance/config.toml"]
    assert s["ExecStart"] == [f"{PREFIX}/venv/bin/pose-appliance run --config /etc/pose-appliance/config.toml"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["Restart"] == ["on-failure"] and s["User"] == ["pose-appliance"]
    assert int(s["WatchdogSec"][0]) > 0 and int(s["TimeoutStopSec"][0]) <= 15
    assert "PYTHONUNBUFFERED=1" in s["Environment"]
    assert s["ProtectSystem"] == ["strict"] and s["NoNewPrivileges"] == ["yes"]


def test_unit_hardening_leaves_the_devices_visible():
    """Any of these hides or blocks /dev/video*, /dev/media*, /dev/dri, /dev/fb*, /dev/dma_heap, /dev/vchiq,
    /dev/apex_* or /dev/bus/usb (ProtectClock=yes adds a DeviceAllow= list, which denies everything else)."""
    s = unit_settings(UNIT.read_text())
    assert s.get("PrivateDevices", ["no"]) == ["no"]
    assert "DeviceAllow" not in s and "DevicePolicy" not in s
    assert s.get("ProtectClock", ["no"]) == ["no"]
    # PrivateUsers=yes shows video/render/plugdev as nogroup inside, but the kernel still grants group access to
    # their devices: tests/system checks it under the real systemd. ProcSubset=pid would hide /proc/cpuinfo,
    # which LiteRT's XNNPACK reads on ARM.
    assert s.get("ProcSubset", ["all"]) == ["all"]
    assert "" in s["CapabilityBoundingSet"]
    for path in ("/dev", "/sys"):
        assert not any(path in v for key in ("InaccessiblePaths", "TemporaryFileSystem") for v in s.get(key, []))


def test_unit_passes_systemd_analyze_verify(host, destdir):
    """Verified as install.sh installed it, in a root where its commands exist (the stand-in venv's)."""
    host.run(INSTALL, *host.mirrors(), DESTDIR=str(destdir))
    shutil.copytree("/usr/lib/systemd/system", destdir / "usr/lib/systemd/system", symlinks=True)
    (destdir / "bin").mkdir()
    shutil.copy2("/bin/kill", destdir / "bin/kill")
    verify = ["systemd-analyze", "verify", f"--root={destdir}", "--man=no", "--generators=no",
              "pose-appliance.service"]
    result = subprocess.run(verify, capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr

    # The same check fails on a broken unit, so a pass means something.
    unit = destdir / "etc/systemd/system/pose-appliance.service"
    unit.write_text(unit.read_text().replace("WatchdogSec=30", "WatchdogSec=soon"))
    result = subprocess.run(verify, capture_output=True, text=True)
    assert "WatchdogSec" in result.stderr or "sec value" in result.stderr


def test_sysusers_file_creates_the_user_in_the_device_groups(tmp_path):
    """The real systemd-sysusers applied to an empty root."""
    root = tmp_path / "root"
    (root / "etc/sysusers.d").mkdir(parents=True)
    shutil.copy(SYSUSERS, root / "etc/sysusers.d/pose-appliance.conf")
    for name in ("passwd", "group", "shadow", "gshadow"):
        (root / "etc" / name).write_text("")
    result = subprocess.run(["systemd-sysusers", f"--root={root}", "pose-appliance.conf"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    passwd = [line.split(":") for line in (root / "etc/passwd").read_text().splitlines()]
    user = next(p for p in passwd if p[0] == "pose-appliance")
    assert user[5:] == ["/var/lib/pose-appliance", "/usr/sbin/nologin"] and int(user[2]) < 1000
    groups = {g.split(":")[0]: g.split(":")[3].split(",") for g in (root / "etc/group").read_text().splitlines()}
    for group in ("video", "render", "plugdev"):
        assert "pose-appliance" in groups[group], group
