"""MNIST for the funcgrad examples: strict IDX parsing, data-directory search, verified download.

Where the data comes from, in order (see :func:`find_data_dir`):

1. a directory given explicitly (``--data DIR`` in the example scripts);
2. ``$FUNCGRAD_DATA/mnist/`` -- ``FUNCGRAD_DATA`` names a data *root*, so other
   datasets can live beside MNIST later;
3. the cache ``$XDG_CACHE_HOME/funcgrad/mnist`` (default ``~/.cache/funcgrad/mnist``),
   filled by downloading from :data:`MIRRORS` when files are missing.

Each of the four files may be stored gzipped (``NAME.gz``, as distributed) or raw
(``NAME``).  Nothing here uses pickle: files are parsed from their IDX headers only, and
no further than a header promises (so a gzip bomb is never inflated). Loading checks each
file's SHA-256 against :data:`SHA256`; downloads are capped in size and in total time.

Run ``python examples/mnist_data.py [--data DIR]`` to fetch and check the data ahead of time.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import http.client
import math
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

import common

__all__ = [
    "DEFAULT_MAX_DOWNLOAD",
    "DEFAULT_TIMEOUT",
    "DEFAULT_TOTAL_TIMEOUT",
    "ENV_VAR",
    "FILES",
    "IMAGES_MAGIC",
    "LABELS_MAGIC",
    "MAX_IDX_BYTES",
    "MIRRORS",
    "SHA256",
    "Mnist",
    "MnistError",
    "default_cache_dir",
    "download_mnist",
    "find_data_dir",
    "load_mnist",
    "missing_files",
    "random_shift",
    "to_input",
    "read_idx",
    "verify_files",
]

MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

# Digests of the *decompressed* files, so a raw copy and a gzipped copy verify alike.
SHA256: Mapping[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

FILES: tuple[str, ...] = tuple(SHA256)
ENV_VAR = "FUNCGRAD_DATA"
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
DEFAULT_TIMEOUT = 30.0
# The largest MNIST file is 47 MB decompressed and 9.9 MB gzipped.
MAX_IDX_BYTES = 1 << 26  # read_idx(max_bytes=...) reads larger IDX files
DEFAULT_MAX_DOWNLOAD = 1 << 26
DEFAULT_TOTAL_TIMEOUT = 600.0

_IMAGE_SHAPE = (28, 28)
_NUM_CLASSES = 10
_CHUNK = 1 << 16

# IDX element type codes; multi-byte types are stored big-endian by the format.
_IDX_TYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class MnistError(ValueError):
    """A missing, malformed, or unverifiable MNIST file; the message names the path and the problem."""


class Mnist(NamedTuple):
    """The MNIST arrays: uint8 images (N, 28, 28) with values 0..255 and uint8 labels (N,) in 0..9."""

    train_images: npt.NDArray[np.uint8]
    train_labels: npt.NDArray[np.uint8]
    test_images: npt.NDArray[np.uint8]
    test_labels: npt.NDArray[np.uint8]


# ---------------------------------------------------------------------------
# IDX parsing


def _describe_magic(magic: int) -> str:
    dtype = _IDX_TYPES.get((magic >> 8) & 0xFF)
    kind = "unknown element type" if dtype is None else f"{dtype.name} elements"
    return f"{kind}, {magic & 0xFF} dimension(s)"


def _check_digest(path: Path, actual: str, expected: str) -> None:
    if actual != expected:
        raise MnistError(f"{path}: SHA-256 mismatch: got {actual}, expected {expected}; "
                         "the file is damaged or not the original, delete it and fetch it again")


class _Readable(Protocol):
    def read(self, n: int, /) -> bytes: ...


class _HashingReader:
    """Reads a (gunzipped) stream, hashing every byte it hands out."""

    def __init__(self, stream: _Readable) -> None:
        self._stream = stream
        self.digest = hashlib.sha256()

    def read(self, n: int) -> bytes:
        data = self._stream.read(n)
        self.digest.update(data)
        return data


def _parse_idx(path: Path, reader: _HashingReader, magic: int | None, max_bytes: int
               ) -> npt.NDArray[Any]:
    """The array of an IDX stream, reading no further than its header promises (plus a probe)."""
    head = reader.read(4)
    if len(head) < 4:
        raise MnistError(
            f"{path}: truncated header: {len(head)} bytes, an IDX header needs at least 4"
        )
    found = int.from_bytes(head, "big")
    if magic is not None and found != magic:
        raise MnistError(
            f"{path}: bad magic number 0x{found:08X}, expected 0x{magic:08X} "
            f"({_describe_magic(magic)}); is this the right file?"
        )
    if head[0] != 0 or head[1] != 0:
        raise MnistError(
            f"{path}: bad magic number 0x{found:08X}: IDX files start with two zero bytes"
        )
    dtype = _IDX_TYPES.get(head[2])
    if dtype is None:
        raise MnistError(f"{path}: bad magic number 0x{found:08X}: unknown element type 0x{head[2]:02X}")
    ndim = head[3]
    if ndim == 0:
        raise MnistError(f"{path}: bad magic number 0x{found:08X}: zero dimensions")
    dims = reader.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise MnistError(
            f"{path}: truncated header: {ndim} dimensions need {4 + 4 * ndim} header bytes, "
            f"file has {4 + len(dims)}"
        )
    shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
    expected = math.prod(shape) * dtype.itemsize
    if expected > max_bytes:
        raise MnistError(
            f"{path}: header declares shape {shape} of {dtype.name} ({expected} bytes), "
            f"more than the {max_bytes}-byte limit"
        )
    # Grown as data arrives, never to more than the header promised: a file that promises
    # much and holds little costs only what it holds, and a gzip bomb is not inflated.
    payload = bytearray()
    while len(payload) < expected:
        chunk = reader.read(min(_CHUNK, expected - len(payload)))
        if not chunk:
            break
        payload += chunk
    if len(payload) < expected:
        raise MnistError(
            f"{path}: truncated payload: header declares shape {shape} of {dtype.name} "
            f"({expected} bytes) but only {len(payload)} bytes follow the header"
        )
    extra = len(reader.read(_CHUNK))
    if extra:
        more = "at least " if extra == _CHUNK else ""
        raise MnistError(
            f"{path}: {more}{extra} extra trailing bytes after the {expected}-byte "
            f"payload of shape {shape}"
        )
    array = np.frombuffer(payload, dtype=dtype).reshape(shape)
    # Writable (a bytearray's memory), and in native byte order without a copy for uint8.
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx(
    path: str | Path, *, magic: int | None = None, sha256: str | None = None,
    max_bytes: int = MAX_IDX_BYTES,
) -> npt.NDArray[Any]:
    """Parse one IDX file (gunzipped if named ``*.gz``) into a native-endian array, checking
    its header, its size against ``max_bytes`` and, if given, the SHA-256 of its (decompressed) bytes."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as stream:
            reader = _HashingReader(stream)
            array = _parse_idx(path, reader, magic, max_bytes)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        # EOFError is how gzip reports a stream cut off mid-way.
        raise MnistError(
            f"{path}: corrupt gzip data ({exc}); delete the file and fetch it again"
        ) from exc
    except OSError as exc:
        raise MnistError(f"{path}: cannot read file: {exc.strerror or exc}") from exc
    if sha256 is not None:
        _check_digest(path, reader.digest.hexdigest(), sha256)
    return array


