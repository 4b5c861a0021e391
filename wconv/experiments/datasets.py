"""The data sets the book uses: where they come from, where they live, and how to fetch them.

Every data set has a name (:data:`SETS`, :data:`FOLDERS`) and the folders it fills under
:func:`wconv.settings.data_root`. Its registry lists every file with its SHA-256 and, for
the files fetched one by one, a raw URL pinned to a commit of a public repository; the
other files come out of the set's official archive (:class:`Archive`), whose own
checksum is checked before anything is extracted. The per-file registries are small
text files in pooch's registry format (``name sha256 [url]``) in ``wconv/registry/``;
each one's header says where its files and hashes come from.

:func:`present` says whether a set is there (every folder holds the completion marker,
or every expected file: a copy made by hand has no marker), so that a notebook can run
live or replay its stored results; :func:`missing_note` is the one line a page prints
when it replays. :func:`fetch` downloads, :func:`status` reports, :func:`require` is what
loaders call: it fetches only when asked (``download=True`` or ``WCONV_FETCH=1``) and
otherwise raises ``FileNotFoundError`` naming the fetch command. The command line is
``python -m wconv data fetch NAME ... | --all`` and ``python -m wconv data status``;
``make data`` fetches everything.

How a fetch works, and why:

* Downloads go through `pooch <https://www.fatiando.org/pooch/>`_, which checks each
  file's hash before moving it into place. Pooch (1.8) streams into a temporary file that
  it deletes when the download fails, so by itself an interrupted download starts over.
  The smallest honest fix is a pooch *downloader* (:class:`ResumableDownloader`): it
  keeps the bytes in ``<file>.part``, asks for the rest with an HTTP ``Range`` header
  (passed to pooch's own :class:`pooch.HTTPDownloader`, which forwards it to
  ``requests``), and hands the finished file to pooch for the hash check. A response hook
  empties the part first when the server ignores ``Range`` and sends the whole file.
  No HTTP code is written here beyond that hook.
* Files fetched one by one land in ``<root>/downloads/<name>/``; archives in
  ``<root>/downloads/<archive>`` (kept, so a later fetch re-extracts without downloading).
* Only the archive members the registry names are extracted, into the same
  ``downloads/<name>/`` folder, and each is checked against its registry hash (where one
  is known). Then the completion marker is written into each folder and the folder is
  renamed into place: a folder appears under the data root only complete and verified.
* Offline, the error names the file, its URL and where to put it by hand.

Example::

    >>> from wconv.experiments import datasets
    >>> datasets.fetch_command("cifar100")
    'python -m wconv data fetch cifar100'
    >>> datasets.SETS["kodak24"].folders
    ('denoise/Kodak24',)
    >>> datasets.fetch("cbsd68")          # doctest: +SKIP
    {'cbsd68': (PosixPath('.../data/denoise/CBSD68'),)}
"""
from __future__ import annotations

import gzip
import json
import os
import shutil
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pooch
from tqdm.auto import tqdm

from .. import settings

__all__ = ["Archive", "DataSet", "SETS", "FOLDERS", "MARKER", "present", "fetch_command",
           "missing_note", "fetch", "require", "status", "format_status",
           "ResumableDownloader"]

#: Written into a folder, last, once every file in it is there and verified.
MARKER = ".wconv-complete.json"

#: Where the per-file registries live.
REGISTRY = Path(__file__).resolve().parent / "registry"


@dataclass(frozen=True)
class Archive:
    """An archive that holds (some of) a set's files.

    Attributes:
        url: where to download it.
        filename: its name under ``<root>/downloads/``.
        size: its size in bytes (``None``: not known).
        known_hash: pooch's form, ``'sha256:...'`` or ``'md5:...'``; checked before extraction.
        prefix: the path inside the archive that the set's file names are relative to.
    """
    url: str
    filename: str
    size: int | None
    known_hash: str
    prefix: str


