"""Downloads through pooch from a local HTTP server: checksummed into the cache, fetched once,
a wrong sha256 is one UserError line, and a mirror's copy is verified by the same sha256."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import pytest

from snnvis.errors import UserError
from snnvis.recordings import sources
from snnvis.recordings.sources import FileStore, Source

PAYLOAD = b"snnvis test payload\n" * 50


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over ``tmp_path/www``; ``.gets`` lists the paths requested."""
    www = tmp_path / "www"
    (www / "sub").mkdir(parents=True)
    (www / "sub" / "data.bin").write_bytes(PAYLOAD)
    gets: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            gets.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.gets = gets
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _store(monkeypatch, tmp_path, url: str, sha: str, mirror=None) -> FileStore:
    monkeypatch.setattr(Source, "checksums", property(lambda self: {"sub/data.bin": sha}))
    monkeypatch.setattr("time.sleep", lambda s: None)  # pooch's pause before a retry
    src = Source("toy", "Toy", "-", "CC0", "none", urls={"": url})
    return FileStore(src, mirror=mirror, cache=tmp_path / "cache")


def test_download_is_checksummed_cached_and_fetched_once(server, tmp_path, monkeypatch):
    monkeypatch.delenv(sources.MIRROR_ENV, raising=False)
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    store = _store(monkeypatch, tmp_path, server.url, sha)
    local = store.path("sub/data.bin")
    assert local == tmp_path / "cache" / "toy" / "sub" / "data.bin"
    assert local.read_bytes() == PAYLOAD
    assert server.gets == ["/sub/data.bin"]
    assert store.provenance == [("sub/data.bin", server.url + "sub/data.bin", sha)]
    again = _store(monkeypatch, tmp_path, server.url, sha).path("sub/data.bin")  # a new store, same cache
    assert again == local and server.gets == ["/sub/data.bin"]  # no second download
    local.write_bytes(b"damaged")  # a damaged cached copy is fetched again
    assert _store(monkeypatch, tmp_path, server.url, sha).path("sub/data.bin").read_bytes() == PAYLOAD
    assert len(server.gets) == 2


def test_checksum_mismatch_is_one_user_error_line(server, tmp_path, monkeypatch):
    monkeypatch.delenv(sources.MIRROR_ENV, raising=False)
    store = _store(monkeypatch, tmp_path, server.url, "0" * 64)
    with pytest.raises(UserError, match="checksum mismatch") as exc:
        store.path("sub/data.bin")
    assert "\n" not in exc.value.message and server.url + "sub/data.bin" in exc.value.message
    assert not (tmp_path / "cache" / "toy" / "sub" / "data.bin").exists()  # nothing unverified is kept
    missing = _store(monkeypatch, tmp_path, server.url + "nothing/", hashlib.sha256(PAYLOAD).hexdigest())
    with pytest.raises(UserError, match="cannot download .*404.*--mirror") as exc:
        missing.path("sub/data.bin")
    assert "\n" not in exc.value.message


def test_mirror_copy_is_verified_by_the_same_sha256(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    (mirror / "toy" / "sub").mkdir(parents=True)
    (mirror / "toy" / "sub" / "data.bin").write_bytes(PAYLOAD)
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    monkeypatch.setenv(sources.MIRROR_ENV, str(mirror))
    unreachable = "http://127.0.0.1:9/"  # never asked: the mirror has the file
    assert _store(monkeypatch, tmp_path, unreachable, sha).path("sub/data.bin") == mirror / "toy" / "sub" / "data.bin"
    with pytest.raises(UserError, match="checksum mismatch"):
        _store(monkeypatch, tmp_path, unreachable, "f" * 64).path("sub/data.bin")


def test_cache_dir_is_snnvis_cache_or_pooch_os_cache(monkeypatch, tmp_path):
    import pooch

    monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path / "c"))
    assert sources.cache_dir() == tmp_path / "c"
    monkeypatch.delenv(sources.CACHE_ENV)
    assert sources.cache_dir() == pooch.os_cache("snnvis")