# ---------------------------------------------------------------------------
# Locating files


def _locate(directory: Path, name: str) -> Path | None:
    # A raw copy wins over a gzipped one because someone decompressed it on purpose.
    try:
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    except OSError as exc:
        raise MnistError(f"MNIST directory {directory} cannot be read: {exc.strerror or exc}") from None
    return None


def missing_files(directory: str | Path) -> list[str]:
    """Names from :data:`FILES` present in ``directory`` neither raw nor as ``NAME.gz``."""
    directory = Path(directory)
    return [name for name in FILES if _locate(directory, name) is None]


def default_cache_dir() -> Path:
    """The download cache: ``$XDG_CACHE_HOME/funcgrad/mnist``, else ``~/.cache/funcgrad/mnist``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says relative values are invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "funcgrad" / "mnist"


def _require_complete(directory: Path, origin: str) -> Path:
    if not directory.is_dir():
        raise MnistError(f"MNIST directory {directory} ({origin}) does not exist or is not a directory")
    missing = missing_files(directory)
    if missing:
        raise MnistError(
            f"MNIST directory {directory} ({origin}) lacks {', '.join(missing)} "
            f"(each may be stored raw or gzipped as NAME.gz)"
        )
    return directory


def find_data_dir(cli_dir: str | Path | None = None) -> Path:
    """Return the MNIST directory: ``cli_dir``, else ``$FUNCGRAD_DATA/mnist``, else the cache dir.

    An explicit ``cli_dir`` or a set ``FUNCGRAD_DATA`` must hold all four files, otherwise
    :class:`MnistError` names the directory and the missing files; nothing falls through to a
    download. The cache directory is returned even when incomplete, since that is where
    :func:`load_mnist` downloads to.
    """
    if cli_dir is not None:
        return _require_complete(Path(cli_dir).expanduser(), "given explicitly, e.g. --data DIR")
    env = os.environ.get(ENV_VAR, "")
    if env:
        return _require_complete(
            Path(env).expanduser() / "mnist",
            f"from {ENV_VAR}={env}; the files belong in its mnist/ subdirectory",
        )
    return default_cache_dir()


def _manual_install_hint(target: Path) -> str:
    names = ", ".join(f"{name}.gz" for name in FILES)
    return (
        f"To install MNIST by hand, put {names} (gzipped or decompressed) in one of:\n"
        f"  - {target}\n"
        f"  - a directory passed to the example as --data DIR\n"
        f"  - ${ENV_VAR}/mnist/ (set {ENV_VAR} to a data root directory)"
    )


# ---------------------------------------------------------------------------
# Checksums


def _sha256_of(path: Path, *, compressed: bool) -> str:
    digest = hashlib.sha256()
    size = 0
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
                if size > MAX_IDX_BYTES:
                    # No MNIST file is this large: stop before a gzip bomb inflates further.
                    raise MnistError(f"{path}: more than {MAX_IDX_BYTES} bytes (decompressed), "
                                     "no MNIST file is that large")
    except (OSError, EOFError, zlib.error) as exc:
        raise MnistError(f"{path}: cannot checksum ({exc})") from exc
    return digest.hexdigest()


def verify_files(directory: str | Path, checksums: Mapping[str, str] = SHA256) -> None:
    """Check every file in ``checksums`` against its SHA-256 (of the decompressed bytes); raise on mismatch."""
    directory = Path(directory)
    for name, expected in checksums.items():
        path = _locate(directory, name)
        if path is None:
            raise MnistError(f"MNIST directory {directory} lacks {name} (raw or .gz)")
        _check_digest(path, _sha256_of(path, compressed=path.suffix == ".gz"), expected)


# ---------------------------------------------------------------------------
# Downloading


def _describe_error(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def _copy_body(response: Any, out: IO[bytes], bar: common.Progress, *, max_bytes: int,
               deadline: float, total_timeout: float) -> int:
    """Copy a response's body to ``out``, giving up past ``max_bytes`` or the deadline; the byte count."""
    received = 0
    # read1 returns what one socket read brings, so a server trickling bytes is caught by
    # the deadline within one per-read timeout.
    while chunk := response.read1(_CHUNK):
        received += len(chunk)
        if received > max_bytes:
            raise MnistError(f"more than {max_bytes} bytes, the download size cap")
        if time.monotonic() > deadline:
            raise MnistError(f"took longer than {total_timeout:g} s in all ({received} bytes received)")
        out.write(chunk)
        bar.update(len(chunk))
    return received


