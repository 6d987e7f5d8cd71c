"""Every route of the fake, gathered from the per-area modules."""

from __future__ import annotations

from aiohttp import web

from . import _auth, _autocall, _callcenter

ROUTES: list[web.AbstractRouteDef] = [*_auth.routes, *_callcenter.routes, *_autocall.routes]
