"""What both clients share: configuration, the one request path, tokens, lifecycle."""

from __future__ import annotations

import copy
import json as _json
import logging
from collections.abc import Coroutine, Mapping
from functools import cached_property
from types import TracebackType
from typing import Any, ClassVar, TypeVar

import aiohttp

from ._config import base_url_setting, key_setting, retries_setting, seconds_setting
from ._convert import structure
from ._retry import OnAttempt, RetryPolicy, send_with_retries
from ._sansio import Request, format_query, secrets_in
from ._session import Session
from ._token import Token, TokenStore, parse_token
from ._transport import AiohttpTransport, Transport
from ._validate import check_number
from ._version import __version__
from .errors import (
    APIError,
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    ConnectError,
    Tel4vnError,
    TransportError,
    ValidationError,
)
from .models.account import Account

__all__ = ["USER_AGENT", "BaseClient"]

_C = TypeVar("_C", bound="BaseClient")
_log = logging.getLogger("tel4vn_async")

USER_AGENT = f"tel4vn-async/{__version__}"
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def _is_unauthorized(error: Tel4vnError) -> bool:
    if isinstance(error, APIError):
        return isinstance(error, AuthenticationError) and 401 in (error.status, error.code)
    # A 401 with an HTML or empty-ish body still means "this token was refused".
    return isinstance(error, TransportError) and error.status == 401


