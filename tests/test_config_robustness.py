"""Whatever a config file holds, loading it gives a Config or one ConfigError line, never anything else."""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import typing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pose_appliance import config as cfg


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def one_line_error(path: Path) -> str:
    with pytest.raises(cfg.ConfigError) as caught:
        cfg.load_config(path)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 600, message
    return message


def float_keys(cls: type = cfg.Config, prefix: str = "") -> list[str]:
    keys = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}.{f.name}" if prefix else f.name
        if dataclasses.is_dataclass(hints[f.name]):
            keys += float_keys(hints[f.name], key)
        elif hints[f.name] is float:
            keys.append(key)
    return keys


def leaf_keys(cls: type = cfg.Config, prefix: str = "") -> list[str]:
    keys = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}.{f.name}" if prefix else f.name
        keys += leaf_keys(hints[f.name], key) if dataclasses.is_dataclass(hints[f.name]) else [key]
    return keys


def as_toml(dotted: str, value_text: str) -> str:
    table, _, name = dotted.rpartition(".")
    return (f"[{table}]\n" if table else "") + f"{name} = {value_text}\n"


# ------------------------------------------------------------------------------------------ the found defects
def test_deeply_nested_array_is_a_config_error(tmp_path):
    path = write(tmp_path, as_toml("overlay.line_width", "[" * 3000 + "]" * 3000))
    assert "nested too deeply" in one_line_error(path)


def test_deeply_nested_inline_tables_are_a_config_error(tmp_path):
    path = write(tmp_path, "camera = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n")
    assert "nested too deeply" in one_line_error(path)


@pytest.mark.parametrize("key", float_keys())
@pytest.mark.parametrize("number", ["nan", "inf", "-inf", "+nan"])
def test_nan_and_inf_are_rejected_for_every_float_key(tmp_path, key, number):
    message = one_line_error(write(tmp_path, as_toml(key, number)))
    assert f": {key}: " in message and "finite" in message


@pytest.mark.parametrize("key", float_keys())
def test_a_whole_number_too_big_for_a_float_names_the_key(tmp_path, key):
    message = one_line_error(write(tmp_path, as_toml(key, "1" + "0" * 400)))
    assert f": {key}: " in message and "too big" in message


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes('\ufeff[display]\ntype = "web"\n'.encode())  # Windows Notepad saves UTF-8 like this
    assert cfg.load_config(path).display.type == "web"


def test_replace_rejects_nan_too():
    with pytest.raises(cfg.ConfigError, match="finite"):
        cfg.replace(cfg.Config(), "camera.images.fps", math.nan)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    outcome: list = []
    reader = threading.Thread(target=lambda: outcome.append(_try_load(fifo)), daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():  # unblock the stuck reader so the test run can end
        with open(fifo, "w"):
            pass
        pytest.fail("reading a FIFO config blocked")
    assert isinstance(outcome[0], cfg.ConfigError) and "not a regular file" in str(outcome[0])


def test_a_directory_is_refused(tmp_path):
    assert "is a directory" in one_line_error(tmp_path)


def test_a_huge_file_is_refused(tmp_path):
    path = write(tmp_path, "# " + "x" * (2 * 1024 * 1024) + "\n")
    assert "too big" in one_line_error(path)


def _try_load(path: Path) -> object:
    try:
        return cfg.load_config(path)
    except cfg.ConfigError as exc:
        return exc


def test_long_values_are_cut_in_messages(tmp_path):
    huge = "x" * 100_000
    message = one_line_error(write(tmp_path, as_toml("display.type", f'"{huge}"')))
    assert "display.type" in message and "..." in message
    message = one_line_error(write(tmp_path, as_toml("model.threads", f'"{huge}"')))
    assert "expected a whole number" in message
    message = one_line_error(write(tmp_path, f'[model]\n{huge} = 1\n'))
    assert "unknown key" in message


# ------------------------------------------------------------------------------------------ property-based
def toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\' or ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


scalars = st.one_of(
    st.booleans().map(lambda b: "true" if b else "false"),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(toml_float),
    st.text(max_size=50).map(toml_string),
    st.integers(min_value=1, max_value=200_000).map(lambda n: '"' + "y" * n + '"'),
    st.sampled_from(['"video"', '"record"', '"web"', '"cpu"', '"auto"', '"info"', '""', "0", "1", "0.5",
                     "1979-05-27T07:32:00Z", "07:32:00", "1979-05-27"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
        st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), children, max_size=3).map(
            lambda d: "{" + ", ".join(f"{k} = {v}" for k, v in d.items()) + "}"),
    ),
    max_leaves=8,
)
deep = st.integers(min_value=1, max_value=5000).map(lambda n: "[" * n + "]" * n)
known_keys = leaf_keys() + ["camera", "display.web", "bogus", "model.bogus"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(known_keys), st.one_of(values, deep)), min_size=1, max_size=6,
                unique_by=lambda pair: pair[0]))
def test_any_toml_gives_a_config_or_one_config_error(tmp_path, assignments):
    tables: dict[str, list[str]] = {}
    for key, value_text in assignments:
        table, _, name = key.rpartition(".")
        tables.setdefault(table, []).append(f"{name} = {value_text}")
    text = "\n".join(tables.pop("", [])) + "\n"
    for table, lines in tables.items():
        text += f"[{table}]\n" + "\n".join(lines) + "\n"
    path = tmp_path / "property.toml"
    path.write_text(text, encoding="utf-8")
    try:
        config = cfg.load_config(path)
    except cfg.ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and len(message) < 600, message
        return
    assert isinstance(config, cfg.Config)
    for key in float_keys():
        node = config
        for part in key.split("."):
            node = getattr(node, part)
        assert math.isfinite(node), key


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["camera", "model", "display", "service", "overlay", "x"]),
                       st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                                              st.text(max_size=20)),
                                    lambda c: st.one_of(st.lists(c, max_size=3),
                                                        st.dictionaries(st.text(max_size=8), c, max_size=3)),
                                    max_leaves=10),
                       max_size=4))
def test_any_dict_gives_a_config_or_one_config_error(data):
    try:
        assert isinstance(cfg.validate_config(data, "<test>"), cfg.Config)
    except cfg.ConfigError as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize("make", [
    lambda d: write(d, as_toml("overlay.line_width", "[" * 3000 + "]" * 3000)),
    lambda d: write(d, as_toml("camera.images.fps", "nan")),
    lambda d: write(d, "[model]\nthreads = 1\n" + "#" * (2 * 1024 * 1024)),
    lambda d: (d / "config.toml").write_bytes(b"\xff\xfe\x00garbage") or d / "config.toml",
    lambda d: d,
    lambda d: os.mkfifo(d / "fifo.toml") or d / "fifo.toml",
])
def test_check_config_answers_one_line_never_a_traceback(tmp_path, capfd, make):
    """The real command in its own process, as systemd's ExecStartPre runs it."""
    import subprocess
    import sys

    path = make(tmp_path)
    done = subprocess.run([sys.executable, "-m", "pose_appliance", "check-config", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"pose-appliance check-config: {path}"), done.stderr
