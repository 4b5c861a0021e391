"""The data registry and its fetch command: small sets in the real layouts, served over
loopback HTTP (``tests/dataserver.py``), fetched, resumed, refused when corrupt, reported."""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import require_data
from PIL import Image

from dataserver import serve_set
from wconv import __main__ as cli
from wconv.experiments import datasets

ROOT = Path(__file__).resolve().parent.parent


def _png(seed: int, size=(160, 240)) -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _images(names) -> dict[str, bytes]:
    return {n: _png(i) for i, n in enumerate(names)}


@pytest.fixture
def cbsd68(file_server, monkeypatch):
    """A three-image CBSD68 fetched file by file from the loopback server (images of random
    noise, about 115 kB each: more than one 64 kB download chunk)."""
    files = _images(["101085.png", "101087.png", "102061.png"])
    spec = serve_set(file_server, "cbsd68", files)
    monkeypatch.setitem(datasets.SETS, "cbsd68", spec)
    return spec, files


def _leftovers(root: Path) -> list[str]:
    """Files under root/downloads other than kept archives."""
    d = root / "downloads"
    return sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file()) if d.is_dir() else []


# --------------------------------------------------------------------------- the registry

def test_registry_covers_every_set_with_a_source_and_a_checksum():
    assert list(datasets.SETS) == ["cifar100", "bsds500", "cbsd68", "kodak24", "train400",
                                   "bsd68", "set12", "div2k-train", "div2k-valid"]
    counts = {n: len(s.names) for n, s in datasets.SETS.items()}
    assert counts == {"cifar100": 3, "bsds500": 400, "cbsd68": 68, "kodak24": 24, "train400": 400,
                      "bsd68": 68, "set12": 12, "div2k-train": 800, "div2k-valid": 100}
    pinned = re.compile(r"https://raw\.githubusercontent\.com/[\w.-]+/[\w.-]+/[0-9a-f]{40}/\S+$")
    for name, spec in datasets.SETS.items():
        assert datasets.FOLDERS[name] == spec.folders
        assert all(f.startswith(spec.base) for f in spec.folders)
        for n in spec.names:
            if n in spec.urls:
                assert pinned.match(spec.urls[n]), spec.urls[n]
                assert spec.urls[n].endswith("/" + n.split("/")[-1])
            else:      # every file without a URL comes out of an archive with a checksum
                assert spec.archive is not None and re.fullmatch(
                    r"(sha256:[0-9a-f]{64}|md5:[0-9a-f]{32})", spec.archive.known_hash), name
        if not name.startswith("div2k"):
            assert all(re.fullmatch(r"[0-9a-f]{64}", spec.hashes[n]) for n in spec.names), name
    bsds = datasets.SETS["bsds500"]
    assert all(n in bsds.urls for n in bsds.names if n.startswith("train/"))
    assert not any(n in bsds.urls for n in bsds.names if n.startswith("test/"))
    assert bsds.archive.url.endswith("/BSR/BSR_bsds500.tgz")
    cifar = datasets.SETS["cifar100"].archive
    assert cifar.known_hash == "md5:eb9058c3a382ffc7106e4002c42a8d85" and cifar.size == 169_001_437
    valid = datasets.SETS["div2k-valid"]
    assert valid.archive.url == "https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_valid_HR.zip"
    assert valid.names[0] == "0801.png" and valid.archive.size == 448_993_893


def test_registry_files_are_pooch_registries():
    for path in sorted(datasets.REGISTRY.glob("*.txt")):
        lines = [line.split() for line in path.read_text().splitlines()
                 if line.strip() and not line.startswith("#")]
        assert lines and all(len(parts) in (2, 3) for parts in lines), path.name


def test_real_data_is_present_and_verified():
    local = [n for n in datasets.SETS if not n.startswith("div2k")]
    require_data(*(f for n in local for f in datasets.FOLDERS[n]))
    assert datasets.present(*local)
    rows = datasets.status(*local)
    assert [r["state"] for r in rows] == ["verified"] * len(local), datasets.format_status(rows)
    assert all(r["bytes"] == r["expected_bytes"] for r in rows)


# --------------------------------------------------------------------------- fetching

def test_fetch_installs_a_verified_set_and_is_idempotent(cbsd68, file_server, tmp_path):
    spec, files = cbsd68
    assert not datasets.present("cbsd68", root=tmp_path)
    folders = datasets.fetch("cbsd68", root=tmp_path, progress=False)
    folder = tmp_path / "denoise" / "CBSD68"
    assert folders == {"cbsd68": (folder,)}
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name != datasets.MARKER} == files
    assert (folder / datasets.MARKER).is_file()
    assert datasets.present("cbsd68", root=tmp_path)
    assert _leftovers(tmp_path) == [] and not (tmp_path / "downloads" / "cbsd68").exists()
    requests = len(file_server.log)
    assert datasets.fetch("cbsd68", root=tmp_path, progress=False) == folders
    assert len(file_server.log) == requests        # complete: nothing downloaded again