@dataclass(frozen=True)
class DataSet:
    """One data set: its files, their checksums and sources, and the folders it fills.

    Attributes:
        name: the name the command line and :func:`fetch` use.
        title: one line for people, with the citation.
        base: the folder under the data root that the file names are relative to.
        folders: the folders it fills (relative to the data root), each under ``base``.
        hashes: file name -> SHA-256 (``None`` where no per-file hash is known).
        urls: file name -> URL, for the files fetched one by one.
        archive: where the files without a URL come from.
        size: total bytes of the files (``None``: not known).
    """
    name: str
    title: str
    base: str
    folders: tuple[str, ...]
    hashes: dict
    urls: dict
    archive: Archive | None
    size: int | None

    @property
    def names(self) -> tuple[str, ...]:
        """Every file the set's folders must hold, relative to :attr:`base`."""
        return tuple(self.hashes)


def _registry(name: str) -> tuple[dict, dict]:
    """``(hashes, urls)`` from ``wconv/registry/<name>.txt``, read by pooch's own parser."""
    reader = pooch.create(path=".", base_url="")
    reader.load_registry(REGISTRY / f"{name}.txt")
    return reader.registry, reader.urls


def _from_registry(name, title, base, folders, archive=None, size=None) -> DataSet:
    hashes, urls = _registry(name)
    return DataSet(name, title, base, folders, hashes, urls, archive, size)


# Berkeley's archive: its size and sha256 were not measured here (no copy offline); they
# are those of a public manifest (catid/SoftMenon, benchmark/datasets.json), whose per-file
# hashes of the test/ members match this project's copy. Only test/ is taken from it.
_BERKELEY = Archive(
    "https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/BSR/BSR_bsds500.tgz",
    "BSR_bsds500.tgz", 70_763_455,
    "sha256:97e49d31764f3912f0c4122707d53062ac9e783ba0f095e447a4d53c1a41af8e",
    "BSR/BSDS500/data/images/")


def _div2k(split: str, first: int, last: int, size: int, sha256: str) -> DataSet:
    # No copy of DIV2K could be obtained offline, so there are no per-file hashes: the
    # archive's sha256 (recorded publicly by several projects) is checked before
    # extraction, and the extracted folder must hold every image name.
    folder = f"DIV2K_{split}_HR"
    return DataSet(
        f"div2k-{split}", f"DIV2K {split} HR images {first:04d}-{last:04d} (Agustsson & Timofte, "
        f"NTIRE 2017)", f"DIV2K/{folder}", (f"DIV2K/{folder}",),
        {f"{i:04d}.png": None for i in range(first, last + 1)}, {},
        Archive(f"https://data.vision.ee.ethz.ch/cvl/DIV2K/{folder}.zip", f"{folder}.zip", size,
                f"sha256:{sha256}", f"{folder}/"), None)


#: Every data set the book uses, by name.
SETS = {s.name: s for s in [
    _from_registry(
        "cifar100", "CIFAR-100, python version (Krizhevsky, 2009)", "cifar-100-python",
        ("cifar-100-python",),
        # md5: the one torchvision checks; size: as public download logs report it.
        Archive("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                "cifar-100-python.tar.gz", 169_001_437, "md5:eb9058c3a382ffc7106e4002c42a8d85",
                "cifar-100-python/"), 186_301_098),
    _from_registry(
        "bsds500", "BSDS500 train + test images (Martin et al., ICCV 2001; Arbelaez et al., "
        "TPAMI 2011)", "denoise/BSDS500", ("denoise/BSDS500/train", "denoise/BSDS500/test"),
        _BERKELEY, 29_519_145),
    _from_registry("cbsd68", "CBSD68 colour test images (BSDS300 test)", "denoise/CBSD68",
                   ("denoise/CBSD68",), size=18_256_358),
    _from_registry("kodak24", "Kodak24, centre-cropped to 500x500", "denoise/Kodak24",
                   ("denoise/Kodak24",), size=10_363_665),
    _from_registry("train400", "Train400 grayscale training images (Zhang et al., TIP 2017)",
                   "denoise/Train400", ("denoise/Train400",), size=8_242_575),
    _from_registry("bsd68", "BSD68 grayscale test images (BSDS300 test)", "denoise/BSD68",
                   ("denoise/BSD68",), size=6_450_605),
    _from_registry("set12", "Set12 grayscale test images", "denoise/Set12", ("denoise/Set12",),
                   size=1_195_905),
    _div2k("train", 1, 800, 3_530_603_713,
           "9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335"),
    _div2k("valid", 801, 900, 448_993_893,
           "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc"),
]}