class BaseClient:
    """A client of one TEL4VN API family; subclasses name their token endpoint."""

    _token_path: ClassVar[str]
    _family: ClassVar[str]

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        http_session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        refresh_leeway: float = 60.0,
        token_store: TokenStore | None = None,
        retry_policy: RetryPolicy | None = None,
        on_attempt: OnAttempt | None = None,
        transport: Transport | None = None,
        trust_env: bool = True,
    ) -> None:
        """Configure a client; nothing is sent until the first call.

        Args:
            base_url: the API host, e.g. ``https://api.example.vn``; defaults to
                ``TEL4VN_CALLCENTER_URL`` / ``TEL4VN_AUTOCALL_URL``, then ``TEL4VN_BASE_URL``.
            api_key: the account's api_key; defaults to ``TEL4VN_CALLCENTER_API_KEY`` /
                ``TEL4VN_AUTOCALL_API_KEY``, then ``TEL4VN_API_KEY``.
            http_session: an aiohttp session to use; the client never closes one it
                was given. By default the client makes (and closes) its own.
            timeout: seconds one attempt may take, from connecting to the last byte of
                the answer.
            max_retries: retries after the first try, for failures that may be retried.
            refresh_leeway: refresh the token this many seconds before it expires
                (at most half its lifetime).
            token_store: where the token is kept; share one to share the token.
            retry_policy: backoff timing; see ``RetryPolicy``.
            on_attempt: told of every attempt of every request (an ``Attempt``), retried
                or not: for metrics and throttles. Plain or async; its errors are logged.
            transport: what sends each attempt (see ``Transport``); by default an
                ``AiohttpTransport`` over ``http_session``.
            trust_env: honour ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` (default
                transport only).

        Raises:
            ConfigurationError: no base URL or api_key, or a setting out of range.
        """
        self._base_url = base_url_setting(base_url, self._family)
        key = key_setting(api_key, self._family)
        if not isinstance(key, str) or not key.strip():
            if api_key is not None:
                raise ConfigurationError("api_key must be a non-empty string")
            names = f"TEL4VN_{self._family.upper()}_API_KEY or TEL4VN_API_KEY"
            raise ConfigurationError(f"no api_key given and neither {names} is set")
        self._api_key = key.strip()
        self._timeout = seconds_setting(timeout, "timeout", allow_zero=False)
        self._max_retries = retries_setting(max_retries)
        leeway = seconds_setting(refresh_leeway, "refresh_leeway", allow_zero=True)
        if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
            raise ConfigurationError("retry_policy must be a RetryPolicy")
        self._policy = retry_policy or RetryPolicy()
        if on_attempt is not None and not callable(on_attempt):
            raise ConfigurationError("on_attempt must be callable")
        self._on_attempt = on_attempt
        if transport is not None and http_session is not None:
            raise ConfigurationError("pass http_session or transport, not both")
        self._transport: Transport = transport or AiohttpTransport(
            http_session=http_session, trust_env=trust_env
        )
        self._owns_transport = True
        self._parent: BaseClient | None = None
        self._closed = False
        self._headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        self._token_headers: tuple[str, dict[str, str]] | None = None
        self.session = Session(self._fetch_token, refresh_leeway=leeway, token_store=token_store)
        """The session manager holding this client's bearer token."""

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called (on this client, or on its ``with_options`` parent)."""
        return self._closed or (self._parent is not None and self._parent.closed)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key='***', {state})"

    async def __aenter__(self: _C) -> _C:
        if self.closed:
            raise ClientClosedError(f"{type(self).__name__} is closed")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Release the connections and cancel a token refresh in flight; idempotent.

        On a client made by ``with_options`` this does nothing: the parent owns them.
        """
        if not self._owns_transport:
            return
        self._closed = True
        await self.session.close()
        await self._transport.aclose()

    def with_options(
        self: _C, *, timeout: float | None = None, max_retries: int | None = None
    ) -> _C:
        """A client with other settings for a few calls, sharing these connections and token.

        ``await cc.with_options(timeout=120).click2call.call("101", "0899098899")``.
        Closing the parent closes it too; closing it does nothing.

        Raises:
            ConfigurationError: a setting out of range.
        """
        clone = self._derive()
        if timeout is not None:
            clone._timeout = seconds_setting(timeout, "timeout", allow_zero=False)
        if max_retries is not None:
            clone._max_retries = retries_setting(max_retries)
        return clone

    def _derive(
        self: _C,
        *,
        on_attempt: OnAttempt | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> _C:
        """A client sharing these connections and token, with its own hook or retry timing
        (the bulk runner's throttle listens and paces through them)."""
        clone = copy.copy(self)
        for name, attr in vars(type(self)).items():  # resources bound to the parent
            if isinstance(attr, cached_property):
                clone.__dict__.pop(name, None)
        if on_attempt is not None:
            clone._on_attempt = on_attempt
        if retry_policy is not None:
            clone._policy = retry_policy
        clone._owns_transport = False
        clone._parent = self._parent or self  # the owner of the connections
        return clone

    def _check_open(self) -> None:
        if self.closed:
            raise ClientClosedError(f"{type(self).__name__} is closed")

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json: Any = None,
        places_call: bool = False,
        timeout: float | None = None,
    ) -> Any:
        """Call any endpoint with the client's token, retries and error mapping.

        The escape hatch for endpoints the SDK has no method for yet.

        Args:
            method: the HTTP method.
            path: the path below the base URL, e.g. ``/v2/call``.
            params: query parameters (None values dropped, bools as true/false).
            json: the JSON body: dicts, lists, strings, finite numbers, bools, None.
            places_call: set when the request can ring a phone: it is then never
                retried once the server may have received it.
            timeout: seconds to wait for the answer, instead of the client's ``timeout``.

        Returns:
            The decoded JSON body.

        Raises:
            ValidationError: a bad argument, before anything is sent.
        """
        if not isinstance(method, str) or method.strip().upper() not in _METHODS:
            raise ValidationError(
                f"method must be one of {', '.join(sorted(_METHODS))}; got {method!r}",
                field="method",
            )
        if not isinstance(path, str) or not path.startswith("/") or "?" in path:
            raise ValidationError(
                f"path must be a string starting with '/', without a query: {path!r}",
                field="path",
            )
        if any(c.isspace() or ord(c) < 32 for c in path):
            raise ValidationError(
                "path must not contain spaces or control characters", field="path"
            )
        if params is not None and not isinstance(params, Mapping):
            raise ValidationError("params must be a mapping", field="params")
        if not isinstance(places_call, bool):
            raise ValidationError("places_call must be True or False", field="places_call")
        if json is not None:
            try:
                _json.dumps(json, allow_nan=False)
            except (TypeError, ValueError, RecursionError):
                raise ValidationError(
                    "json must hold only dicts with string keys, lists, strings, finite "
                    "numbers, bools and None",
                    field="json",
                ) from None
        return await self._send(
            Request(
                method.strip(),
                path,
                params=format_query(params) if params else None,
                json=json,
                places_call=places_call,
                timeout=None
                if timeout is None
                else check_number(timeout, "timeout", low=0, high=86_400, low_exclusive=True),
            )
        )

    async def _send(self, request: Request) -> Any:
        """The one request path: token, attempts with retries, one refresh on 401."""
        self._check_open()
        try:
            if not request.auth:
                return await self._attempts(request, self._headers)
            token = self.session.fresh() or await self.session.token()
            try:
                return await self._attempts(request, self._auth_headers(token))
            except (APIError, TransportError) as error:
                if not _is_unauthorized(error):
                    raise
                self.session.invalidate(token)
            token = await self.session.token()
            return await self._attempts(request, self._auth_headers(token))
        except Tel4vnError as error:
            # A server may echo what it was sent: a callback_apikey in the body is a secret too.
            error._scrub((*self._secrets(), *secrets_in(request.json)))
            raise

    def _auth_headers(self, token: Token) -> dict[str, str]:
        cached = self._token_headers
        if cached is not None and cached[0] == token.access_token:
            return cached[1]
        headers = {**self._headers, "Authorization": f"Bearer {token.access_token}"}
        self._token_headers = (token.access_token, headers)
        return headers

    def _attempts(self, request: Request, headers: Mapping[str, str]) -> Coroutine[Any, Any, Any]:
        """Send ``request`` until it succeeds or may not be retried (API.md section 3).

        Awaited by the caller: a plain function handing over the coroutine, one await level
        less on every request.
        """
        return send_with_retries(
            self._transport,
            request,
            url=self._base_url + request.path,
            headers=headers,
            timeout=self._timeout,
            policy=self._policy,
            max_retries=self._max_retries,
            on_attempt=self._on_attempt,
        )

    def _secrets(self) -> tuple[str, ...]:
        return (self._api_key, *self.session.secrets())

    async def _fetch_token(self) -> Token:
        """The session's token source; its errors never show the api_key (nor their causes)."""
        try:
            return await self._request_token()
        except Tel4vnError as error:
            error._scrub(self._secrets())
            raise

    async def _request_token(self) -> Token:
        # Fetching a token twice is harmless, so it is retried like a read.
        request = Request(
            "POST", self._token_path, json={"api_key": self._api_key}, auth=False, idempotent=True
        )
        self._check_open()
        try:
            body = await self._attempts(request, self._headers)
        except APIError as error:
            raise AuthenticationError(
                f"the token endpoint refused the api_key: {error.message}",
                status=error.status,
                code=error.code,
                details=error.details,
                method=request.method,
                path=request.path,
                retry_after=error.retry_after,
                body=error.body,
            ) from error
        except TransportError as error:
            if error.status is None or isinstance(error, ConnectError):
                raise  # unreachable, not refusing: a transport problem
            raise AuthenticationError(
                f"the token endpoint answered HTTP {error.status} without a token",
                status=error.status,
                method=request.method,
                path=request.path,
            ) from error
        token = parse_token(body, self.session.clock())
        if token is None:
            raise AuthenticationError(
                "the token endpoint answered without a token",
                status=200,
                method=request.method,
                path=request.path,
            )
        return token

    @classmethod
    async def login(
        cls,
        base_url: str | None,
        username: str,
        password: str,
        *,
        http_session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
    ) -> Account:
        """Log in with a user name and password and return the account with its api_key.

        API: POST /v1/auth

        Raises:
            AuthenticationError: wrong user name or password.
            ConfigurationError: no base URL given or in the environment.
            ValidationError: an empty user name or password; nothing sent.
        """
        for field, value in (("username", username), ("password", password)):
            if not isinstance(value, str) or not value.strip():
                raise ValidationError(f"{field} must be a non-empty string", field=field)
        # A client for its request path only: /v1/auth takes no token, so the key is unused.
        client = cls(base_url, api_key="unused", http_session=http_session, timeout=timeout)
        request = Request(
            "POST",
            "/v1/auth",
            json={"username": username, "password": password},
            auth=False,
            idempotent=True,
        )
        body: object = None
        try:
            body = await client._attempts(request, client._headers)
            data = body.get("data") if isinstance(body, Mapping) else None
            if isinstance(data, Mapping) and data.get("api_key"):
                try:
                    return structure(data, Account)
                except TransportError:
                    pass  # its text may quote the api_key: not chained, never shown
            raise TransportError(
                "login answered without a readable account",
                status=200,
                method="POST",
                path="/v1/auth",
            )
        except APIError as error:
            if isinstance(error, AuthenticationError) or error.status in (400, 404):
                error = AuthenticationError(
                    f"login refused: {error.message}",
                    status=error.status,
                    code=error.code,
                    method=request.method,
                    path=request.path,
                )
            error._scrub((password,))
            raise error from None
        except Tel4vnError as error:
            # An answer the SDK cannot read may hold the api_key: never show it.
            error._scrub((password, *secrets_in(body)))
            raise
        finally:
            await client.close()
