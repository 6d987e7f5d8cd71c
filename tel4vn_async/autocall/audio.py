"""``pbx.audio``: audio file uploads (``POST /v1/audio``, multipart field ``file``).

A file given by path is streamed from disk in chunks, never read whole into memory. The
multipart body is rebuilt from its source on every attempt, so a retry (allowed only
when the server refused the upload unprocessed: no connection, 429, 503) always sends
the whole file from its first byte, never the rest of a half-consumed stream.
"""

from __future__ import annotations

import asyncio
import io
import mimetypes
import os
from collections.abc import Mapping
from stat import S_ISREG
from typing import IO, Any

import aiohttp
from aiohttp.abc import AbstractStreamWriter

from .._compat import AutoclosePayload
from .._convert import structure
from .._resource import APIResource
from .._validate import MAX_ID, check_text, optional
from ..errors import ValidationError
from ..models.autocall import AudioUpload

__all__ = ["Audio"]

CHUNK = 256 * 1024
FileLike = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]


class _Source(AutoclosePayload):
    """One file's bytes, re-read from the start each time aiohttp writes the body.

    A path is opened (and closed) per write, bytes are sliced, and a file object is
    rewound to where it stood at upload time (so only seekable ones are accepted): nothing
    is held open between writes, and a caller's file stays theirs.
    """

    def __init__(self, source: str | bytes | IO[bytes], size: int, start: int, **kw: Any) -> None:
        super().__init__(source, **kw)
        self._source = source
        self._length = size
        self._start = start

    @property
    def size(self) -> int:
        return self._length

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return "<audio file>"  # only aiohttp's debugging reprs ask

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        source, loop = self._source, asyncio.get_running_loop()
        if isinstance(source, bytes):
            view = memoryview(source)
            for start in range(0, len(view), CHUNK):
                await writer.write(view[start : start + CHUNK])
            return
        if isinstance(source, str):
            # Opened and closed synchronously (cheap for a read-only file): aiohttp cancels
            # this write when the server answers early (a 429 or 503), and an open or close
            # awaited in an executor could then leak the handle.
            handle: IO[bytes] = open(source, "rb")  # noqa: ASYNC230, SIM115
        else:
            handle = source
            await loop.run_in_executor(None, handle.seek, self._start)
        try:
            remaining = self._length
            while remaining > 0:
                chunk = await loop.run_in_executor(None, handle.read, min(CHUNK, remaining))
                if not chunk:
                    raise OSError("the file shrank while it was being uploaded")
                remaining -= len(chunk)
                await writer.write(chunk)
        finally:
            if handle is not source:
                handle.close()

    async def close(self) -> None:
        return None  # a caller's file object is theirs to close


def _filename(value: object, field: str) -> str:
    """A file name for the multipart header: one line, no quote, up to 255 characters."""
    name = check_text(value, field, max_length=MAX_ID)
    if '"' in name:  # it goes between quotes in the Content-Disposition header
        raise ValidationError(f"{field} must not contain a double quote", field=field)
    return name


def _open_source(file: FileLike, filename: str | None) -> tuple[_Source, str]:
    """The payload and the file name to send, or ValidationError (nothing sent)."""
    filename = optional(_filename, filename, "filename")
    if isinstance(file, bytearray | memoryview):
        file = bytes(file)
    if isinstance(file, bytes):
        name = filename
        source: str | bytes | IO[bytes] = file
        size, start = len(file), 0
        if name is None:
            raise ValidationError("filename is required when uploading bytes", field="filename")
    elif isinstance(file, str | os.PathLike):
        try:
            path = os.fspath(file)
        except TypeError:  # a __fspath__ that returns neither str nor bytes
            path = None
        if not isinstance(path, str):
            raise ValidationError("file must be a str path", field="file")
        try:
            stat = os.stat(path)
            if not S_ISREG(stat.st_mode):  # checked first: opening a FIFO would block
                raise ValidationError(f"{path[:200]!r} is not a regular file", field="file")
            with open(path, "rb"):  # readable? (opened again, per attempt, to send)
                pass
        except ValidationError:
            raise
        except OSError as exc:
            raise ValidationError(
                f"cannot read {path[:200]!r}: {exc.strerror or exc}", field="file"
            ) from None
        except ValueError:  # a NUL byte, a lone surrogate: no such file can exist
            raise ValidationError(
                "file must be a path without NUL bytes or lone surrogates", field="file"
            ) from None
        source, size, start = path, stat.st_size, 0
        name = filename or os.path.basename(path)
    elif isinstance(file, io.TextIOBase) or not hasattr(file, "read"):
        raise ValidationError(
            "file must be a path, bytes, or a file object opened in binary mode", field="file"
        )
    else:
        source, (start, size) = file, _position(file)
        name = filename or os.path.basename(str(getattr(file, "name", "") or "")) or None
        if name is None:
            raise ValidationError(
                "filename is required for a file object without a name", field="filename"
            )
    name = _filename(name, "filename")
    if size <= 0:
        raise ValidationError("the file is empty", field="file")
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return _Source(source, size, start, content_type=content_type), name


def _position(stream: IO[bytes]) -> tuple[int, int]:
    """Where a binary file object stands and how many bytes are left, reading none."""
    try:
        if not stream.seekable():
            raise ValidationError(
                "the file object cannot seek, so a retry could not resend it: "
                "pass a path, bytes or a seekable file",
                field="file",
            )
        if not isinstance(stream.read(0), bytes):
            raise ValidationError("file must be opened in binary mode", field="file")
        start = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(start)
    except ValidationError:
        raise
    except (OSError, ValueError, AttributeError) as exc:
        raise ValidationError(f"cannot read the file object: {exc}", field="file") from None
    return start, max(0, end - start)


class Audio(APIResource):
    """Audio files that templates play (``voice_type="audio_file"``)."""

    async def upload(self, file: FileLike, filename: str | None = None) -> AudioUpload:
        """Upload an audio file as the multipart field ``file``, streamed.

        API: POST /v1/audio

        Args:
            file: a path (streamed from disk), bytes, or a seekable binary file object
                (read from where it stands; it is left open).
            filename: the name to upload under (one line without ``"``, up to 255
                characters); defaults to the path's or file object's base name
                (required for bytes).

        Returns:
            The uploaded file's name (a template's ``audio_file``) and size.

        Raises:
            ValidationError: an unreadable path, an empty file, a text-mode or
                non-seekable file object, a bad file name, before anything is sent.
        """
        # stat, open and seek are file system calls: kept off the event loop.
        part, name = await asyncio.to_thread(_open_source, file, filename)
        part.set_content_disposition("form-data", name="file", filename=name)
        form = aiohttp.MultipartWriter("form-data")
        form.append_payload(part)
        answer = await self._post("/v1/audio", data=form)
        raw = dict(answer) if isinstance(answer, Mapping) else {}
        created = structure(raw["created"], bool) if raw.get("created") is not None else True
        return AudioUpload(name, part.size, created, raw=raw)
