"""Model manifest, verification and fetch: real files of ../shared, a local HTTP server, no internet."""

from __future__ import annotations

import argparse
import hashlib
import http.server
import io
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

from pose_appliance import modelstore
from pose_appliance.commands import models as models_command
from pose_appliance.errors import UserError
from pose_appliance.modelstore import ModelEntry, ModelError

AVAILABLE = ["movenet_lightning_int8", "movenet_lightning_int8_edgetpu", "yoga_classifier", "yoga_labels",
             "yoga_train_keypoints", "demo_video"]
DERIVED = ["yoga_train_data.reference-v1.npz"]  # built from the verified yoga_train_keypoints at fetch time


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for key in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="module")
def manifest():
    return modelstore.load_manifest()


@pytest.fixture
def mirrors(shared):
    return [shared / "models", shared / "data"]


def offline(*args, **kwargs):
    raise OSError("no network in tests")


# ------------------------------------------------------------------------------------------------- manifest
def test_repo_manifest_lists_every_sample_model_with_a_checksum(manifest):
    assert set(manifest) >= {
        "movenet_lightning_int8", "movenet_lightning_int8_edgetpu", "movenet_lightning_fp16",
        "movenet_thunder_int8", "movenet_thunder_int8_edgetpu", "movenet_thunder_fp16",
        "movenet_multipose_lightning_fp16", "posenet_mobilenet_v1", "yoga_classifier", "yoga_labels",
        "demo_video"}
    for entry in manifest.values():
        assert entry.sha256 or entry.git_blob, entry.name
        assert entry.url.startswith("https://"), entry.name
        assert all(url.startswith("https://") for url in entry.alt_urls), entry.name
    assert set(modelstore.DEFAULT_NAMES) <= set(manifest)
    assert manifest["movenet_lightning_int8"].edgetpu == "movenet_lightning_int8_edgetpu"
    assert manifest["movenet_thunder_int8"].edgetpu == "movenet_thunder_int8_edgetpu"
    assert manifest["yoga_classifier"].labels == "yoga_labels"
    assert manifest["movenet_lightning_int8"].family == "movenet_singlepose"
    assert manifest["movenet_multipose_lightning_fp16"].family == "movenet_multipose"
    assert manifest["posenet_mobilenet_v1"].family == "posenet"
    assert (manifest["movenet_lightning_int8"].input_size, manifest["movenet_thunder_fp16"].input_size) == (192, 256)
    # Kaggle URLs serve a tar.gz: the entries that list one say which member to take
    for entry in manifest.values():
        if any("kaggle.com" in url for url in entry.urls):
            assert entry.archive == "tar.gz" and entry.member.endswith(".tflite"), entry.name


def test_manifest_checksums_agree_with_the_shared_sha256sums(manifest, shared):
    published = {}
    for folder in ("models", "data"):
        for line in (shared / folder / "SHA256SUMS").read_text().splitlines():
            digest, name = line.split(maxsplit=1)
            published[digest] = name
    for entry in manifest.values():
        if entry.sha256:
            assert entry.sha256 in published, entry.name


def test_manifest_errors_name_the_file_the_entry_and_the_key(tmp_path):
    bad = tmp_path / "manifest.toml"
    cases = {
        'kind = "pose"\nfamily = "posenet"\nfile = "a.tflite"\nurl = "https://x"\n': "needs sha256 or git_blob",
        'kind = "pose"\nfamily = "posenet"\nfile = "a.tflite"\nurl = "https://x"\nsha256 = "ab"\nsize = 1\n':
            "64",
        'kind = "model"\nfile = "a"\nurl = "https://x"\nsha256 = "' + "0" * 64 + '"\n': "models.m.kind",
        'kind = "pose"\nfile = "a"\nurl = "https://x"\nsha256 = "' + "0" * 64 + '"\n': "models.m.family",
        'kind = "labels"\nfile = "../a"\nurl = "https://x"\nsha256 = "' + "0" * 64 + '"\n': "plain file name",
        'kind = "labels"\nfile = "a"\nurl = "https://x"\nsha265 = "x"\n': "did you mean 'sha256'",
        'kind = "labels"\nfile = "a"\nurl = "https://x"\nsize = "12"\nsha256 = "' + "0" * 64 + '"\n':
            "models.m.size",
        'kind = "classifier"\nfile = "a"\nurl = "https://x"\nlabels = "nope"\nsha256 = "' + "0" * 64 + '"\n':
            "'nope' is not an entry",
    }
    for body, expected in cases.items():
        bad.write_text("[models.m]\n" + body)
        with pytest.raises(ModelError, match=expected) as info:
            modelstore.load_manifest(bad)
        assert str(bad) in str(info.value) and "\n" not in str(info.value)
    bad.write_text("[models.m\n")
    with pytest.raises(ModelError, match="not valid TOML"):
        modelstore.load_manifest(bad)