def test_interrupted_fetch_resumes_with_a_range_request(cbsd68, file_server, tmp_path):
    spec, files = cbsd68
    path, data = "cbsd68/101087.png", files["101087.png"]
    file_server.cut[path] = len(data) - 1000
    with pytest.raises(ConnectionError, match=r"[\d,]+ bytes are kept in .*101087.png.part"):
        datasets.fetch("cbsd68", root=tmp_path, retries=0, progress=False)
    part = tmp_path / "downloads" / "cbsd68" / "101087.png.part"
    kept = part.stat().st_size      # whole chunks: the one being read when the line dropped is lost
    assert 0 < kept < len(data) and part.read_bytes() == data[:kept]
    assert not datasets.present("cbsd68", root=tmp_path)
    assert not (tmp_path / "denoise" / "CBSD68").exists()

    datasets.fetch("cbsd68", root=tmp_path, retries=0, progress=False)
    assert file_server.requests_for(path) == [None, f"bytes={kept}-"]
    assert file_server.requests_for("cbsd68/101085.png") == [None]   # kept, not fetched again
    assert (tmp_path / "denoise" / "CBSD68" / "101087.png").read_bytes() == data
    assert datasets.status("cbsd68", root=tmp_path)[0]["state"] == "verified"


def test_dropped_connection_resumes_within_one_call(file_server, monkeypatch, tmp_path):
    payload = {n: os.urandom(300_000) for n in ("train", "test", "meta")}
    spec = serve_set(file_server, "cifar100", payload, from_archive=tuple(payload))
    monkeypatch.setitem(datasets.SETS, "cifar100", spec)
    archive = spec.archive.filename
    file_server.cut[archive] = 100_000
    datasets.fetch("cifar100", root=tmp_path, retries=1, progress=False)
    assert file_server.requests_for(archive) == [None, "bytes=65536-"]   # one whole 64 kB chunk
    folder = tmp_path / "cifar-100-python"
    assert {n: (folder / n).read_bytes() for n in payload} == payload
    assert (tmp_path / "downloads" / archive).is_file()             # kept for a re-extraction


def test_server_ignoring_range_restarts_the_file(cbsd68, file_server, tmp_path):
    spec, files = cbsd68
    part = tmp_path / "downloads" / "cbsd68" / "101085.png.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"stale bytes of an earlier run")
    file_server.ignore_range = True
    datasets.fetch("cbsd68", root=tmp_path, retries=0, progress=False)
    assert file_server.requests_for("cbsd68/101085.png") == ["bytes=29-"]
    assert (tmp_path / "denoise" / "CBSD68" / "101085.png").read_bytes() == files["101085.png"]


def test_mixed_set_takes_files_one_by_one_and_from_the_archive(file_server, monkeypatch, tmp_path):
    files = {**_images(["train/1.jpg", "train/2.jpg"]), **_images(["test/3.jpg", "test/4.jpg"])}
    spec = serve_set(file_server, "bsds500", files, from_archive=("test/3.jpg", "test/4.jpg"))
    monkeypatch.setitem(datasets.SETS, "bsds500", spec)
    train, test = datasets.fetch("bsds500", root=tmp_path, progress=False)["bsds500"]
    assert (train, test) == (tmp_path / "denoise/BSDS500/train", tmp_path / "denoise/BSDS500/test")
    assert sorted(p.name for p in test.iterdir()) == [datasets.MARKER, "3.jpg", "4.jpg"]
    assert (train / "2.jpg").read_bytes() == files["train/2.jpg"]
    assert (train / datasets.MARKER).is_file()


# --------------------------------------------------------------------------- refusing bad data

def test_corrupt_archive_is_refused_with_nothing_extracted(file_server, monkeypatch, tmp_path):
    payload = {"train": b"a" * 5000, "test": b"b" * 5000, "meta": b"c" * 50}
    spec = serve_set(file_server, "cifar100", payload, from_archive=tuple(payload))
    monkeypatch.setitem(datasets.SETS, "cifar100", spec)
    good = file_server.files[spec.archive.filename]
    file_server.files[spec.archive.filename] = good[:-10] + b"0123456789"   # damaged in transit
    with pytest.raises(ValueError, match="is corrupt and was deleted"):
        datasets.fetch("cifar100", root=tmp_path, retries=0, progress=False)
    assert not (tmp_path / "cifar-100-python").exists()
    assert _leftovers(tmp_path) == []
    assert not datasets.present("cifar100", root=tmp_path)