#: Data set name -> the folders (relative to the data root) it fills.
FOLDERS = {name: s.folders for name, s in SETS.items()}


def _check(names) -> tuple[str, ...]:
    unknown = [n for n in names if n not in SETS]
    if unknown:
        raise ValueError(f"unknown data set {unknown[0]!r}; known: {', '.join(SETS)}")
    return tuple(names)


def _complete(spec: DataSet, base: Path) -> bool:
    if all((base / f / MARKER).is_file() for f in spec.folders):
        return True
    # A copy made by hand has no marker: it is complete when every expected file is there.
    files = (base / spec.base / n for n in spec.names)
    return all(f.is_file() and f.stat().st_size > 0 for f in files)


def present(*names: str, root: str | os.PathLike | None = None) -> bool:
    """Whether every named data set is complete under the data root.

    A set is complete when each of its folders holds the completion marker that
    :func:`fetch` writes, or when every file its registry lists is there (a copy made by
    hand). A half-extracted or half-copied folder is not.
    """
    base = settings.data_root(root)
    return all(_complete(SETS[n], base) for n in _check(names))


def fetch_command(*names: str) -> str:
    """The shell command that downloads the named data sets."""
    return "python -m wconv data fetch " + " ".join(_check(names))


def missing_note(*names: str, what: str = "the stored results") -> str:
    """One line for a page that replays stored results because the data is missing."""
    return (f"No {', '.join(_check(names))} data under {settings.data_root()}: showing {what}. "
            f"To run this live, fetch it with `{fetch_command(*names)}` (or `make data`).")


# --------------------------------------------------------------------------- downloading

class ResumableDownloader:
    """A pooch downloader that resumes: it appends to ``part`` and asks for the rest.

    Pooch calls it as ``downloader(url, output_file, pooch)``. The bytes go to ``part``
    (which survives a failed call), requested from its current length on with an HTTP
    ``Range`` header through :class:`pooch.HTTPDownloader`; when complete, ``part`` is
    moved to pooch's ``output_file`` and pooch checks its hash. A server that ignores
    ``Range`` answers 200 with the whole file: a response hook then empties ``part``
    before the body is written.

    Example::

        >>> store = pooch.create(path="data", base_url="", registry={"f.zip": "sha256:..."},
        ...                      urls={"f.zip": "https://example.org/f.zip"})
        >>> store.fetch("f.zip", downloader=ResumableDownloader(Path("data/f.zip.part")))  # doctest: +SKIP
    """

    def __init__(self, part: Path, progressbar: bool = False, timeout: float = 60.0):
        self.part = Path(part)
        self.progressbar = progressbar
        self.timeout = timeout

    def __call__(self, url: str, output_file, pooch_=None) -> None:
        import requests

        offset = self.part.stat().st_size if self.part.is_file() else 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        self.part.parent.mkdir(parents=True, exist_ok=True)
        with open(self.part, "ab") as f:
            def restart_unless_resumed(response, *args, **kwargs):
                # Runs once the headers are in, before pooch writes any of the body.
                if not offset or response.is_redirect:
                    return
                if response.status_code == 200:     # Range ignored: the whole file follows
                    f.truncate(0)
                elif response.status_code == 416:   # the part is not a prefix: start over
                    f.truncate(0)
                elif not response.headers.get("Content-Range", "").startswith(f"bytes {offset}-"):
                    f.truncate(0)
                    raise requests.ConnectionError(
                        f"{url} answered Range bytes={offset}- with Content-Range "
                        f"{response.headers.get('Content-Range')!r}; starting over")

            if offset:
                pooch.get_logger().info("Resuming %s at byte %d", url, offset)
            # A dropped connection loses the chunk being read (urllib3 raises before
            # returning it), so chunks are small enough to lose little, large enough to be fast.
            pooch.HTTPDownloader(progressbar=self.progressbar, chunk_size=1 << 16,
                                 timeout=self.timeout, headers=headers,
                                 hooks={"response": restart_unless_resumed})(url, f, pooch_)
        os.replace(self.part, output_file)