def test_an_installed_wheel_reads_the_manifest_shipped_inside_the_package(tmp_path):
    """A non-editable install has no source tree beside it: the manifest is package data, read with
    importlib.resources (here even from the wheel as a zip on sys.path, with no site-packages at all)."""
    repo = Path(__file__).resolve().parent.parent
    source = tmp_path / "source"  # a clean copy: a build/ folder of an earlier build must not leak into the wheel
    shutil.copytree(repo / "pose_appliance", source / "pose_appliance",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(repo / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", str(tmp_path / "dist"), str(source)], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("pose_appliance-*.whl")
    code = ("import pose_appliance.modelstore as m; print(m.__file__); print(sorted(m.load_manifest()))")
    done = subprocess.run([sys.executable, "-S", "-c", code], env={"PYTHONPATH": str(wheel)}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=True)
    where, names = done.stdout.splitlines()
    assert where.startswith(str(wheel))
    assert names == str(sorted(modelstore.load_manifest()))

def test_resolve_models_dir_prefers_config_then_environment_then_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("POSE_APPLIANCE_MODELS", str(tmp_path / "env"))
    assert modelstore.resolve_models_dir(str(tmp_path / "cfg")) == tmp_path / "cfg"
    assert modelstore.resolve_models_dir("") == tmp_path / "env"
    monkeypatch.delenv("POSE_APPLIANCE_MODELS")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert modelstore.resolve_models_dir() == tmp_path / "home/.cache/pose-appliance/models"


def test_model_file_names_the_fix_for_unknown_and_missing_models(tmp_path):
    with pytest.raises(ModelError) as info:
        modelstore.model_file("movenet_lightning_int", tmp_path)
    message = str(info.value)
    assert "did you mean 'movenet_lightning_int8'" in message and "pose-appliance models list" in message
    with pytest.raises(ModelError) as info:
        modelstore.model_file("movenet_thunder_fp16", tmp_path)
    assert str(info.value).endswith(f"run `pose-appliance models fetch --models-dir {tmp_path} movenet_thunder_fp16`")
    (tmp_path / "yoga_labels.txt").write_text("chair")
    with pytest.raises(ModelError, match="damaged"):
        modelstore.model_file("yoga_labels", tmp_path)


def test_pose_models_leave_out_the_edgetpu_builds(manifest):
    names = [entry.name for entry in modelstore.pose_models(manifest)]
    assert names == ["movenet_lightning_int8", "movenet_lightning_fp16", "movenet_thunder_int8",
                     "movenet_thunder_fp16", "movenet_multipose_lightning_fp16", "posenet_mobilenet_v1"]


# ------------------------------------------------------------------------------------------------ verify
def test_git_blob_id_matches_git_hash_object_on_a_real_model(lightning_int8, manifest):
    size, sha256, blob = modelstore.digests(lightning_int8)
    git = shutil.which("git")
    if git:
        assert blob == subprocess.run([git, "hash-object", str(lightning_int8)], capture_output=True, text=True,
                                      check=True).stdout.strip()
    data = lightning_int8.read_bytes()
    assert blob == hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    entry = manifest["movenet_lightning_int8"]
    assert (size, sha256, blob) == (entry.size, entry.sha256, entry.git_blob)
    blob_only = ModelEntry(name="lightning", kind="pose", family="movenet_singlepose", file="l.tflite",
                           url="https://x", git_blob=entry.git_blob)
    modelstore.verify(blob_only, lightning_int8)
    wrong = ModelEntry(name="lightning", kind="pose", family="movenet_singlepose", file="l.tflite",
                       url="https://x", git_blob="0" * 40)
    with pytest.raises(ModelError, match=f"lightning: wrong git blob id: expected {'0' * 40}, got {blob}"):
        modelstore.verify(wrong, lightning_int8)


def test_verify_refuses_wrong_size_and_sha256(manifest, yoga_classifier, yoga_labels):
    entry = manifest["yoga_classifier"]
    modelstore.verify(entry, yoga_classifier)
    with pytest.raises(ModelError, match="yoga_classifier: wrong size: expected 36960 bytes, got 28"):
        modelstore.verify(entry, yoga_labels)
    same_size = ModelEntry(name="labels", kind="labels", file="l.txt", url="https://x", size=28, sha256="f" * 64)
    with pytest.raises(ModelError, match=f"wrong sha256: expected {'f' * 64}, got {manifest['yoga_labels'].sha256}"):
        modelstore.verify(same_size, yoga_labels)


# -------------------------------------------------------------------------------------------- from mirrors
def test_fetch_from_the_shared_mirrors_verifies_every_file(tmp_path, mirrors, manifest, shared):
    results = modelstore.fetch(AVAILABLE, tmp_path, mirrors=mirrors, urlopen=offline)
    assert [r.status for r in results] == ["copied"] * len(AVAILABLE)
    for result in results:
        entry = manifest[result.name]
        assert result.path == tmp_path / entry.file
        assert modelstore.digests(result.path)[1] == entry.sha256
        assert Path(result.source).is_relative_to(shared)
        assert modelstore.model_file(result.name, tmp_path) == result.path
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([manifest[n].file for n in AVAILABLE] + DERIVED)
    again = modelstore.fetch(AVAILABLE, tmp_path, mirrors=mirrors, urlopen=offline)
    assert [r.status for r in again] == ["present"] * len(AVAILABLE)


def test_fetching_a_classifier_brings_its_labels_and_reference_keypoints(tmp_path, mirrors):
    results = modelstore.fetch(["yoga_classifier"], tmp_path, mirrors=mirrors, urlopen=offline)
    assert [(r.name, r.status) for r in results] == [("yoga_classifier", "copied"), ("yoga_labels", "copied"),
                                                     ("yoga_train_keypoints", "copied")]
    from pose_appliance.classify import PoseReference

    reference = PoseReference.load(tmp_path / DERIVED[0])
    assert reference.classes == ["chair", "cobra", "dog", "tree", "warrior"]
    assert reference.source_sha256 == modelstore.digests(tmp_path / "yoga_train_data.csv")[1]


def test_models_not_in_the_mirror_fail_with_one_line_naming_each_url(tmp_path, mirrors, manifest):
    [result] = modelstore.fetch(["movenet_thunder_fp16"], tmp_path, mirrors=mirrors, urlopen=offline)
    assert result.status == "failed" and not result.ok
    assert result.error.startswith("movenet_thunder_fp16: ") and "\n" not in result.error
    for url in manifest["movenet_thunder_fp16"].urls:
        assert url in result.error
    assert list(tmp_path.iterdir()) == []


def test_unknown_name_is_refused_before_any_work(tmp_path, mirrors):
    with pytest.raises(ModelError, match=r"unknown model 'yoga_clasifier' .*did you mean 'yoga_classifier'"):
        modelstore.fetch(["demo_video", "yoga_clasifier"], tmp_path / "new", mirrors=mirrors)
    assert not (tmp_path / "new").exists()


# ----------------------------------------------------------------------------------------------- over HTTP
class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/cut-short/"):  # promises the whole file, sends half, closes
            data = (Path(self.directory) / self.path.removeprefix("/cut-short/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        if self.path.startswith("/chunk-cut/"):  # a chunked body whose connection drops inside a chunk
            data = (Path(self.directory) / self.path.removeprefix("/chunk-cut/")).read_bytes()
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n" % len(data) + data[:100])
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path, yoga_classifier):
    """Serves a good yoga_classifier, a tar.gz of it (as Kaggle does), a corrupt and a truncated copy."""
    root = tmp_path / "www"
    root.mkdir()
    good = yoga_classifier.read_bytes()
    (root / "good.tflite").write_bytes(good)
    corrupt = bytearray(good)
    corrupt[1000] ^= 0xFF
    (root / "corrupt.tflite").write_bytes(bytes(corrupt))
    (root / "truncated.tflite").write_bytes(good[:20000])
    for name, member in (("kaggle.tar.gz", "4.tflite"), ("other-member.tar.gz", "1.tflite")):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            info = tarfile.TarInfo(member)
            info.size = len(good)
            tar.addfile(info, io.BytesIO(good))
        (root / name).write_bytes(buffer.getvalue())
    (root / "download").write_bytes((root / "kaggle.tar.gz").read_bytes())  # Kaggle's URL has no extension

    def handler(*args, **kwargs):
        return _Handler(*args, directory=str(root), **kwargs)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _served(manifest, url, *alt_urls, member="4.tflite"):
    import dataclasses
    entry = dataclasses.replace(manifest["yoga_classifier"], url=url, alt_urls=tuple(alt_urls), labels="", reference="",
                                member=member)
    return {entry.name: entry}


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_download_good_file_with_progress(tmp_path, server, manifest):
    dest = tmp_path / "models"
    seen = []
    [result] = modelstore.fetch(["yoga_classifier"], dest, manifest=_served(manifest, f"{server}/good.tflite"),
                                progress=lambda name, done, total: seen.append((name, done, total)))
    assert (result.status, result.source) == ("downloaded", f"{server}/good.tflite")
    modelstore.verify(manifest["yoga_classifier"], dest / "yoga_classifier.tflite")
    assert seen[-1] == ("yoga_classifier", 36960, 36960)
    assert [done for _, done, _ in seen] == sorted(done for _, done, _ in seen)
    assert _leftovers(dest) == []


@pytest.mark.parametrize("path, member", [("kaggle.tar.gz", "4.tflite"), ("download", "4.tflite"),
                                          ("other-member.tar.gz", "4.tflite"), ("kaggle.tar.gz", "")])
def test_tar_gz_is_recognised_by_its_bytes_and_unpacked(tmp_path, server, manifest, path, member):
    [result] = modelstore.fetch(["yoga_classifier"], tmp_path, manifest=_served(manifest, f"{server}/{path}",
                                                                                  member=member))
    assert result.status == "downloaded", result.error
    modelstore.verify(manifest["yoga_classifier"], tmp_path / "yoga_classifier.tflite")
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("path, expected", [
    ("corrupt.tflite", "wrong sha256: expected 5e3946505789c0e317bf9d9e2d93e8364bda0239e75b05e7ac5d2cca5beb85c7, "
                       "got "),
    ("truncated.tflite", "wrong size: expected 36960 bytes, got 20000"),
    ("cut-short/good.tflite", "36960"),
    ("missing.tflite", "HTTP 404"),
])
def test_bad_downloads_are_refused_and_never_replace_a_good_file(tmp_path, server, manifest, yoga_classifier,
                                                                 path, expected):
    served = _served(manifest, f"{server}/{path}")
    [result] = modelstore.fetch(["yoga_classifier"], tmp_path, manifest=served)
    assert result.status == "failed"
    assert result.error.startswith(f"yoga_classifier: {server}/{path}: ") and expected in result.error
    assert not (tmp_path / "yoga_classifier.tflite").exists() and _leftovers(tmp_path) == []

    shutil.copyfile(yoga_classifier, tmp_path / "yoga_classifier.tflite")
    before = os.stat(tmp_path / "yoga_classifier.tflite")
    [result] = modelstore.fetch(["yoga_classifier"], tmp_path, manifest=served, force=True)
    assert result.status == "failed" and expected in result.error
    after = os.stat(tmp_path / "yoga_classifier.tflite")
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    modelstore.verify(manifest["yoga_classifier"], tmp_path / "yoga_classifier.tflite")
    assert _leftovers(tmp_path) == []


def test_alt_urls_are_tried_in_order_and_a_damaged_file_is_replaced(tmp_path, server, manifest):
    (tmp_path / "yoga_classifier.tflite").write_bytes(b"half a model")
    served = _served(manifest, f"{server}/corrupt.tflite", f"{server}/missing.tflite", f"{server}/kaggle.tar.gz",
                     f"{server}/good.tflite")
    [result] = modelstore.fetch(["yoga_classifier"], tmp_path, manifest=served)
    assert (result.status, result.source) == ("downloaded", f"{server}/kaggle.tar.gz")
    modelstore.verify(manifest["yoga_classifier"], tmp_path / "yoga_classifier.tflite")


def test_a_download_dropped_inside_a_chunk_fails_that_url_and_the_next_one_is_tried(tmp_path, server, manifest):
    cut = f"{server}/chunk-cut/good.tflite"
    [result] = modelstore.fetch(["yoga_classifier"], tmp_path, manifest=_served(manifest, cut))
    assert result.status == "failed"
    assert result.error.startswith(f"yoga_classifier: {cut}: download failed: IncompleteRead")
    [result] = modelstore.fetch(["yoga_classifier"], tmp_path,
                                manifest=_served(manifest, cut, f"{server}/good.tflite"))
    assert (result.status, result.source) == ("downloaded", f"{server}/good.tflite")
    assert _leftovers(tmp_path) == []


def test_parts_left_by_an_interrupted_fetch_are_removed_by_the_next(tmp_path, server, manifest):
    stale = tmp_path / ".yoga_classifier.tflite.k3j_x9.part"  # a fetch killed mid-download left it
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    recent = tmp_path / ".yoga_classifier.tflite.a8v2zq.part"  # another fetch writing now
    recent.write_bytes(b"half")
    [result] = modelstore.fetch(["yoga_classifier"], tmp_path, manifest=_served(manifest, f"{server}/good.tflite"))
    assert result.ok
    assert _leftovers(tmp_path) == [recent.name]


def test_mirror_wins_over_the_network(tmp_path, server, manifest, yoga_classifier):
    mirror = tmp_path / "mirror" / "any" / "layout"
    mirror.mkdir(parents=True)
    shutil.copyfile(yoga_classifier, mirror / "renamed.bin")
    [result] = modelstore.fetch(["yoga_classifier"], tmp_path / "models", mirrors=[tmp_path / "mirror"],
                                manifest=_served(manifest, f"{server}/corrupt.tflite"), urlopen=offline)
    assert (result.status, result.source) == ("copied", str(mirror / "renamed.bin"))


# ----------------------------------------------------------------------------------------------------- CLI
def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    models_command.add_arguments(parser)
    return models_command.run(parser.parse_args(list(argv)))


def test_models_list_shows_present_missing_and_corrupt(tmp_path, mirrors, capsys, manifest):
    modelstore.fetch(["yoga_classifier", "demo_video"], tmp_path, mirrors=mirrors)
    (tmp_path / "demo_video.mp4").write_bytes(b"not a video")
    assert _cli("list", "--models-dir", str(tmp_path)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"models dir: {tmp_path}"
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert set(rows) == set(manifest)
    assert rows["yoga_classifier"][1:5] == ["classifier", "37.0", "kB", "present"]
    assert rows["yoga_labels"][1:5] == ["labels", "28", "B", "present"]
    assert rows["demo_video"][1:5] == ["video", "96.1", "kB", "corrupt"]
    assert rows["movenet_lightning_int8"][1:5] == ["pose", "2.9", "MB", "missing"]
    assert rows["movenet_thunder_fp16"][2:4] == ["unknown", "missing"]  # no size published; known once fetched
    assert "?" not in "".join(lines)


def test_models_list_shows_an_edgetpu_build_under_its_cpu_model_not_as_a_pose_model(tmp_path, capsys, manifest):
    from pose_appliance import cli

    assert cli.main(["models", "list", "--models-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines[2:]]
    rows = {line.split()[0]: line for line in lines[2:]}
    # the pose models offered are exactly the ones model.name takes; the Edge TPU build is still listed (fetch takes it)
    assert [n for n in names if rows[n].split()[1] == "pose"] == [e.name for e in modelstore.pose_models(manifest)]
    build = rows["movenet_lightning_int8_edgetpu"]
    assert build.split()[1:5] == ["edgetpu", "3.1", "MB", "missing"]
    assert "Edge TPU build of movenet_lightning_int8 (not a model.name)" in build
    assert 'model.delegate = "edgetpu"' in build
    assert names.index("movenet_lightning_int8_edgetpu") == names.index("movenet_lightning_int8") + 1


def test_models_fetch_command_default_set_and_failures(tmp_path, mirrors, capsys, monkeypatch, shared):
    monkeypatch.setattr("urllib.request.urlopen", offline)
    args = ["fetch", "--models-dir", str(tmp_path)] + [x for m in mirrors for x in ("--mirror", str(m))]
    assert _cli(*args) == 0
    out = capsys.readouterr().out
    assert sorted(line.split(":")[0] for line in out.splitlines()) == sorted(modelstore.DEFAULT_NAMES)
    assert _cli(*args, "movenet_thunder_int8", "posenet_mobilenet_v1", "yoga_labels") == 1
    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    assert len(errors) == 2
    assert errors[0].startswith("pose-appliance models fetch: movenet_thunder_int8: https://")
    assert errors[1].startswith("pose-appliance models fetch: posenet_mobilenet_v1: https://")
    assert "yoga_labels: present" in captured.out


def test_models_fetch_command_also_fetches_what_a_config_reads(tmp_path, mirrors, capsys, monkeypatch):
    monkeypatch.setattr("urllib.request.urlopen", offline)
    config = tmp_path / "config.toml"
    config.write_text('[model]\ndelegate = "edgetpu"\n[camera]\ntype = "opencv"\n')
    models = tmp_path / "models"
    args = ["fetch", "--models-dir", str(models)] + [x for m in mirrors for x in ("--mirror", str(m))]
    assert _cli(*args, "--config", str(config)) == 0
    fetched = sorted(line.split(":")[0] for line in capsys.readouterr().out.splitlines())
    assert fetched == sorted({*modelstore.DEFAULT_NAMES, "movenet_lightning_int8_edgetpu"})
    config.write_text('[model]\nname = "movenet_lightnin"\n')
    with pytest.raises(UserError, match="unknown model 'movenet_lightnin'"):
        _cli(*args, "--config", str(config))
    config.write_text('[model]\nnam = "movenet_thunder_int8"\n')
    with pytest.raises(UserError, match=r"model\.nam: unknown key"):
        _cli(*args, "--config", str(config))


def test_models_fetch_command_rejects_unknown_names_and_mixing_all(tmp_path):
    with pytest.raises(UserError, match=r"unknown model 'posenet'.*did you mean 'posenet_mobilenet_v1'"):
        _cli("fetch", "--models-dir", str(tmp_path), "posenet")
    with pytest.raises(UserError, match="not both"):
        _cli("fetch", "--models-dir", str(tmp_path), "--all", "demo_video")


def test_the_shipped_manifest_is_read_once_and_each_caller_gets_its_own_dict(monkeypatch):
    from pose_appliance.modelstore import manifest

    first = modelstore.load_manifest()
    monkeypatch.setattr(manifest, "_read_manifest", lambda source: pytest.fail("read again"))
    first.pop("demo_video")
    second = modelstore.load_manifest()
    assert "demo_video" in second and second is not first
