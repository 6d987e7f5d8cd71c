"""Every route of the fake, gathered from the per-area modules."""

from __future__ import annotations

from aiohttp import web

from . import _auth, _calls

ROUTES: list[web.AbstractRouteDef] = [*_auth.routes, *_calls.routes]