def _download(store, fname: str, spec: DataSet, progress: bool) -> Path:
    """``store.fetch(fname)`` with resumption, and errors that say what to do."""
    import requests

    dest = store.abspath / fname
    part = dest.with_name(dest.name + ".part")
    url = store.get_url(fname)
    logger = pooch.get_logger()
    level = logger.level
    if not progress:   # pooch logs a line per file: too many for a set fetched file by file
        logger.setLevel("WARNING")
    try:
        return Path(store.fetch(fname, downloader=ResumableDownloader(part, progress)))
    except requests.RequestException as error:
        kept = part.stat().st_size if part.is_file() else 0
        if part.is_file() and not kept:
            part.unlink()
        resume = f"; {kept:,} bytes are kept in {part} and the next fetch continues" if kept else ""
        raise ConnectionError(
            f"could not download {Path(fname).name} from {url} ({type(error).__name__}: "
            f"{error}){resume}. To fetch it by hand, save that URL as {dest} (the folder "
            f"{dest.parent}) and run `{fetch_command(spec.name)}` again: it checks the file "
            f"({store.registry[fname]}) and goes on") from error
    except ValueError as error:      # pooch: the hash of the downloaded file differs
        raise ValueError(f"download of {url} is corrupt and was deleted ({error}); run "
                         f"`{fetch_command(spec.name)}` again to download it afresh") from None
    finally:
        logger.setLevel(level)


def _extract(archive: Path, prefix: str, names, dest: Path, progress: bool) -> None:
    """Extract the members ``prefix + name`` of a zip or tar archive to ``dest / name``.

    Only the named members are read, so a member outside ``prefix`` (``../`` included)
    is never written. If anything is wrong, the files written so far are removed.
    """
    written = []
    bar = tqdm(total=len(names), desc=f"extracting {archive.name}", unit="file",
               disable=not progress, leave=False)

    def write(name, source):
        out = dest / name
        out.parent.mkdir(parents=True, exist_ok=True)
        written.append(out)
        with open(out, "wb") as f:
            shutil.copyfileobj(source, f, 1 << 20)
        bar.update()

    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as z:
                members = set(z.namelist())
                missing = [n for n in names if prefix + n not in members]
                for n in names:
                    if prefix + n in members:
                        with z.open(prefix + n) as source:
                            write(n, source)
        else:
            wanted = {prefix + n: n for n in names}
            with tarfile.open(archive) as t:
                for member in t:   # one pass: a compressed tar cannot seek cheaply
                    if member.isfile() and member.name in wanted:
                        with t.extractfile(member) as source:
                            write(wanted.pop(member.name), source)
            missing = list(wanted.values())
        if missing:
            raise ValueError(f"{archive} lacks {len(missing)} expected files under {prefix!r} "
                             f"(e.g. {', '.join(missing[:3])})")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        _remove(written)
        raise ValueError(f"{archive} is not a valid archive ({error}); delete it and fetch "
                         f"again") from None
    except BaseException:
        _remove(written)
        raise
    finally:
        bar.close()


def _remove(paths) -> None:
    for p in paths:
        p.unlink(missing_ok=True)


