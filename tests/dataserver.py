"""A loopback HTTP server for the tests of the data fetching code (``wconv.experiments.datasets``).

It serves bytes by path on 127.0.0.1 from a thread (``http.server``), honours ``Range``
requests (206 with ``Content-Range``, 416 past the end), can drop the connection part
way through a file once (``cut``), can ignore ``Range`` (``ignore_range``), and records
every request as ``(path, range header or None)`` in ``log``.

Example::

    with FileServer() as server:
        server.files["a/b.png"] = b"..."
        server.cut["a/b.png"] = 100          # the first response stops after 100 bytes
        url = server.url("a/b.png")
"""
from __future__ import annotations

import http.server
import threading


class FileServer:
    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut: dict[str, int] = {}
        self.ignore_range = False
        self.log: list[tuple[str, str | None]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                path, rng = self.path.lstrip("/"), self.headers.get("Range")
                server.log.append((path, rng))
                if path not in server.files:
                    self.send_error(404)
                    return
                data, start = server.files[path], 0
                if rng and not server.ignore_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if path in server.cut:   # send part of the body, then drop the connection
                    self.wfile.write(body[:server.cut.pop(path)])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{path}"

    def requests_for(self, path: str) -> list[str | None]:
        """The ``Range`` headers of the requests for ``path``, in order."""
        return [rng for p, rng in self.log if p == path]

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def archive_bytes(kind: str, members: dict[str, bytes]) -> bytes:
    """A ``'zip'`` or ``'tgz'`` archive holding ``members`` (member name -> bytes)."""
    import io
    import tarfile
    import zipfile

    buf = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buf, "w") as z:
            for name, data in members.items():
                z.writestr(name, data)
    else:
        with tarfile.open(fileobj=buf, mode="w:gz") as t:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def serve_set(server: FileServer, name: str, files: dict[str, bytes], from_archive=(),
              kind: str = "tgz", hashes: bool = True, archive_hash: str | None = None):
    """A :class:`wconv.experiments.datasets.DataSet` like the real set ``name`` (same folders), whose
    ``files`` (name -> bytes, relative to the set's base) the server holds: those in
    ``from_archive`` inside one archive, the others one by one. Put it in place with
    ``monkeypatch.setitem(datasets.SETS, name, spec)``.
    """
    import hashlib

    from wconv.experiments import datasets

    real = datasets.SETS[name]
    urls, archive = {}, None
    for n, data in files.items():
        if n not in from_archive:
            server.files[f"{name}/{n}"] = data
            urls[n] = server.url(f"{name}/{n}")
    if from_archive:
        prefix = f"top/{name}/"
        payload = archive_bytes(kind, {prefix + n: files[n] for n in from_archive})
        filename = f"{name}.{'zip' if kind == 'zip' else 'tar.gz'}"
        server.files[filename] = payload
        archive = datasets.Archive(server.url(filename), filename, len(payload),
                                   archive_hash or f"sha256:{hashlib.sha256(payload).hexdigest()}",
                                   prefix)
    digests = {n: hashlib.sha256(data).hexdigest() if hashes else None for n, data in files.items()}
    return datasets.DataSet(name, real.title, real.base, real.folders, digests, urls, archive,
                            sum(map(len, files.values())))
