"""The JSON codec: orjson (the ``fast`` extra) and the standard library give the same values."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from tel4vn_async import _codec

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def test_orjson_is_the_codec_in_the_test_environment() -> None:
    assert _codec.CODEC == "orjson"  # the test extra installs it


@settings(max_examples=80, deadline=None)
@given(JSON)
def test_both_codecs_read_and_write_the_same_values(value: object) -> None:
    text = json.dumps(value)
    assert _codec.loads(text.encode()) == json.loads(text)
    assert json.loads(_codec.dumps(value)) == value


def test_what_orjson_refuses_is_read_as_the_standard_library_reads_it() -> None:
    for text in ("NaN", '{"n": 123456789012345678901234567890}', "[1, Infinity]"):
        assert repr(_codec.loads(text.encode())) == repr(json.loads(text))
    for bad in (b"{", b"<html>", b"\xff"):
        try:
            _codec.loads(bad)
        except ValueError:
            pass
        else:  # pragma: no cover
            raise AssertionError(f"{bad!r} was read as JSON")


def test_the_standard_library_codec_passes_the_client_tests() -> None:
    # Decoding, and the request path end to end, once more without orjson.
    env = {**os.environ, "TEL4VN_NO_ORJSON": "1"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:randomly",
            "-n",
            "0",
            "tests/test_sansio.py",
            "tests/test_seam.py",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    check = subprocess.run(
        [sys.executable, "-c", "from tel4vn_async import _codec; print(_codec.CODEC)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert check.stdout.strip() == "json"


def test_a_number_beyond_pythons_digit_limit_fails_its_field_not_the_answer() -> None:
    digits = "9" * 5000
    body = f'{{"data": [{{"id": "1", "duration": {digits}}}]}}'.encode()
    assert _codec.loads(body) == {"data": [{"id": "1", "duration": digits}]}
