"""Decompressing a byte stream as it is read: gzip and bzip2 (the standard library), Zstandard
(where the ``zstandard`` package is installed).

A stream that ends early or holds corrupt data is an error naming the file
(:func:`corrupt_stream_error`): an export cut short must never read as a shorter audience. A
failure of the store itself (a dropped connection) passes through unchanged, for Airflow's
retries. Pure module: no Airflow or HTTP import.
"""

from __future__ import annotations

import bz2
import gzip
import importlib
import io
import zlib
from collections.abc import Callable
from typing import Any, Protocol

from airflow_provider_bombora.exceptions import BomboraValidationError

#: The compressions of a stream, by the extension after the format's (``part-1.csv.gz``).
COMPRESSION_EXTENSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}
#: Compressed bytes a zstd frame is given at a time.
ZSTD_INPUT_SIZE = 16 * 1024


class ByteStream(Protocol):
    """What the parsers read: a binary file object (``open(path, "rb")``, ``ObjectStoragePath.open("rb")``)."""

    def read(self, size: int = -1, /) -> bytes: ...
    def readline(self, size: int = -1, /) -> bytes: ...
    def close(self) -> None: ...


class _Source:
    """The stream under a decompressor. It keeps the error that reading it raised: that one is
    the storage's (a network failure, worth a retry), not the data's, and passes unchanged."""

    def __init__(self, stream: ByteStream) -> None:
        self.stream = stream
        self.failure: BaseException | None = None
        self.bytes_read = 0

    def read(self, size: int = -1, /) -> bytes:
        try:
            data = self.stream.read(size)
        except BaseException as error:
            self.failure = error
            raise
        self.bytes_read += len(data)
        return data

    def seekable(self) -> bool:
        return False

    def seek(self, offset: int, whence: int = 0, /) -> int:
        raise io.UnsupportedOperation("the accounts stream is read once, from its start")

    def close(self) -> None:
        self.stream.close()


class _Decompressed:
    """A decompressed stream whose data errors (a truncated or corrupt stream) are
    :class:`BomboraValidationError` naming the file."""

    def __init__(
        self, stream: Any, source: _Source, name: str, compression: str, data_errors: tuple[type[BaseException], ...]
    ) -> None:
        self._stream = stream
        self._source = source
        self._name = name
        self._compression = compression
        self._data_errors = data_errors

    def read(self, size: int = -1, /) -> bytes:
        return self._call(self._stream.read, size)

    def readline(self, size: int = -1, /) -> bytes:
        return self._call(self._stream.readline, size)

    def _call(self, method: Callable[[int], bytes], size: int) -> bytes:
        try:
            return method(size)
        except self._data_errors as error:
            if error is self._source.failure:
                raise
            if isinstance(error, EOFError) and not self._source.bytes_read:
                return b""  # a file of 0 bytes: empty, whatever its compression (bz2 calls it truncated)
            raise corrupt_stream_error(self._name, self._compression, error) from None

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._source.close()


def corrupt_stream_error(name: str, compression: str, error: BaseException) -> BomboraValidationError:
    """The error for a compressed stream that ends early or holds something else."""
    return BomboraValidationError(
        "accounts",
        f"{name}: the {compression} stream is truncated or corrupt ({type(error).__name__}: {error}); "
        "the export may be incomplete. Nothing was sent; check the file.",
    )


def zstandard_module(name: str) -> Any:
    """The ``zstandard`` package, or the error saying to install it (``.zst`` files need it)."""
    try:
        return importlib.import_module("zstandard")
    except ImportError:
        raise BomboraValidationError(
            "accounts", f"{name}: reading .zst files needs the zstandard package: pip install zstandard"
        ) from None


def decompress(stream: ByteStream, name: str, compression: str) -> _Decompressed:
    source = _Source(stream)
    data_errors: tuple[type[BaseException], ...] = (EOFError, OSError, zlib.error)
    decompressed: Any
    if compression == "gzip":
        decompressed = gzip.GzipFile(fileobj=source, mode="rb")
    elif compression == "bz2":
        decompressed = bz2.BZ2File(source, mode="rb")
    else:
        zstandard = zstandard_module(name)
        data_errors = (*data_errors, zstandard.ZstdError)
        decompressed = io.BufferedReader(_ZstdReader(source, zstandard))
    return _Decompressed(decompressed, source, name, compression, data_errors)


class _ZstdReader(io.RawIOBase):
    """A zstd stream decompressed frame after frame, which fails when the stream ends inside a frame.

    zstandard's own ``stream_reader`` reads a truncated stream as a shorter one without a word,
    so the frames are decoded here with ``decompressobj``, whose ``eof`` says a frame ended. The
    input goes in :data:`ZSTD_INPUT_SIZE` slices: what one slice decompresses to is held at once.
    """

    def __init__(self, source: _Source, zstandard: Any) -> None:
        super().__init__()
        self._source = source
        self._decompressor = zstandard.ZstdDecompressor()
        self._frame: Any = None  # the frame being decoded, None between frames
        self._output = b""
        self._output_offset = 0
        self._input = b""
        self._at_end = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._output_offset == len(self._output):
            if not self._decode_more():
                return 0
        count = min(len(buffer), len(self._output) - self._output_offset)
        buffer[:count] = self._output[self._output_offset : self._output_offset + count]
        self._output_offset += count
        return count

    def _decode_more(self) -> bool:
        """Decode the next slice of input into the output; ``False`` at the end of the stream."""
        if not self._input:
            if self._at_end:
                return False
            self._input = self._source.read(ZSTD_INPUT_SIZE * 4)
            if not self._input:
                self._at_end = True
                if self._frame is not None:
                    raise EOFError("the stream ended inside a zstd frame")
                return False
        if self._frame is None:
            self._frame = self._decompressor.decompressobj()
        data, self._input = self._input[:ZSTD_INPUT_SIZE], self._input[ZSTD_INPUT_SIZE:]
        self._output, self._output_offset = self._frame.decompress(data), 0
        if self._frame.eof:  # the frame ended: what follows it is the next frame
            self._input = self._frame.unused_data + self._input
            self._frame = None
        return True