def _fetch_verified(
    url: str, target: Path, expected_sha256: str, *, timeout: float, total_timeout: float,
    max_bytes: int, progress: bool,
) -> None:
    """Download ``url`` to ``target`` atomically; the file appears only after its checksum matches.

    ``timeout`` bounds each network operation, ``total_timeout`` the whole transfer (checked
    after every read) and ``max_bytes`` its size.
    """
    deadline = time.monotonic() + total_timeout
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "funcgrad-mnist"})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                if total is not None and total > max_bytes:
                    raise MnistError(f"{total} bytes, larger than the {max_bytes}-byte download size cap")
                bar = common.progress_bar(total, target.name, "B", enabled=progress)
                try:
                    received = _copy_body(response, out, bar, max_bytes=max_bytes,
                                          deadline=deadline, total_timeout=total_timeout)
                finally:
                    bar.close()
            if total is not None and received != total:
                raise MnistError(f"incomplete download: got {received} of {total} bytes")
            out.flush()
            os.fsync(out.fileno())
        # The temp name ends in .part, so say explicitly that the mirror's bytes are gzipped.
        try:
            actual = _sha256_of(tmp, compressed=True)
        except MnistError as exc:
            # The temp file's name means nothing to the user; report only what was wrong with it.
            raise MnistError(f"not valid gzip data ({exc.__cause__})") from exc
        if actual != expected_sha256:
            raise MnistError(f"SHA-256 mismatch: got {actual}, expected {expected_sha256}")
        os.replace(tmp, target)
    except BaseException:
        # Any failure, including Ctrl-C, must not leave a partial file behind.
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def download_mnist(
    target_dir: str | Path,
    mirrors: Sequence[str] = MIRRORS,
    checksums: Mapping[str, str] = SHA256,
    *,
    progress: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_DOWNLOAD,
) -> list[Path]:
    """Download ``NAME.gz`` for each name in ``checksums`` into ``target_dir``, trying mirrors in turn.

    A file is kept only if the SHA-256 of its decompressed contents matches; a mirror that
    fails in any way (network, HTTP status, bad gzip, bad checksum, more than ``max_bytes``,
    more than ``total_timeout`` seconds for the file, ``timeout`` seconds for one network
    operation) passes the file on to the next mirror. When every mirror fails,
    :class:`MnistError` lists each attempt and where the files can be placed by hand.
    """
    if isinstance(mirrors, str):
        # A lone URL is a Sequence[str] too; iterating it would try one "mirror" per character.
        mirrors = (mirrors,)
    target_dir = Path(target_dir).expanduser()
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MnistError(f"cannot create MNIST directory {target_dir}: {exc}") from exc
    written: list[Path] = []
    for name, expected in checksums.items():
        target = target_dir / f"{name}.gz"
        failures: list[str] = []
        for mirror in mirrors:
            url = f"{mirror.rstrip('/')}/{name}.gz"
            try:
                _fetch_verified(url, target, expected, timeout=timeout, total_timeout=total_timeout,
                                max_bytes=max_bytes, progress=progress)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                failures.append(f"  - {url}: {_describe_error(exc)}")
                continue
            written.append(target)
            break
        else:
            raise MnistError(
                f"could not download {name}.gz into {target_dir}; mirrors tried:\n"
                + "\n".join(failures)
                + "\n"
                + _manual_install_hint(target_dir)
            )
    return written