def test_archive_member_differing_from_the_registry_is_refused(file_server, monkeypatch, tmp_path):
    payload = {"train": b"a" * 5000, "test": b"b" * 5000, "meta": b"c" * 50}
    spec = serve_set(file_server, "cifar100", payload, from_archive=tuple(payload))
    spec.hashes["test"] = "0" * 64          # the archive is the one recorded; one member is not
    monkeypatch.setitem(datasets.SETS, "cifar100", spec)
    with pytest.raises(ValueError, match="1 files extracted for cifar100 differ.*test: sha256"):
        datasets.fetch("cifar100", root=tmp_path, retries=0, progress=False)
    assert not (tmp_path / "cifar-100-python").exists()
    assert _leftovers(tmp_path) == ["cifar100.tar.gz"]


@pytest.mark.parametrize("kind", ["zip", "tgz"])
def test_archive_without_the_expected_members_is_refused(file_server, monkeypatch, tmp_path, kind):
    import hashlib

    from dataserver import archive_bytes

    files = {f"{i:04d}.png": _png(i) for i in (801, 802, 803)}
    spec = serve_set(file_server, "div2k-valid", files, from_archive=tuple(files), kind=kind,
                     hashes=False)
    # The same archive name, now holding two of the images and a member escaping the folder.
    evil = archive_bytes(kind, {spec.archive.prefix + "0801.png": files["0801.png"],
                                spec.archive.prefix + "0802.png": files["0802.png"],
                                spec.archive.prefix + "../../../evil.png": b"x"})
    file_server.files[spec.archive.filename] = evil
    spec = datasets.DataSet(**{**spec.__dict__, "archive": datasets.Archive(
        **{**spec.archive.__dict__, "known_hash": f"sha256:{hashlib.sha256(evil).hexdigest()}"})})
    monkeypatch.setitem(datasets.SETS, "div2k-valid", spec)
    with pytest.raises(ValueError, match=r"lacks 1 expected files .*0803\.png"):
        datasets.fetch("div2k-valid", root=tmp_path, retries=0, progress=False)
    assert not (tmp_path / "DIV2K").exists()
    assert not list(tmp_path.rglob("evil.png")) and not (tmp_path.parent / "evil.png").exists()
    assert _leftovers(tmp_path) == [spec.archive.filename]


def test_archive_that_cannot_be_read_is_refused(file_server, monkeypatch, tmp_path):
    import hashlib

    files = {"0801.png": _png(1)}
    spec = serve_set(file_server, "div2k-valid", files, from_archive=tuple(files), kind="zip",
                     hashes=False)
    junk = b"PK\x03\x04 this is not really a zip archive"
    file_server.files[spec.archive.filename] = junk
    spec = datasets.DataSet(**{**spec.__dict__, "archive": datasets.Archive(
        **{**spec.archive.__dict__, "known_hash": f"sha256:{hashlib.sha256(junk).hexdigest()}"})})
    monkeypatch.setitem(datasets.SETS, "div2k-valid", spec)
    with pytest.raises(ValueError, match="is not a valid archive"):
        datasets.fetch("div2k-valid", root=tmp_path, retries=0, progress=False)
    assert not (tmp_path / "DIV2K").exists()


def test_half_extracted_folder_is_never_taken_as_complete(cbsd68, tmp_path):
    spec, files = cbsd68
    folder = tmp_path / "denoise" / "CBSD68"
    folder.mkdir(parents=True)
    (folder / "101085.png").write_bytes(files["101085.png"])      # one of three, no marker
    assert not datasets.present("cbsd68", root=tmp_path)
    assert datasets.status("cbsd68", root=tmp_path)[0]["state"] == "incomplete"
    staging = tmp_path / "downloads" / "cbsd68"
    staging.mkdir(parents=True)
    (staging / "tmpa1b2c3").write_bytes(b"left by a killed run")
    datasets.fetch("cbsd68", root=tmp_path, progress=False)
    assert sorted(p.name for p in folder.iterdir()) == sorted([*files, datasets.MARKER])
    # A hand-made copy with every file (and no marker) is complete.
    (folder / datasets.MARKER).unlink()
    assert datasets.present("cbsd68", root=tmp_path)
    assert datasets.status("cbsd68", root=tmp_path)[0]["state"] == "verified"


# --------------------------------------------------------------------------- status

