"""Tests for examples/mnist_data.py: IDX parsing, data-dir search, and verified downloads (no internet)."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import socket
import sys
import threading
import time
import tracemalloc
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pytest

import common
import mnist_data
from mnist_data import FILES, Mnist, MnistError, load_mnist, read_idx

# ---------------------------------------------------------------------------
# Helpers for writing small IDX files


def idx_bytes(array: npt.NDArray[Any], type_code: int = 0x08) -> bytes:
    """Serialise ``array`` as an IDX file with the given element type code."""
    big_endian = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    header = bytes([0, 0, type_code, array.ndim])
    header += b"".join(dim.to_bytes(4, "big") for dim in array.shape)
    return header + array.astype(big_endian[type_code]).tobytes()


def write_file(path: Path, payload: bytes) -> Path:
    """Write ``payload`` to ``path``, gzipping it when the name ends in ``.gz``."""
    path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)
    return path


def fake_mnist(seed: int = 0, n_train: int = 6, n_test: int = 4) -> Mnist:
    """A tiny random dataset with MNIST's layout."""
    rng = np.random.default_rng(seed)

    def images(n: int) -> npt.NDArray[np.uint8]:
        return rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)

    def labels(n: int) -> npt.NDArray[np.uint8]:
        return rng.integers(0, 10, size=n, dtype=np.uint8)

    return Mnist(images(n_train), labels(n_train), images(n_test), labels(n_test))


def fake_payloads(data: Mnist) -> dict[str, bytes]:
    """Raw IDX contents for each MNIST file name."""
    return dict(zip(FILES, (idx_bytes(array) for array in data)))


def digests(data: Mnist) -> dict[str, str]:
    """The SHA-256 of each file of ``data``, to load it with instead of MNIST's own."""
    return {name: hashlib.sha256(payload).hexdigest() for name, payload in fake_payloads(data).items()}


def write_dataset(directory: Path, data: Mnist, *, gz: bool = True) -> Path:
    """Write ``data`` as the four MNIST files into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, payload in fake_payloads(data).items():
        write_file(directory / (f"{name}.gz" if gz else name), payload)
    return directory


def touch_dataset(directory: Path) -> Path:
    """Create empty placeholders: enough for the directory search, which only checks presence."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        (directory / f"{name}.gz").touch()
    return directory