def _verify(spec: DataSet, staging: Path, names) -> None:
    """Check extracted files against their registry hashes; remove them all if one differs."""
    actual = {n: pooch.file_hash(str(staging / n)) for n in names if spec.hashes[n]}
    bad = [n for n, digest in actual.items() if digest != spec.hashes[n]]
    if bad:
        _remove(staging / n for n in names)
        raise ValueError(f"{len(bad)} files extracted for {spec.name} differ from the registry "
                         f"(e.g. {bad[0]}: sha256 {actual[bad[0]]}, expected "
                         f"{spec.hashes[bad[0]]}); they were removed and nothing was installed")


def _install(spec: DataSet, base: Path, staging: Path, how: str) -> tuple[Path, ...]:
    """Write the marker into each staged folder, then rename it into place."""
    folders = []
    expected = set(spec.names)
    for folder in spec.folders:
        final = base / folder
        src = staging / Path(folder).relative_to(spec.base)
        for p in list(src.rglob("*")):
            # A run killed mid-download leaves .part files and pooch's temporary files.
            if p.is_file() and p.relative_to(staging).as_posix() not in expected:
                p.unlink()
        record = {"name": spec.name, "files": sum(1 for p in src.rglob("*") if p.is_file()),
                  "verified": how}
        (src / MARKER).write_text(json.dumps(record) + "\n")
        if final.exists():    # incomplete (a complete set returns before downloading)
            shutil.rmtree(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, final)
        folders.append(final)
    shutil.rmtree(staging, ignore_errors=True)
    return tuple(folders)


def _fetch_one(spec: DataSet, base: Path, retries: int, progress: bool) -> tuple[Path, ...]:
    if _complete(spec, base):
        return tuple(base / f for f in spec.folders)
    downloads = base / "downloads"
    staging = downloads / spec.name
    one_by_one = [n for n in spec.names if n in spec.urls]
    from_archive = [n for n in spec.names if n not in spec.urls]
    if one_by_one:
        store = pooch.create(path=staging, base_url="", urls=spec.urls, retry_if_failed=retries,
                             registry={n: spec.hashes[n] for n in one_by_one})
        for n in tqdm(one_by_one, desc=spec.name, unit="file", disable=not progress):
            _download(store, n, spec, progress=False)
    how = "sha256 of every file"
    if from_archive:
        a = spec.archive
        store = pooch.create(path=downloads, base_url="", urls={a.filename: a.url},
                             registry={a.filename: a.known_hash}, retry_if_failed=retries)
        archive = _download(store, a.filename, spec, progress)
        _extract(archive, a.prefix, from_archive, staging, progress)
        _verify(spec, staging, from_archive)
        if not all(spec.hashes[n] for n in from_archive):
            how = f"{a.known_hash} of {a.filename}"
    return _install(spec, base, staging, how)


def fetch(*names: str, root: str | os.PathLike | None = None, retries: int = 2,
          progress: bool = True) -> dict[str, tuple[Path, ...]]:
    """Download, verify and install the named data sets; return their folders.

    A set already complete (see :func:`present`) is left alone, so this is cheap to
    call again. Interrupted downloads resume from their ``.part`` files.

    Args:
        names: data set names (:data:`SETS`).
        root: data root (default :func:`wconv.settings.data_root`).
        retries: how many times a failed download is tried again within this call
            (pooch's ``retry_if_failed``; a dropped connection resumes).
        progress: show progress bars.

    Raises:
        ValueError: an unknown name, or a download or extracted file whose checksum differs.
        ConnectionError: a file could not be downloaded; the message says where to put it
            by hand.

    Example::

        >>> fetch("set12", "bsd68")       # doctest: +SKIP
        {'set12': (PosixPath('data/denoise/Set12'),), 'bsd68': (PosixPath('data/denoise/BSD68'),)}
    """
    names = _check(names)
    base = settings.data_root(root)
    return {n: _fetch_one(SETS[n], base, retries, progress) for n in names}


