"""Every route of the fake, gathered from the per-area modules."""

from __future__ import annotations

from aiohttp import web

from . import _auth, _autocall, _callcenter, _calls, _cdrs

ROUTES: list[web.AbstractRouteDef] = [
    *_auth.routes,
    *_cdrs.routes,
    *_calls.routes,
    *_callcenter.routes,
    *_autocall.routes,
]
