"""What every resource group of both clients shares: ``_get``/``_post``/``_delete`` and
the one function that unwraps a single-record envelope."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ._convert import structure
from ._sansio import ErrorShape, Request, format_query
from .errors import OutcomeUnknownError, TransportError
from .pagination import Page, envelope, page_from

if TYPE_CHECKING:
    from ._client import BaseClient

__all__ = ["APIResource", "unwrap"]

M = TypeVar("M")
T = TypeVar("T")


def unwrap(body: object, request: Request) -> Mapping[str, Any]:
    """The record of a single-record answer: ``data`` when it holds one, else the body.

    ``{"data": {...}}``, ``{"data": [{...}]}`` (one record in a list) and a flat
    ``{...}`` all give the record.

    Raises:
        TransportError: the answer holds no JSON object.
    """
    # type() first: a decoded object is a dict, and the Mapping check is an ABC's.
    if type(body) is dict or isinstance(body, Mapping):
        data = body.get("data")
        if data is None:
            return body  # a flat record (a CDR)
        if type(data) is dict or isinstance(data, Mapping):
            return data
        if isinstance(data, list) and len(data) == 1 and isinstance(data[0], Mapping):
            return data[0]
        return body
    raise TransportError(
        f"expected a JSON object, got {type(body).__name__}",
        status=200,
        method=request.method,
        path=request.path,
    )


class APIResource:
    """A group of endpoints on one client; every request goes through the client's one path."""

    def __init__(self, client: BaseClient) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"

    @overload
    async def _request(self, request: Request, cast_to: type[M]) -> M: ...
    @overload
    async def _request(self, request: Request, cast_to: None = None) -> Any: ...
    async def _request(self, request: Request, cast_to: type[M] | None = None) -> M | Any:
        body = await self._client._send(request)
        if cast_to is None:
            return body
        try:
            # The body was just decoded and nothing else holds it: no copy for raw.
            return structure(unwrap(body, request), cast_to, owned=True)
        except TransportError as error:
            if not request.places_call:
                raise
            # A call-placing request answered with nothing readable: it may have rung.
            raise OutcomeUnknownError(
                f"{error}; the call may have been placed",
                status=200,
                method=request.method,
                path=request.path,
            ) from error

    @overload
    async def _get(
        self,
        path: str,
        *,
        cast_to: type[M],
        params: Mapping[str, object] | None = ...,
        places_call: bool = ...,
        timeout: float | None = ...,
    ) -> M: ...
    @overload
    async def _get(
        self,
        path: str,
        *,
        cast_to: None = None,
        params: Mapping[str, object] | None = ...,
        places_call: bool = ...,
        timeout: float | None = ...,
    ) -> Any: ...
    async def _get(
        self,
        path: str,
        *,
        cast_to: type[M] | None = None,
        params: Mapping[str, object] | None = None,
        places_call: bool = False,
        timeout: float | None = None,
    ) -> M | Any:
        query = format_query(params) if params else None
        request = Request("GET", path, params=query, places_call=places_call, timeout=timeout)
        return await self._request(request, cast_to)

    @overload
    async def _post(
        self,
        path: str,
        *,
        cast_to: type[M],
        json: Any = ...,
        data: Any = ...,
        places_call: bool = ...,
        error_shapes: ErrorShape = ...,
    ) -> M: ...
    @overload
    async def _post(
        self,
        path: str,
        *,
        cast_to: None = None,
        json: Any = ...,
        data: Any = ...,
        places_call: bool = ...,
        error_shapes: ErrorShape = ...,
    ) -> Any: ...
    async def _post(
        self,
        path: str,
        *,
        cast_to: type[M] | None = None,
        json: Any = None,
        data: Any = None,
        places_call: bool = False,
        error_shapes: ErrorShape = ErrorShape.NONE,
    ) -> M | Any:
        request = Request(
            "POST", path, json=json, data=data, places_call=places_call, error_shapes=error_shapes
        )
        return await self._request(request, cast_to)

    @overload
    async def _delete(self, path: str, *, cast_to: type[M]) -> M: ...
    @overload
    async def _delete(self, path: str, *, cast_to: None = None) -> Any: ...
    async def _delete(self, path: str, *, cast_to: type[M] | None = None) -> M | Any:
        return await self._request(Request("DELETE", path), cast_to)

    async def _get_list(self, path: str, cast_to: type[M]) -> list[M]:
        """An unpaginated listing: every record of ``data`` (or of a bare list)."""
        records, _ = envelope(await self._get(path))
        return [structure(r, cast_to) for r in records if isinstance(r, Mapping)]

    async def _get_page(
        self, path: str, query: Mapping[str, object], convert: Callable[[Mapping[str, Any]], T]
    ) -> Page[T]:
        """One page of a paginated listing, its records converted."""
        return page_from(await self._get(path, params=query), query, convert)