def assert_same(actual: Mnist, expected: Mnist) -> None:
    for got, want in zip(actual, expected):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, want)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep every test away from the user's real cache, env settings, and the internet."""
    monkeypatch.delenv(mnist_data.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("no_proxy", "*")
    real_urlopen = urllib.request.urlopen

    def local_only(url: str | urllib.request.Request, *args: Any, **kwargs: Any) -> Any:
        full = url.full_url if isinstance(url, urllib.request.Request) else url
        # AssertionError is not caught by the mirror loop, so a stray real request fails loudly.
        assert urllib.parse.urlsplit(full).hostname == "127.0.0.1", f"test tried to reach {full}"
        return real_urlopen(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", local_only)


# ---------------------------------------------------------------------------
# Real data


@pytest.fixture(scope="module")
def real_mnist(mnist_dir: Path) -> Mnist:
    return load_mnist(mnist_dir, download=False, progress=False)


def test_real_shapes_and_dtypes(real_mnist: Mnist) -> None:
    assert real_mnist.train_images.shape == (60000, 28, 28)
    assert real_mnist.train_labels.shape == (60000,)
    assert real_mnist.test_images.shape == (10000, 28, 28)
    assert real_mnist.test_labels.shape == (10000,)
    assert all(array.dtype == np.uint8 for array in real_mnist)


def test_real_known_facts(real_mnist: Mnist) -> None:
    train_counts = np.bincount(real_mnist.train_labels, minlength=10)
    test_counts = np.bincount(real_mnist.test_labels, minlength=10)
    assert len(train_counts) == 10 and train_counts.sum() == 60000
    assert len(test_counts) == 10 and test_counts.sum() == 10000
    assert train_counts.tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert int(real_mnist.train_labels[0]) == 5
    assert int(real_mnist.test_labels[0]) == 7
    for images in (real_mnist.train_images, real_mnist.test_images):
        assert int(images.min()) == 0 and int(images.max()) == 255


def test_real_checksums(mnist_dir: Path) -> None:
    mnist_data.verify_files(mnist_dir)


# ---------------------------------------------------------------------------
# IDX parsing


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_round_trip(tmp_path: Path, suffix: str) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_file(tmp_path / f"x-idx3-ubyte{suffix}", idx_bytes(array))
    result = read_idx(path, magic=mnist_data.IMAGES_MAGIC)
    assert result.dtype == np.uint8 and result.flags.writeable
    np.testing.assert_array_equal(result, array)


@pytest.mark.parametrize(
    ("type_code", "dtype"),
    [(0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32), (0x0D, np.float32), (0x0E, np.float64)],
)
def test_read_idx_other_element_types(tmp_path: Path, type_code: int, dtype: type[Any]) -> None:
    array = (np.arange(12) - 5).reshape(3, 4).astype(dtype)
    result = read_idx(write_file(tmp_path / "x.idx", idx_bytes(array, type_code)))
    assert result.dtype == np.dtype(dtype)  # native byte order, not the file's big-endian
    np.testing.assert_array_equal(result, array)


def test_wrong_magic(tmp_path: Path) -> None:
    labels = np.zeros(5, dtype=np.uint8)
    path = write_file(tmp_path / "labels-idx1-ubyte.gz", idx_bytes(labels))
    with pytest.raises(MnistError, match="bad magic number 0x00000801, expected 0x00000803") as info:
        read_idx(path, magic=mnist_data.IMAGES_MAGIC)
    assert str(path) in str(info.value)


def test_magic_without_leading_zeros(tmp_path: Path) -> None:
    path = write_file(tmp_path / "junk", b"\x89PNG\r\n\x1a\n" + bytes(32))
    with pytest.raises(MnistError, match="bad magic number") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_unknown_element_type(tmp_path: Path) -> None:
    path = write_file(tmp_path / "x.idx", bytes([0, 0, 0x42, 1, 0, 0, 0, 0]))
    with pytest.raises(MnistError, match="unknown element type 0x42"):
        read_idx(path)


def test_truncated_header(tmp_path: Path) -> None:
    path = write_file(tmp_path / "x-idx3-ubyte", bytes([0, 0, 8, 3, 0, 0, 0, 1]))
    with pytest.raises(MnistError, match="truncated header") as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_truncated_payload(tmp_path: Path, suffix: str) -> None:
    full = idx_bytes(np.ones((3, 28, 28), dtype=np.uint8))
    path = write_file(tmp_path / f"x-idx3-ubyte{suffix}", full[:-10])
    with pytest.raises(MnistError, match=r"truncated payload.*2352 bytes.*2342 bytes") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_extra_trailing_bytes(tmp_path: Path) -> None:
    path = write_file(tmp_path / "x-idx1-ubyte", idx_bytes(np.ones(4, dtype=np.uint8)) + b"\0\0\0")
    with pytest.raises(MnistError, match="3 extra trailing bytes") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x-idx1-ubyte.gz"
    path.write_bytes(b"this is not gzip data at all")
    with pytest.raises(MnistError, match="corrupt gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_cut_off_gzip(tmp_path: Path) -> None:
    compressed = gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8) % 10))
    path = tmp_path / "x-idx1-ubyte.gz"
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(MnistError, match="corrupt gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope-idx1-ubyte"
    with pytest.raises(MnistError, match="cannot read file") as info:
        read_idx(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------------
# Loading a whole (fake) dataset


@pytest.mark.parametrize("gz", [True, False])
def test_load_fake_dataset(tmp_path: Path, gz: bool) -> None:
    data = fake_mnist()
    directory = write_dataset(tmp_path / "mnist", data, gz=gz)
    assert_same(load_mnist(directory, download=False, checksums=digests(data)), data)


def test_count_mismatch(tmp_path: Path) -> None:
    data = fake_mnist()
    data = data._replace(train_labels=data.train_labels[:-1])
    directory = write_dataset(tmp_path / "mnist", data)
    with pytest.raises(MnistError, match="count mismatch") as info:
        load_mnist(directory, download=False, checksums={})
    message = str(info.value)
    assert "6 images" in message and "5 labels" in message
    assert str(directory / "train-images-idx3-ubyte.gz") in message
    assert str(directory / "train-labels-idx1-ubyte.gz") in message


def test_label_out_of_range(tmp_path: Path) -> None:
    data = fake_mnist()
    data.test_labels[2] = 10
    directory = write_dataset(tmp_path / "mnist", data)
    with pytest.raises(MnistError, match=r"label 10 at index 2 is out of range 0\.\.9") as info:
        load_mnist(directory, download=False, checksums={})
    assert str(directory / "t10k-labels-idx1-ubyte.gz") in str(info.value)


def test_swapped_files_rejected(tmp_path: Path) -> None:
    directory = write_dataset(tmp_path / "mnist", fake_mnist())
    images = directory / "t10k-images-idx3-ubyte.gz"
    images.write_bytes((directory / "t10k-labels-idx1-ubyte.gz").read_bytes())
    with pytest.raises(MnistError, match="bad magic number") as info:
        load_mnist(directory, download=False, checksums={})
    assert str(images) in str(info.value)


def test_wrong_image_size(tmp_path: Path) -> None:
    directory = write_dataset(tmp_path / "mnist", fake_mnist())
    path = write_file(directory / "train-images-idx3-ubyte.gz", idx_bytes(np.zeros((6, 32, 32), np.uint8)))
    with pytest.raises(MnistError, match="32x32, MNIST images are 28x28") as info:
        load_mnist(directory, download=False, checksums={})
    assert str(path) in str(info.value)


def test_verify_files_detects_mismatch(tmp_path: Path) -> None:
    data = fake_mnist()
    directory = write_dataset(tmp_path / "mnist", data)
    mnist_data.verify_files(directory, digests(data))
    with pytest.raises(MnistError, match="SHA-256 mismatch") as info:
        mnist_data.verify_files(directory)  # the real MNIST digests
    assert str(directory) in str(info.value)


# ---------------------------------------------------------------------------
# Directory search order


def test_explicit_dir_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = touch_dataset(tmp_path / "explicit")
    touch_dataset(tmp_path / "root" / "mnist")
    touch_dataset(mnist_data.default_cache_dir())
    monkeypatch.setenv(mnist_data.ENV_VAR, str(tmp_path / "root"))
    assert mnist_data.find_data_dir(explicit) == explicit
    assert mnist_data.find_data_dir(str(explicit)) == explicit


def test_env_var_beats_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_dir = touch_dataset(tmp_path / "root" / "mnist")
    touch_dataset(mnist_data.default_cache_dir())
    monkeypatch.setenv(mnist_data.ENV_VAR, str(tmp_path / "root"))
    assert mnist_data.find_data_dir(None) == env_dir


def test_cache_dir_respects_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist_data.find_data_dir(None) == tmp_path / "xdg" / "funcgrad" / "mnist"


@pytest.mark.parametrize("xdg", [None, "", "relative/cache"])
def test_cache_dir_falls_back_to_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, xdg: str | None
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if xdg is None:
        monkeypatch.delenv("XDG_CACHE_HOME")
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    assert mnist_data.find_data_dir(None) == tmp_path / "home" / ".cache" / "funcgrad" / "mnist"


def test_explicit_dir_missing_files_is_an_error(tmp_path: Path) -> None:
    directory = touch_dataset(tmp_path / "partial")
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    (directory / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(MnistError) as info:
        mnist_data.find_data_dir(directory)
    message = str(info.value)
    assert str(directory) in message
    assert "train-images-idx3-ubyte" in message and "t10k-labels-idx1-ubyte" in message
    assert "train-labels" not in message


def test_explicit_dir_nonexistent(tmp_path: Path) -> None:
    with pytest.raises(MnistError, match="does not exist") as info:
        mnist_data.find_data_dir(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value)


def test_env_var_dir_missing_files_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    touch_dataset(tmp_path / "root")  # files directly in the root, not in root/mnist
    monkeypatch.setenv(mnist_data.ENV_VAR, str(tmp_path / "root"))
    with pytest.raises(MnistError, match="FUNCGRAD_DATA") as info:
        mnist_data.find_data_dir(None)
    assert str(tmp_path / "root" / "mnist") in str(info.value)


def test_explicit_dir_never_downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> list[Path]:
        raise AssertionError("download attempted for an explicit directory")

    monkeypatch.setattr(mnist_data, "download_mnist", forbidden)
    (tmp_path / "empty").mkdir()
    with pytest.raises(MnistError, match="lacks"):
        load_mnist(tmp_path / "empty")


def test_no_download_gives_install_hint() -> None:
    with pytest.raises(MnistError) as info:
        load_mnist(download=False)
    message = str(info.value)
    assert str(mnist_data.default_cache_dir()) in message
    assert "--data DIR" in message and "FUNCGRAD_DATA" in message


# ---------------------------------------------------------------------------
# Downloading from a local HTTP server


class Server(NamedTuple):
    base: str
    requests: list[str]


FAKE = fake_mnist(seed=1)
FAKE_PAYLOADS = fake_payloads(FAKE)
FAKE_SHA256 = digests(FAKE)


SLOPPY_MIRRORS = ("short", "slow", "nolength")  # serve /good/'s files, each in its own bad way


def _routes() -> dict[str, bytes]:
    routes: dict[str, bytes] = {}
    for name, payload in FAKE_PAYLOADS.items():
        routes[f"/good/{name}.gz"] = gzip.compress(payload)
        routes[f"/bad/{name}.gz"] = gzip.compress(payload + b"tampered")
        routes[f"/notgz/{name}.gz"] = payload
    return routes


@pytest.fixture
def server() -> Iterator[Server]:
    """A local mirror: /good/ serves the fake files, /bad/ wrong ones, /short/ cut-off ones,
    /slow/ one byte per 20 ms, /nolength/ without a Content-Length; anything else is a 404."""
    routes = _routes()
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            variant, _, name = self.path[1:].partition("/")
            body = routes.get(f"/good/{name}" if variant in SLOPPY_MIRRORS else self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            if variant != "nolength":
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                if variant == "short":
                    self.wfile.write(body[: len(body) // 2])
                elif variant == "slow":
                    for i in range(len(body)):
                        self.wfile.write(body[i : i + 1])
                        time.sleep(0.02)
                else:
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as it should on /slow/

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest output clean

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", requests)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def refused_url() -> str:
    """A URL on a port nothing listens on, so connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def download(target: Path, mirrors: Sequence[str], checksums: Mapping[str, str] = FAKE_SHA256) -> list[Path]:
    return mnist_data.download_mnist(target, mirrors, checksums, progress=False, timeout=5)


def assert_clean_download(target: Path) -> None:
    assert sorted(p.name for p in target.iterdir()) == sorted(f"{name}.gz" for name in FILES)
    assert_same(load_mnist(target, download=False, checksums=FAKE_SHA256), FAKE)
    mnist_data.verify_files(target, FAKE_SHA256)


def test_download_good(tmp_path: Path, server: Server) -> None:
    target = tmp_path / "new" / "mnist"
    written = download(target, [server.base + "/good/"])
    assert written == [target / f"{name}.gz" for name in FILES]
    assert_clean_download(target)


def test_download_bad_checksum_falls_through(tmp_path: Path, server: Server) -> None:
    download(tmp_path, [server.base + "/bad/", server.base + "/good/"])
    assert_clean_download(tmp_path)
    assert server.requests[:2] == [f"/bad/{FILES[0]}.gz", f"/good/{FILES[0]}.gz"]


def test_download_404_falls_through(tmp_path: Path, server: Server) -> None:
    download(tmp_path, [server.base + "/missing/", server.base + "/good"])  # no trailing slash either
    assert_clean_download(tmp_path)


def test_download_connection_refused_falls_through(tmp_path: Path, server: Server, refused_url: str) -> None:
    download(tmp_path, [refused_url, server.base + "/good/"])
    assert_clean_download(tmp_path)


def test_download_timeout_falls_through(tmp_path: Path, server: Server) -> None:
    # A listening socket that never accepts: the connection opens but no response ever comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        checksums = {FILES[1]: FAKE_SHA256[FILES[1]]}
        mnist_data.download_mnist(tmp_path, [silent_url, server.base + "/good/"], checksums, progress=False, timeout=0.2)
    assert [p.name for p in tmp_path.iterdir()] == [f"{FILES[1]}.gz"]


def test_download_all_mirrors_fail(tmp_path: Path, server: Server, refused_url: str) -> None:
    mirrors = [refused_url, server.base + "/missing/", server.base + "/bad/", server.base + "/notgz/", server.base + "/short/"]
    target = tmp_path / "cache"
    with pytest.raises(MnistError) as info:
        download(target, mirrors)
    message = str(info.value)
    for mirror in mirrors:
        assert mirror in message
    assert "HTTP 404" in message
    assert "SHA-256 mismatch" in message
    assert "not valid gzip data" in message
    assert "incomplete download" in message or "IncompleteRead" in message
    assert str(target) in message and "--data DIR" in message and "FUNCGRAD_DATA" in message
    assert list(target.iterdir()) == []  # no partial or temporary file left behind


def test_load_mnist_downloads_only_missing_into_cache(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = mnist_data.default_cache_dir()
    cache.mkdir(parents=True)
    for name in FILES[:2]:
        write_file(cache / f"{name}.gz", FAKE_PAYLOADS[name])
    requested: list[str] = []
    real_download = mnist_data.download_mnist

    def local_download(
        target_dir: str | Path, mirrors: Sequence[str] = (), checksums: Mapping[str, str] = {}, **kwargs: Any
    ) -> list[Path]:
        # load_mnist asks for the real digests; swap in the fake ones and the local mirror.
        requested.extend(checksums)
        return real_download(target_dir, [server.base + "/good/"], {n: FAKE_SHA256[n] for n in checksums}, **kwargs)

    monkeypatch.setattr(mnist_data, "download_mnist", local_download)
    assert_same(load_mnist(progress=False, checksums=FAKE_SHA256), FAKE)
    assert requested == list(FILES[2:])


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_download_progress_on_a_terminal_without_tqdm(
    tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "_import_tqdm", lambda: None)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    checksums = {FILES[0]: FAKE_SHA256[FILES[0]]}
    mnist_data.download_mnist(tmp_path, [server.base + "/good/"], checksums, progress=True)
    text = terminal.getvalue()
    assert f"\r{FILES[0]}.gz: 100%" in text and text.endswith("\n")


def test_download_progress_in_a_pipe_is_one_line_and_silenced_by_progress_false(
    tmp_path: Path, server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    checksums = {FILES[0]: FAKE_SHA256[FILES[0]]}
    mnist_data.download_mnist(tmp_path / "a", [server.base + "/good/"], checksums, progress=True)
    size = (tmp_path / "a" / f"{FILES[0]}.gz").stat().st_size
    assert capsys.readouterr().err == f"{FILES[0]}.gz: {size:,} B\n"
    mnist_data.download_mnist(tmp_path / "b", [server.base + "/good/"], checksums, progress=False)
    assert capsys.readouterr().err == ""


def test_download_size_cap(tmp_path: Path, server: Server) -> None:
    checksums = {FILES[0]: FAKE_SHA256[FILES[0]]}
    size = len(gzip.compress(FAKE_PAYLOADS[FILES[0]]))
    with pytest.raises(MnistError) as info:
        mnist_data.download_mnist(tmp_path, [server.base + "/good/", server.base + "/nolength/"],
                                  checksums, progress=False, max_bytes=100)
    message = str(info.value)
    assert f"/good/{FILES[0]}.gz: {size} bytes, larger than the 100-byte download size cap" in message
    assert f"/nolength/{FILES[0]}.gz: more than 100 bytes, the download size cap" in message
    assert list(tmp_path.iterdir()) == []
    # Without a Content-Length the body is still read whole when it fits the cap.
    mnist_data.download_mnist(tmp_path, [server.base + "/nolength/"], checksums, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == [f"{FILES[0]}.gz"]


def test_download_overall_timeout(tmp_path: Path, server: Server) -> None:
    # Each byte arrives well within the per-read timeout, but the whole file would take minutes.
    checksums = {FILES[0]: FAKE_SHA256[FILES[0]]}
    start = time.monotonic()
    with pytest.raises(MnistError, match=r"/slow/.*took longer than 0\.3 s in all"):
        mnist_data.download_mnist(tmp_path, [server.base + "/slow/"], checksums, progress=False,
                                  timeout=5, total_timeout=0.3)
    assert time.monotonic() - start < 3
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------
# Hostile or damaged local files


def gzip_bomb(path: Path, promised: bytes, members: int) -> Path:
    """A .gz whose IDX header promises `promised` but which inflates by 16 MiB per member."""
    zeros = gzip.compress(bytes(16 << 20), compresslevel=9)
    with open(path, "wb") as out:
        out.write(gzip.compress(promised))
        for _ in range(members):
            out.write(zeros)  # a gzip file may hold many members, read as one stream
    return path


def test_gzip_bomb_is_not_inflated(tmp_path: Path) -> None:
    labels = idx_bytes(np.arange(10, dtype=np.uint8))
    path = gzip_bomb(tmp_path / "train-labels-idx1-ubyte.gz", labels, members=1024)  # 16 GiB
    assert path.stat().st_size < 32 << 20
    tracemalloc.start()
    start = time.monotonic()
    try:
        with pytest.raises(MnistError, match=r"at least 65536 extra trailing bytes after the "
                                             r"10-byte payload of shape \(10,\)") as info:
            read_idx(path, magic=mnist_data.LABELS_MAGIC)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - start < 1.5  # inflating 16 GiB takes several seconds
    assert peak < 1 << 20
    assert str(path) in str(info.value)


def test_header_promising_too_much(tmp_path: Path) -> None:
    # A header may promise up to 2**96 bytes: refuse beyond the limit before reading.
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (1 << 31, 28, 28))
    path = write_file(tmp_path / "train-images-idx3-ubyte.gz", header + bytes(100))
    with pytest.raises(MnistError, match=rf"\({1 << 31}, 28, 28\) of uint8 \({(1 << 31) * 784} "
                                         rf"bytes\), more than the {mnist_data.MAX_IDX_BYTES}-byte limit"):
        read_idx(path)
    # Within the limit, a file that promises much and holds little costs only what it holds.
    header = bytes([0, 0, 8, 1]) + (50 << 20).to_bytes(4, "big")
    path = write_file(tmp_path / "labels.gz", header + bytes(1000))
    tracemalloc.start()
    try:
        with pytest.raises(MnistError, match="only 1000 bytes follow the header"):
            read_idx(path)
        assert tracemalloc.get_traced_memory()[1] < 1 << 20
    finally:
        tracemalloc.stop()


def test_verify_files_stops_on_a_gzip_bomb(tmp_path: Path) -> None:
    directory = write_dataset(tmp_path / "mnist", FAKE)
    path = gzip_bomb(directory / f"{FILES[1]}.gz", FAKE_PAYLOADS[FILES[1]], members=16)  # 256 MiB
    with pytest.raises(MnistError, match=f"more than {mnist_data.MAX_IDX_BYTES} bytes") as info:
        mnist_data.verify_files(directory, FAKE_SHA256)
    assert str(path) in str(info.value)


def test_load_checks_the_known_digests(tmp_path: Path) -> None:
    directory = write_dataset(tmp_path / "mnist", FAKE)
    name = FILES[0]  # loaded first
    with pytest.raises(MnistError) as info:
        load_mnist(directory, download=False)  # MNIST's real digests
    assert str(info.value) == (
        f"{directory / (name + '.gz')}: SHA-256 mismatch: got {FAKE_SHA256[name]}, expected "
        f"{mnist_data.SHA256[name]}; the file is damaged or not the original, delete it and "
        "fetch it again")
    # One damaged file among good ones is the one named.
    damaged = dict(FAKE_SHA256, **{FILES[3]: hashlib.sha256(b"other").hexdigest()})
    with pytest.raises(MnistError, match=f"{FILES[3]}.gz: SHA-256 mismatch: got {FAKE_SHA256[FILES[3]]}"):
        load_mnist(directory, download=False, checksums=damaged)


def test_empty_sets(tmp_path: Path) -> None:
    empty = fake_mnist(n_train=0, n_test=0)
    directory = write_dataset(tmp_path / "mnist", empty)
    with pytest.raises(MnistError, match=r"holds no images \(its header declares shape \(0, 28, 28\)\)") as info:
        load_mnist(directory, download=False, checksums=digests(empty))
    assert str(directory / f"{FILES[0]}.gz") in str(info.value)
    no_labels = FAKE._replace(test_labels=FAKE.test_labels[:0])
    directory = write_dataset(tmp_path / "mnist2", no_labels)
    with pytest.raises(MnistError, match="holds 4 images but .* holds 0 labels"):
        load_mnist(directory, download=False, checksums=digests(no_labels))


def test_unreadable_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    directory = write_dataset(tmp_path / "mnist", FAKE)
    real_is_file = Path.is_file

    def no_permission(self: Path) -> bool:
        # What stat reports inside a folder the user may not enter (chmod a-x), even as root.
        if self.parent == directory:
            raise PermissionError(13, "Permission denied", str(self))
        return real_is_file(self)

    monkeypatch.setattr(Path, "is_file", no_permission)
    with pytest.raises(MnistError) as info:
        load_mnist(directory, download=False)
    assert str(info.value) == f"MNIST directory {directory} cannot be read: Permission denied"
    assert mnist_data.main(["--data", str(directory), "--no-download"]) == 1
    err = capsys.readouterr().err
    assert err == f"error: MNIST directory {directory} cannot be read: Permission denied\n"


# ---------------------------------------------------------------------------
# The models' input and the augmentation


def test_to_input_scales_to_float32_nchw() -> None:
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    x = mnist_data.to_input(images)
    assert x.shape == (1, 1, 2, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0, 0], np.array([[0.0, 1.0], [0.2, 0.4]], np.float32))


def test_random_shift_moves_each_image_within_range() -> None:
    images = np.zeros((200, 28, 28), np.uint8)
    images[:, 14, 10] = 255
    moved = mnist_data.random_shift(images, 2, np.random.default_rng(0))
    assert moved.shape == images.shape and moved.dtype == np.uint8
    assert images[:, 14, 10].tolist() == [255] * 200  # the input is left alone
    assert (moved.reshape(200, -1).sum(axis=1) == 255).all()  # nothing lost or added
    rows, cols = np.nonzero(moved.max(axis=0))
    offsets = {(int(r) - 14, int(c) - 10) for r, c in zip(rows, cols)}
    assert offsets == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}
    np.testing.assert_array_equal(moved, mnist_data.random_shift(images, 2,
                                                                 np.random.default_rng(0)))
    assert mnist_data.random_shift(images, 0, np.random.default_rng(0)) is images
    # the whole image moves, and zeros come in from the edge
    image = np.random.default_rng(1).integers(1, 256, (1, 28, 28), dtype=np.uint8)
    out = mnist_data.random_shift(image, 3, np.random.default_rng(5))[0]
    matches = []
    for dy in range(-3, 4):
        for dx in range(-3, 4):
            expected = np.zeros((28, 28), np.uint8)
            expected[max(dy, 0):28 + min(dy, 0), max(dx, 0):28 + min(dx, 0)] = \
                image[0, max(-dy, 0):28 - max(dy, 0), max(-dx, 0):28 - max(dx, 0)]
            if np.array_equal(out, expected):
                matches.append((dy, dx))
    assert len(matches) == 1