def test_status_before_and_after_a_fetch(cbsd68, tmp_path, capsys):
    spec, files = cbsd68
    before = datasets.status("cbsd68", "set12", root=tmp_path)
    assert [(r["state"], r["files"], r["bytes"]) for r in before] == [("missing", 0, 0)] * 2
    assert before[0]["expected"] == 3 and before[0]["expected_bytes"] == spec.size
    assert cli.main(["data", "status", "cbsd68", "--data-root", str(tmp_path)]) == 0
    assert re.search(r"^cbsd68\s+missing\s+0/3\b", capsys.readouterr().out, re.M)

    assert cli.main(["data", "fetch", "cbsd68", "--data-root", str(tmp_path), "--no-progress"]) == 0
    assert "denoise/CBSD68" in capsys.readouterr().out
    after = datasets.status("cbsd68", root=tmp_path)[0]
    assert (after["state"], after["files"], after["bytes"]) == ("verified", 3, spec.size)
    assert cli.main(["data", "status", "cbsd68", "--data-root", str(tmp_path)]) == 0
    assert re.search(r"^cbsd68\s+verified\s+3/3\b", capsys.readouterr().out, re.M)

    (tmp_path / "denoise" / "CBSD68" / "102061.png").write_bytes(b"changed")
    row = datasets.status("cbsd68", root=tmp_path)[0]
    assert row["state"] == "corrupt" and row["bad"] == ["102061.png"]
    assert datasets.status("cbsd68", root=tmp_path, verify=False)[0]["state"] == "present"
    assert "sha256 differs: 102061.png" in datasets.format_status([row])


# --------------------------------------------------------------------------- errors

def test_offline_error_names_the_file_the_url_and_the_folder(monkeypatch, tmp_path):
    import socket

    with socket.socket() as s:       # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/CBSD68/101085.png"
    spec = datasets.DataSet("cbsd68", "test", "denoise/CBSD68", ("denoise/CBSD68",),
                            {"101085.png": "0" * 64}, {"101085.png": url}, None, 1)
    monkeypatch.setitem(datasets.SETS, "cbsd68", spec)
    with pytest.raises(ConnectionError) as info:
        datasets.fetch("cbsd68", root=tmp_path, retries=0, progress=False)
    message = str(info.value)
    assert "could not download 101085.png" in message and url in message
    assert f"save that URL as {tmp_path / 'downloads' / 'cbsd68' / '101085.png'}" in message
    assert "python -m wconv data fetch cbsd68" in message
    assert not list((tmp_path / "downloads").rglob("*.part"))


def test_unknown_data_sets_are_refused_with_the_known_names(tmp_path, capsys):
    known = ", ".join(datasets.SETS)
    for call in (lambda: datasets.fetch("nope", root=tmp_path), lambda: datasets.present("nope"),
                 lambda: datasets.status("cbsd68", "nope"), lambda: datasets.fetch_command("nope")):
        with pytest.raises(ValueError, match=re.escape(f"unknown data set 'nope'; known: {known}")):
            call()
    assert cli.main(["data", "fetch", "nope", "--data-root", str(tmp_path)]) == 2
    assert f"known: {known}" in capsys.readouterr().err
    assert cli.main(["data", "fetch", "--data-root", str(tmp_path)]) == 2
    assert "pass --all" in capsys.readouterr().err
    assert not (tmp_path / "downloads").exists()


def test_require_fetches_only_when_asked(cbsd68, monkeypatch, tmp_path):
    monkeypatch.delenv("WCONV_FETCH", raising=False)
    with pytest.raises(FileNotFoundError) as info:
        datasets.require("cbsd68", root=tmp_path)
    message = str(info.value)
    for part in ("python -m wconv data fetch cbsd68", "make data", "WCONV_DATA",
                 str(tmp_path / "denoise" / "CBSD68")):
        assert part in message
    monkeypatch.setenv("WCONV_FETCH", "1")
    with pytest.raises(FileNotFoundError):
        datasets.require("cbsd68", root=tmp_path, download=False)
    datasets.require("cbsd68", root=tmp_path)
    assert datasets.present("cbsd68", root=tmp_path)


def test_make_data_fetches_the_sets_of_the_stored_runs_and_not_div2k():
    import subprocess

    from wconv.experiments import denoise

    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^\.PHONY:.*\bdata\b", makefile, re.M)
    dry = subprocess.run(["make", "-n", "-W", "requirements.txt", "data"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.splitlines()
    words = next(line for line in dry if " -m wconv data fetch " in line).split()
    fetched = set(words[words.index("fetch") + 1:])
    # DIV2K on disk would switch chapter 5 to another protocol than its stored runs'
    assert fetched == {"cifar100", *denoise.DATASETS["color"], *denoise.DATASETS["gray"]}
