"""Unit tests of the token rules (``tel4vn_async._token``): every token response shape of
API.md section 1 and NOTES.md "Tokens", the refresh rule, the model and the memory store.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from tel4vn_async import MemoryTokenStore as PublicMemoryTokenStore
from tel4vn_async import Token as PublicToken
from tel4vn_async import TokenStore as PublicTokenStore
from tel4vn_async._token import MemoryTokenStore, Token, TokenStore, needs_refresh, parse_token

NOW = 1_700_000_000.0
"""A fixed "now" (2023-11-14T22:13:20Z), passed explicitly: no test reads the clock."""
SECRET = "eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMjU2R0NNIiwiaWF0IjoxNjEzNjMyNzc4fQ.dGhpcyBp"


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def make_token(lifetime: float | None, *, issued: float = NOW) -> Token:
    """A token fetched at ``issued`` that lives ``lifetime`` seconds (None: no expiry)."""
    return Token(
        access_token=SECRET,
        expires_at=None if lifetime is None else utc(issued + lifetime),
        issued_at=utc(issued),
    )


# --------------------------------------------------------------------------- parse_token

CC_TOKEN_DATA = {
    "client_id": "aaaaaaaa-1111-2222-3333-eeeeeeee",
    "domain_uuid": "dddddddd-1111-2222-3333-eeeeeeee",
    "expired_in": 14763877,
    "refresh_token": "",
    "token": SECRET,
    "token_type": "Bearer",
    "user_id": "avavavav-1111-2222-3333-eeeeeeee",
}
CC_TOKEN_RESPONSE = {"code": 200, "content": "successfully", "data": CC_TOKEN_DATA}
AUTOCALL_TOKEN_RESPONSE = {
    "data": {
        "user_id": "abeb99ea-7879-43ce-8d4e-a46ec0aca9ff",
        "access_token": SECRET,
        "refresh_token": "",
        "expire_at": 1613636318,
        "token_type": "Bearer",
        "scope": "",
    }
}


@pytest.mark.parametrize(
    ("body", "expires_at"),
    [
        pytest.param(CC_TOKEN_RESPONSE, utc(NOW + 14763877), id="callcenter-data-token-expired_in"),
        pytest.param(
            AUTOCALL_TOKEN_RESPONSE, utc(1613636318), id="autocall-access_token-expire_at"
        ),
        pytest.param(
            {"data": {"token": SECRET, "expired": 1_800_000_000, "user_id": "u1"}},
            utc(1_800_000_000),
            id="pbx-data-token-expired-unix",
        ),
        pytest.param(
            dict(CC_TOKEN_DATA),
            utc(NOW + 14763877),
            id="v3-flat-token-expired_in",
        ),
        pytest.param(
            {"code": 200, "content": "successfully", "token": SECRET, "expired_in": 86400},
            utc(NOW + 86400),
            id="flat-with-envelope-fields",
        ),
        pytest.param(
            {"access_token": SECRET, "expire_at": 1_800_000_000, "token_type": "Bearer"},
            utc(1_800_000_000),
            id="flat-access_token-expire_at",
        ),
        pytest.param(
            {"data": {"access_token": SECRET, "expire_at": 15552000}},
            utc(NOW + 15552000),
            id="old-doc-expire_at-is-a-duration",
        ),
        pytest.param(
            {"data": {"token": SECRET, "expired": 86400}},
            utc(NOW + 86400),
            id="expired-below-1e9-is-a-duration",
        ),
        pytest.param(
            {"data": {"token": SECRET, "expire_at": 999_999_999}},
            utc(NOW + 999_999_999),
            id="just-below-1e9-is-a-duration",
        ),
        pytest.param(
            {"data": {"token": SECRET, "expire_at": 1_000_000_000}},
            utc(1_000_000_000),
            id="exactly-1e9-is-a-time",
        ),
        pytest.param(
            {"data": {"token": SECRET, "expired_in": 1_700_000_000}},
            utc(NOW + 1_700_000_000),
            id="expired_in-is-always-seconds-from-now",
        ),
        pytest.param(
            {"data": {"token": SECRET, "expired_in": "3600"}},
            utc(NOW + 3600),
            id="expired_in-as-string",
        ),
        pytest.param(
            {"data": {"access_token": SECRET, "expire_at": "1800000000"}},
            utc(1_800_000_000),
            id="expire_at-as-string",
        ),
        pytest.param({"data": {"token": SECRET}}, None, id="no-expiry"),
        pytest.param({"access_token": SECRET, "token_type": "Bearer"}, None, id="flat-no-expiry"),
    ],
)
def test_parse_token_accepts_every_shape(body: dict[str, Any], expires_at: datetime | None) -> None:
    token = parse_token(body, NOW)
    assert token is not None
    assert token.access_token == SECRET
    assert token.expires_at == expires_at
    if token.expires_at is not None:
        assert token.expires_at.utcoffset() == timedelta(0)
    assert token.token_type == "Bearer"
    assert token.issued_at == utc(NOW)


def test_parse_token_prefers_the_data_wrapper() -> None:
    body = {"code": 200, "content": "successfully", "data": {"token": SECRET, "expired_in": 60}}
    token = parse_token(body, NOW)
    assert token is not None
    assert token.access_token == SECRET
    assert token.lifetime == 60.0


def test_parse_token_lifetime_of_callcenter_sample() -> None:
    token = parse_token(CC_TOKEN_RESPONSE, NOW)
    assert token is not None
    assert token.lifetime == 14763877.0


def test_parse_token_defaults_the_token_type_to_bearer() -> None:
    token = parse_token({"data": {"token": SECRET, "expired_in": 60}}, NOW)
    assert token is not None
    assert token.token_type == "Bearer"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(None, id="none"),
        pytest.param([], id="list"),
        pytest.param("token", id="string"),
        pytest.param({}, id="empty"),
        pytest.param({"code": 200, "content": "successfully", "data": {}}, id="empty-data"),
        pytest.param({"data": {"token": ""}}, id="empty-token"),
        pytest.param({"data": {"token": "   "}}, id="blank-token"),
        pytest.param({"data": {"token": None, "expired_in": 60}}, id="null-token"),
        pytest.param({"data": {"token": 12345}}, id="non-string-token"),
        pytest.param({"code": 401, "content": "api_key is invalid"}, id="error-body"),
    ],
)
def test_parse_token_without_a_token_is_none(body: object) -> None:
    assert parse_token(body, NOW) is None


def test_parsed_token_repr_hides_the_secret() -> None:
    token = parse_token(CC_TOKEN_RESPONSE, NOW)
    assert token is not None
    assert SECRET not in repr(token)
    assert SECRET not in str(token)


# --------------------------------------------------------------------------- needs_refresh


def test_fresh_long_lived_token_does_not_need_refresh() -> None:
    token = make_token(3600)
    assert needs_refresh(token, NOW, 60.0) is False
    assert needs_refresh(token, NOW + 3600 - 61, 60.0) is False


def test_token_within_the_leeway_needs_refresh() -> None:
    token = make_token(3600)
    assert needs_refresh(token, NOW + 3600 - 59, 60.0) is True
    assert needs_refresh(token, NOW + 3600 - 1, 60.0) is True


def test_expired_token_needs_refresh() -> None:
    token = make_token(3600)
    assert needs_refresh(token, NOW + 3600, 60.0) is True
    assert needs_refresh(token, NOW + 3600 + 86400, 60.0) is True


def test_zero_leeway_refreshes_only_at_expiry() -> None:
    token = make_token(3600)
    assert needs_refresh(token, NOW + 3599, 0.0) is False
    assert needs_refresh(token, NOW + 3600, 0.0) is True


@pytest.mark.parametrize(
    ("lifetime", "leeway", "fresh_until", "stale_from"),
    [
        # effective leeway = min(leeway, lifetime / 2)
        pytest.param(60, 60.0, 29, 31, id="lifetime-60-leeway-60-uses-30"),
        pytest.param(10, 60.0, 4, 6, id="lifetime-10-leeway-60-uses-5"),
        pytest.param(1, 60.0, 0.4, 0.6, id="lifetime-1-leeway-60-uses-0.5"),
        pytest.param(100, 60.0, 49, 51, id="lifetime-100-leeway-60-uses-50"),
        pytest.param(200, 60.0, 139, 141, id="lifetime-200-leeway-60-uses-60"),
        pytest.param(86400, 300.0, 86099, 86101, id="lifetime-1d-leeway-300"),
    ],
)
def test_effective_leeway_is_min_of_leeway_and_half_the_lifetime(
    lifetime: float, leeway: float, fresh_until: float, stale_from: float
) -> None:
    token = make_token(lifetime)
    assert needs_refresh(token, NOW, leeway) is False, "a fresh token must be usable at once"
    assert needs_refresh(token, NOW + fresh_until, leeway) is False
    assert needs_refresh(token, NOW + stale_from, leeway) is True


@pytest.mark.parametrize("lifetime", [1, 2, 10, 30, 60, 119])
def test_short_lived_token_is_never_stale_when_fetched(lifetime: float) -> None:
    # A plain 60s leeway would make every one of these stale on arrival: a refresh storm.
    assert needs_refresh(make_token(lifetime), NOW, 60.0) is False


@pytest.mark.parametrize("offset", [0.0, 1.0, 3600.0, 10**9])
def test_token_without_expiry_never_needs_refresh(offset: float) -> None:
    token = make_token(None)
    assert needs_refresh(token, NOW + offset, 60.0) is False


def test_token_without_expiry_or_issue_time_never_needs_refresh() -> None:
    token = Token(access_token=SECRET)
    assert needs_refresh(token, NOW, 60.0) is False


def test_token_already_expired_when_fetched_is_used_anyway() -> None:
    # The autocall sample's expire_at (2021) lies in the past of any real "now".
    token = parse_token(AUTOCALL_TOKEN_RESPONSE, NOW)
    assert token is not None
    assert token.expires_at is not None
    assert token.expires_at.timestamp() < NOW
    for later in (0.0, 1.0, 60.0, 3600.0, 86400.0):
        assert needs_refresh(token, NOW + later, 60.0) is False


@pytest.mark.parametrize("skew", [1.0, 30.0, 86400.0])
def test_clock_skewed_token_is_used_until_a_401(skew: float) -> None:
    token = make_token(-skew)
    assert needs_refresh(token, NOW, 60.0) is False
    assert needs_refresh(token, NOW + 600, 60.0) is False


def test_token_without_issue_time_uses_the_plain_leeway() -> None:
    # A token loaded from a store that did not record issued_at: lifetime unknown.
    token = Token(access_token=SECRET, expires_at=utc(NOW + 120))
    assert token.lifetime is None
    assert needs_refresh(token, NOW, 60.0) is False
    assert needs_refresh(token, NOW + 59, 60.0) is False
    assert needs_refresh(token, NOW + 61, 60.0) is True


def test_parsed_token_flows_into_needs_refresh() -> None:
    token = parse_token({"data": {"token": SECRET, "expired_in": 10}}, NOW)
    assert token is not None
    assert needs_refresh(token, NOW, 60.0) is False
    assert needs_refresh(token, NOW + 4, 60.0) is False
    assert needs_refresh(token, NOW + 6, 60.0) is True


# --------------------------------------------------------------------------- Token


def test_token_repr_and_str_hide_the_access_token() -> None:
    token = make_token(3600)
    for text in (repr(token), str(token), f"{token}", repr([token]), repr({"t": token})):
        assert SECRET not in text
        assert "Token" in text


def test_token_is_frozen() -> None:
    token = make_token(3600)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        token.access_token = "other"  # type: ignore[misc]


def test_token_defaults() -> None:
    token = Token(access_token=SECRET)
    assert token.expires_at is None
    assert token.issued_at is None
    assert token.token_type == "Bearer"
    assert token.lifetime is None


def test_token_lifetime() -> None:
    assert make_token(3600).lifetime == 3600.0
    assert make_token(None).lifetime is None


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(make_token(3600), id="with-expiry"),
        pytest.param(make_token(None), id="no-expiry"),
        pytest.param(Token(access_token=SECRET), id="bare"),
        pytest.param(
            Token(access_token=SECRET, expires_at=utc(NOW + 0.5), token_type="bearer"),
            id="fraction-and-token-type",
        ),
        pytest.param(make_token(-30), id="expired-when-fetched"),
    ],
)
def test_token_to_dict_from_dict_round_trip(token: Token) -> None:
    data = token.to_dict()
    assert Token.from_dict(data) == token
    # Through JSON, as a file- or Redis-backed store would keep it.
    restored = Token.from_dict(json.loads(json.dumps(data)))
    assert restored == token
    assert restored.access_token == SECRET
    if restored.expires_at is not None:
        assert restored.expires_at.tzinfo is not None
    assert needs_refresh(restored, NOW, 60.0) is needs_refresh(token, NOW, 60.0)


def test_token_from_dict_defaults_token_type() -> None:
    token = Token.from_dict({"access_token": SECRET, "expires_at": NOW + 60})
    assert token.token_type == "Bearer"
    assert token.expires_at == utc(NOW + 60)
    assert token.issued_at is None


def test_token_to_dict_is_json_ready() -> None:
    data = make_token(3600).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["access_token"] == SECRET


def test_public_names_are_the_same_objects() -> None:
    assert PublicToken is Token
    assert PublicTokenStore is TokenStore
    assert PublicMemoryTokenStore is MemoryTokenStore


# --------------------------------------------------------------------------- MemoryTokenStore


async def test_memory_token_store_starts_empty() -> None:
    store = MemoryTokenStore()
    assert await store.load() is None


async def test_memory_token_store_keeps_the_last_saved_token() -> None:
    store = MemoryTokenStore()
    first, second = make_token(3600), make_token(7200)
    await store.save(first)
    assert await store.load() is first
    await store.save(second)
    assert await store.load() is second


async def test_memory_token_stores_are_independent() -> None:
    a, b = MemoryTokenStore(), MemoryTokenStore()
    await a.save(make_token(3600))
    assert await b.load() is None


def test_memory_token_store_satisfies_the_protocol() -> None:
    assert isinstance(MemoryTokenStore(), TokenStore)


async def test_memory_token_store_repr_hides_the_token() -> None:
    store = MemoryTokenStore()
    await store.save(make_token(3600))
    assert SECRET not in repr(store)
    assert SECRET not in str(store)


# --------------------------------------------------------------------------- hostile answers


UNUSABLE_EXPIRIES = [
    *(1e20, -1e20, float("nan"), float("inf"), float("-inf"), 10**400, -(10**400), True, False),
    *("nan", "inf", "-inf", "1e400", "1" + "0" * 400, "9999-12-31T23:59:59-23:59"),
    *("0001-01-01T00:00:00Z", "10000-01-01T00:00:00Z", [], {}),
]


@pytest.mark.parametrize("expiry", UNUSABLE_EXPIRIES, ids=lambda value: repr(value)[:24])
@pytest.mark.parametrize("key", ["expired_in", "expires_in", "expire_at", "expired", "expires_at"])
def test_an_unusable_expiry_is_no_expiry(key: str, expiry: object) -> None:
    token = parse_token({"data": {"token": SECRET, key: expiry}}, NOW)
    assert token is not None
    assert token.access_token == SECRET
    assert token.expires_at is None
    assert needs_refresh(token, NOW + 10**6, 60.0) is False  # used until the server says 401


def test_a_far_but_usable_expiry_is_kept_in_utc() -> None:
    token = parse_token({"data": {"token": SECRET, "expire_at": "2030-01-01T07:00:00+07:00"}}, NOW)
    assert token is not None
    assert token.expires_at == datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert token.expires_at.utcoffset() == timedelta(0)
    assert Token.from_dict(token.to_dict()) == token


@pytest.mark.parametrize(
    "raw",
    [
        f"{SECRET}\r\nX-Injected: 1",
        f"{SECRET}\n",
        f"\r\n{SECRET}",
        f"{SECRET}\x00",
        f"{SECRET}\x1b[0m",
        f"{SECRET}\x7f",
        f"{SECRET} {SECRET}",
        f"{SECRET}\u00e9",
        f"{SECRET}\u2028",
        f"{SECRET}\u00a0",
    ],
    ids=["crlf", "lf", "leading-crlf", "nul", "escape", "del", "space", "non-ascii", "ls", "nbsp"],
)
def test_a_token_that_is_not_header_safe_is_no_token(raw: str) -> None:
    assert parse_token({"data": {"token": raw, "expired_in": 60}}, NOW) is None
    assert parse_token({"access_token": raw}, NOW) is None


def test_spaces_and_tabs_around_a_token_are_trimmed() -> None:
    token = parse_token({"data": {"token": f" \t{SECRET} "}}, NOW)
    assert token is not None
    assert token.access_token == SECRET


def test_a_token_type_that_is_not_header_safe_is_bearer() -> None:
    token = parse_token({"data": {"token": SECRET, "token_type": "Bearer\r\nX: 1"}}, NOW)
    assert token is not None
    assert token.token_type == "Bearer"


@pytest.mark.parametrize("raw", ["", "a b", "a\r\nb", "é", "\x00"])
def test_a_token_is_never_built_with_an_unsafe_string(raw: str) -> None:
    with pytest.raises(ValueError, match="visible ASCII"):
        Token(access_token=raw)


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "token",
        {},
        {"access_token": None},
        {"access_token": 12345},
        {"access_token": "a\r\nb"},
        {"access_token": SECRET, "expires_at": 1e20},
        {"access_token": SECRET, "expires_at": float("nan")},
        {"access_token": SECRET, "expires_at": float("inf")},
        {"access_token": SECRET, "expires_at": 10**400},
        {"access_token": SECRET, "expires_at": "soon"},
        {"access_token": SECRET, "expires_at": True},
        {"access_token": SECRET, "expires_at": [1]},
        {"access_token": SECRET, "issued_at": {"t": 1}},
        {"access_token": SECRET, "token_type": 5},
    ],
    ids=lambda value: repr(value)[:40],
)
def test_token_from_dict_with_bad_data_raises_value_error(data: Any) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - any message: the store's data is bad
        Token.from_dict(data)


def test_token_from_dict_reads_numeric_strings() -> None:
    token = Token.from_dict({"access_token": SECRET, "expires_at": str(NOW + 60)})
    assert token.expires_at == utc(NOW + 60)
