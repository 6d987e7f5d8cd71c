"""What both clients share: configuration, the request path, token handling, lifecycle."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, ClassVar, TypeVar

import aiohttp

from ._convert import structure
from ._sansio import Request, format_query, secrets_in
from ._session import Session
from ._token import Token, TokenStore, parse_token
from ._transport import RetryPolicy, Transport
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

__all__ = ["BaseClient"]

_C = TypeVar("_C", bound="BaseClient")


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
    ) -> None:
        """Configure a client; nothing is sent until the first call.

        Args:
            base_url: the API host, e.g. ``https://api.example.vn``; defaults to the
                ``TEL4VN_BASE_URL`` environment variable.
            api_key: the account's api_key; defaults to ``TEL4VN_API_KEY``.
            http_session: an aiohttp session to use; the client never closes one it
                was given. By default the client makes (and closes) its own.
            timeout: seconds allowed to connect, and to wait for each read.
            max_retries: retries after the first try, for failures that may be retried.
            refresh_leeway: refresh the token this many seconds before it expires
                (at most half its lifetime).
            token_store: where the token is kept; share one to share the token.
            retry_policy: backoff timing; see ``RetryPolicy``.

        Raises:
            ConfigurationError: no base URL or api_key, or a setting out of range.
        """
        base_url = base_url or os.environ.get("TEL4VN_BASE_URL")
        api_key = api_key or os.environ.get("TEL4VN_API_KEY")
        if not base_url:
            raise ConfigurationError("no base_url given and TEL4VN_BASE_URL is not set")
        if not api_key:
            raise ConfigurationError("no api_key given and TEL4VN_API_KEY is not set")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"base_url must start with http:// or https://: {base_url!r}")
        if timeout <= 0:
            raise ConfigurationError(f"timeout must be positive, got {timeout}")
        if max_retries < 0:
            raise ConfigurationError(f"max_retries must be 0 or more, got {max_retries}")
        if refresh_leeway < 0:
            raise ConfigurationError(f"refresh_leeway must be 0 or more, got {refresh_leeway}")
        self._api_key = api_key
        self._transport = Transport(
            base_url,
            http_session=http_session,
            timeout=timeout,
            max_retries=max_retries,
            retry_policy=retry_policy,
        )
        self.session = Session(
            self._fetch_token, refresh_leeway=refresh_leeway, token_store=token_store
        )
        """The session manager holding this client's bearer token."""

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def closed(self) -> bool:
        return self._transport.closed

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
        """Release the connections and cancel a token refresh in flight; idempotent."""
        await self.session.close()
        await self._transport.close()

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
            json: the JSON body.
            places_call: set when the request can ring a phone: it is then never
                retried once the server may have received it.
            timeout: seconds to wait for the answer, instead of the client's ``timeout``.

        Returns:
            The decoded JSON body.
        """
        if not path.startswith("/"):
            raise ValidationError(f"path must start with '/': {path!r}", field="path")
        return await self._send(
            Request(
                method,
                path,
                params=format_query(params) if params else None,
                json=json,
                places_call=places_call,
                timeout=timeout,
            )
        )

    async def _send(self, request: Request) -> Any:
        """The one request path: token, send with retries, one refresh on 401."""
        if self.closed:
            raise ClientClosedError(f"{type(self).__name__} is closed")
        try:
            if not request.auth:
                return await self._transport.send(request)
            token = await self.session.token()
            try:
                return await self._transport.send(request, token.access_token)
            except (APIError, TransportError) as error:
                if not _is_unauthorized(error):
                    raise
                self.session.invalidate(token)
            token = await self.session.token()
            return await self._transport.send(request, token.access_token)
        except Tel4vnError as error:
            # A server may echo what it was sent: a callback_apikey in the body is a secret too.
            error._scrub((*self._secrets(), *secrets_in(request.json)))
            raise

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
        try:
            body = await self._transport.send(request)
        except APIError as error:
            raise AuthenticationError(
                f"the token endpoint refused the api_key: {error.message}",
                status=error.status,
                code=error.code,
                details=error.details,
                method=request.method,
                path=request.path,
                retry_after=error.retry_after,
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
        token = parse_token(body, time.time())
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
            ConfigurationError: no base URL given or in ``TEL4VN_BASE_URL``.
        """
        base_url = base_url or os.environ.get("TEL4VN_BASE_URL")
        if not base_url:
            raise ConfigurationError("no base_url given and TEL4VN_BASE_URL is not set")
        transport = Transport(base_url, http_session=http_session, timeout=timeout)
        request = Request(
            "POST",
            "/v1/auth",
            json={"username": username, "password": password},
            auth=False,
            idempotent=True,
        )
        try:
            body = await transport.send(request)
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
            error._scrub((password,))
            raise
        finally:
            await transport.close()
        data = body.get("data") if isinstance(body, Mapping) else None
        if not isinstance(data, Mapping) or not data.get("api_key"):
            raise TransportError(
                "login answered without an account", status=200, method="POST", path="/v1/auth"
            )
        return structure(data, Account)