# ---------------------------------------------------------------------------
# Loading


def _load_split(
    directory: Path, prefix: str, checksums: Mapping[str, str]
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    images_name, labels_name = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
    images_path = _locate(directory, images_name)
    labels_path = _locate(directory, labels_name)
    if images_path is None or labels_path is None:
        raise MnistError(f"MNIST directory {directory} lacks {', '.join(missing_files(directory))}")
    # The magic numbers pin dtype uint8 and the rank, so these astype calls never copy.
    images = read_idx(images_path, magic=IMAGES_MAGIC, sha256=checksums.get(images_name))
    labels = read_idx(labels_path, magic=LABELS_MAGIC, sha256=checksums.get(labels_name))
    images, labels = images.astype(np.uint8, copy=False), labels.astype(np.uint8, copy=False)
    if len(images) == 0:
        raise MnistError(f"{images_path}: holds no images (its header declares shape {images.shape})")
    if images.shape[1:] != _IMAGE_SHAPE:
        raise MnistError(
            f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, MNIST images are "
            f"{_IMAGE_SHAPE[0]}x{_IMAGE_SHAPE[1]}"
        )
    if len(images) != len(labels):
        raise MnistError(
            f"count mismatch: {images_path} holds {len(images)} images but {labels_path} "
            f"holds {len(labels)} labels"
        )
    bad = np.flatnonzero(labels >= _NUM_CLASSES)
    if bad.size:
        first = int(bad[0])
        raise MnistError(
            f"{labels_path}: label {int(labels[first])} at index {first} is out of range "
            f"0..{_NUM_CLASSES - 1} ({bad.size} bad labels in all)"
        )
    return images, labels


def load_mnist(
    data_dir: str | Path | None = None, *, download: bool = True, progress: bool = True,
    checksums: Mapping[str, str] = SHA256,
) -> Mnist:
    """Load MNIST from ``data_dir`` / ``$FUNCGRAD_DATA/mnist`` / the cache, downloading to the cache if needed.

    The search order is that of :func:`find_data_dir`. With ``download=False`` missing cache
    files raise :class:`MnistError` instead of being fetched; ``progress=False`` silences the
    download progress display. Every file named in ``checksums`` must match its SHA-256
    (of the decompressed bytes); files without a digest there are never downloaded.
    """
    directory = find_data_dir(data_dir)
    missing = missing_files(directory)
    if missing:
        if not download:
            raise MnistError(
                f"MNIST files {', '.join(missing)} not found in {directory} and download=False.\n"
                + _manual_install_hint(directory)
            )
        download_mnist(
            directory,
            checksums={name: checksums[name] for name in missing if name in checksums},
            progress=progress,
        )
    train_images, train_labels = _load_split(directory, "train", checksums)
    test_images, test_labels = _load_split(directory, "t10k", checksums)
    return Mnist(train_images, train_labels, test_images, test_labels)


# ---------------------------------------------------------------------------
# The models' input


def to_input(images: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """uint8 images (N, 28, 28) as the CNN's input: float32 (N, 1, 28, 28) in [0, 1]."""
    return images[:, None].astype(np.float32) / 255.0


def random_shift(images: npt.NDArray[np.uint8], max_shift: int, rng: np.random.Generator
                 ) -> npt.NDArray[np.uint8]:
    """Augmentation: each image (N, H, W) moved by whole pixels dy, dx drawn uniformly from
    [-max_shift, max_shift]; zeros (background) move in. A new array; images is unchanged."""
    if max_shift == 0:
        return images
    n, h, w = images.shape
    padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift)))
    # windows[i, a, b] is image i moved by (max_shift - a, max_shift - b)
    windows = sliding_window_view(padded, (h, w), axis=(1, 2))
    dy, dx = rng.integers(0, 2 * max_shift + 1, (2, n))
    return np.asarray(windows[np.arange(n), dy, dx])


def main(argv: Sequence[str] | None = None) -> int:
    """Fetch (if needed), verify, and summarise MNIST; the exit status is 0 on success."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", metavar="DIR", help="directory holding the four MNIST files")
    parser.add_argument("--no-download", action="store_true", help="never touch the network")
    args = parser.parse_args(argv)
    try:
        mnist = load_mnist(args.data, download=not args.no_download)  # checks the SHA-256s
        directory = find_data_dir(args.data)
    except MnistError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"MNIST in {directory}: checksums OK")
    for field, array in zip(Mnist._fields, mnist):
        print(f"  {field:13s} {array.dtype} {array.shape}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