def require(*names: str, root: str | os.PathLike | None = None,
            download: bool | None = None) -> None:
    """Make sure the named sets are under the data root, or say how to get them.

    Missing sets are fetched only when asked: ``download=True``, or ``download=None``
    and the environment variable ``WCONV_FETCH=1``. Otherwise ``FileNotFoundError``
    names the fetch command, ``make data`` and ``WCONV_DATA``.
    """
    missing = [n for n in _check(names) if not present(n, root=root)]
    if not missing:
        return
    if download is None:
        download = os.environ.get("WCONV_FETCH", "") == "1"
    if download:
        fetch(*missing, root=root)
        return
    base = settings.data_root(root)
    where = ", ".join(str(base / f) for n in missing for f in FOLDERS[n])
    raise FileNotFoundError(
        f"{', '.join(missing)} not found (or incomplete) under the data root {base} "
        f"(expected {where}). Fetch it with `{fetch_command(*missing)}` (or `make data` for "
        f"every set), or set WCONV_DATA to a folder that holds it; WCONV_FETCH=1 fetches "
        f"missing sets on first use.")


# --------------------------------------------------------------------------- status

def status(*names: str, root: str | os.PathLike | None = None, verify: bool = True) -> list[dict]:
    """What is there: one record per set (all sets when no names are given).

    Each record has ``name``, ``state``, ``files`` (present), ``expected`` (files),
    ``bytes`` (on disk), ``expected_bytes``, ``folders`` and ``bad`` (files whose hash
    differs). ``state`` is ``'missing'`` (no file), ``'incomplete'`` (some files),
    ``'corrupt'`` (a hash differs), ``'verified'`` (every file's sha256 matches, or, for a
    set without per-file hashes, :func:`fetch` installed it after checking the archive)
    or ``'present'`` (all files there, not verified: ``verify=False``, or copied by hand
    without per-file hashes).

    Example::

        >>> [r["state"] for r in status("set12", root="/nowhere")]
        ['missing']
    """
    base = settings.data_root(root)
    rows = []
    for name in _check(names or tuple(SETS)):
        spec = SETS[name]
        files = [base / spec.base / n for n in spec.names]
        there = [f for f in files if f.is_file()]
        bad = []
        if verify:
            bad = [n for n, f in zip(spec.names, files)
                   if spec.hashes[n] and f.is_file() and pooch.file_hash(str(f)) != spec.hashes[n]]
        marked = all((base / f / MARKER).is_file() for f in spec.folders)
        if not there:
            state = "missing"
        elif len(there) < len(files):
            state = "incomplete"
        elif bad:
            state = "corrupt"
        elif verify and (all(spec.hashes.values()) or marked):
            state = "verified"
        else:
            state = "present"
        rows.append({"name": name, "state": state, "files": len(there), "expected": len(files),
                     "bytes": sum(f.stat().st_size for f in there),
                     "expected_bytes": spec.size, "folders": [str(base / f) for f in spec.folders],
                     "bad": bad})
    return rows


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000


def format_status(rows: list[dict]) -> str:
    """The records of :func:`status` as a table, one line per set."""
    lines = [f"{'set':<12} {'state':<11} {'files':^9} {'on disk':>9} {'expected':>9}  folder"]
    for r in rows:
        expected = r["expected_bytes"]
        if expected is None and SETS[r["name"]].archive is not None:
            expected = SETS[r["name"]].archive.size   # DIV2K: only the archive's size is known
        lines.append(f"{r['name']:<12} {r['state']:<11} {r['files']:>4}/{r['expected']:<4} "
                     f"{_size(r['bytes']):>9} {_size(expected):>9}  {', '.join(r['folders'])}")
        if r["bad"]:
            lines.append(f"{'':<12} sha256 differs: {', '.join(r['bad'][:5])}"
                         f"{' ...' if len(r['bad']) > 5 else ''}")
    return "\n".join(lines)
