"""pbx.audio.upload against FakeTel4vn: the multipart body, streaming, retries, checks."""

# The tests open small local files inside async tests on purpose: as users do.
# ruff: noqa: ASYNC230, ASYNC240

from __future__ import annotations

import gc
import hashlib
import io
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from tel4vn_async import AutocallClient, TransportError, ValidationError
from tel4vn_async.models.autocall import AudioUpload
from tel4vn_async.testing import FakeTel4vn

AUDIO = bytes(range(256)) * 4096  # 1 MiB, several chunks


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "AUDIO_1.wav"
    path.write_bytes(AUDIO)
    return path


async def test_upload_a_path_as_the_multipart_file_field(
    fake: FakeTel4vn, pbx: AutocallClient, wav: Path
) -> None:
    result = await pbx.audio.upload(wav)

    assert result == AudioUpload("AUDIO_1.wav", len(AUDIO), True)
    assert result.raw == {"created": "true"}
    [sent] = fake.received("/v1/audio", "POST")
    assert sent.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert int(sent.headers["Content-Length"]) > len(AUDIO)  # sized, not chunked
    assert fake.uploads == [
        {
            "field": "file",
            "filename": "AUDIO_1.wav",
            "content_type": "audio/x-wav",
            "size": len(AUDIO),
            "sha256": sha(AUDIO),
        }
    ]


async def test_upload_bytes_and_file_objects_keeping_the_filename(
    fake: FakeTel4vn, pbx: AutocallClient, wav: Path
) -> None:
    await pbx.audio.upload(b"RIFF-bytes", filename="from_bytes.wav")
    await pbx.audio.upload(io.BytesIO(b"ID3-mp3"), filename="greeting.mp3")
    with open(wav, "rb") as file:
        file.seek(1000)  # uploaded from where it stands
        result = await pbx.audio.upload(file)
        assert not file.closed  # the caller's file stays theirs
    await pbx.audio.upload(str(wav), filename="renamed.wav")

    assert result.size == len(AUDIO) - 1000
    assert [(u["filename"], u["size"], u["sha256"]) for u in fake.uploads] == [
        ("from_bytes.wav", 10, sha(b"RIFF-bytes")),
        ("greeting.mp3", 7, sha(b"ID3-mp3")),
        ("AUDIO_1.wav", len(AUDIO) - 1000, sha(AUDIO[1000:])),
        ("renamed.wav", len(AUDIO), sha(AUDIO)),
    ]
    assert fake.uploads[1]["content_type"] == "audio/mpeg"


async def test_bad_files_raise_before_anything_is_sent(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "text.txt"
    text.write_text("hello")
    fifo = tmp_path / "fifo.wav"
    os.mkfifo(fifo)  # opening it to read would block: refused from its stat alone
    read_end, write_end = os.pipe()
    cases: list[tuple[object, str | None, str]] = [
        (tmp_path / "missing.wav", None, "file"),
        (tmp_path, None, "file"),
        (fifo, None, "file"),
        (empty, None, "file"),
        (b"", "x.wav", "file"),
        (b"data", None, "filename"),
        (io.BytesIO(b"data"), None, "filename"),
        (b"data", 'bad"name.wav', "filename"),
        (12345, None, "file"),
    ]
    try:
        with open(text, encoding="utf-8") as text_file, open(read_end, "rb") as pipe:
            cases += [(text_file, None, "file"), (pipe, "p.wav", "file")]
            for file, filename, field in cases:
                with pytest.raises(ValidationError) as info:
                    await pbx.audio.upload(file, filename)  # type: ignore[arg-type]
                assert info.value.field == field, file
    finally:
        os.close(write_end)
    assert len(fake.requests) == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
async def test_an_unreadable_path_raises_before_sending(
    fake: FakeTel4vn, pbx: AutocallClient, wav: Path
) -> None:
    wav.chmod(0)
    with pytest.raises(ValidationError) as info:
        await pbx.audio.upload(wav)
    assert info.value.field == "file"
    assert len(fake.requests) == 0


@pytest.mark.parametrize("status", [503, 429])
@pytest.mark.parametrize("kind", ["path", "file object", "bytes"])
async def test_a_refused_upload_is_resent_whole_from_its_first_byte(
    fake: FakeTel4vn, pbx: AutocallClient, wav: Path, status: int, kind: str
) -> None:
    fake.inject("/v1/audio", status=status, times=2)
    with open(wav, "rb") as file:
        file.seek(10)
        source = {"path": wav, "file object": file, "bytes": AUDIO[10:]}[kind]
        await pbx.audio.upload(source, filename="a.wav")  # type: ignore[arg-type]

    expected = AUDIO if kind == "path" else AUDIO[10:]
    assert fake.count("/v1/audio") == 3
    assert fake.uploads == [
        {
            "field": "file",
            "filename": "a.wav",
            "content_type": "audio/x-wav",
            "size": len(expected),
            "sha256": sha(expected),
        }
    ]


async def test_an_upload_lost_after_sending_is_not_retried(
    fake: FakeTel4vn, pbx: AutocallClient, wav: Path
) -> None:
    fake.inject("/v1/audio", drop="after", times=3)
    with pytest.raises(TransportError):
        await pbx.audio.upload(wav)
    assert fake.count("/v1/audio") == 1
    assert len(fake.uploads) == 1


async def test_a_path_is_streamed_not_read_into_memory(
    fake: FakeTel4vn, pbx: AutocallClient, tmp_path: Path
) -> None:
    big = tmp_path / "big.wav"
    with open(big, "wb") as out:
        for _ in range(32):
            out.write(AUDIO)  # 32 MiB
    await pbx.session.token()
    gc.collect()
    tracemalloc.start()
    try:
        await pbx.audio.upload(big)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fake.uploads[0]["size"] == 32 * len(AUDIO)
    # Client and fake share this process; both only ever hold a few chunks.
    assert peak < 8 * 1024 * 1024


@pytest.mark.parametrize(
    ("file", "filename", "field"),
    [
        ("a\x00b.wav", None, "file"),
        ("\ud800.wav", None, "file"),
        ("x" * 100_000, None, "file"),
        (None, None, "file"),
        (True, None, "file"),
        (b"data", "a\r\nContent-Type: text/html", "filename"),
        (b"data", "a\x00.wav", "filename"),
        (b"data", "x" * 256, "filename"),
        (b"data", object(), "filename"),
        (b"data", "  ", "filename"),
    ],
)
async def test_hostile_paths_and_names_are_refused_before_sending(
    fake: FakeTel4vn, pbx: AutocallClient, file: Any, filename: Any, field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await pbx.audio.upload(file, filename)
    assert info.value.field == field
    assert len(str(info.value)) < 1_000
    assert len(fake.requests) == 0
