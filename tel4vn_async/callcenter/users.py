"""``cc.users``: users (agents) of the tenant and their extensions' status."""

from __future__ import annotations

from .._resource import APIResource
from .._validate import path_segment
from ..models.callcenter import UserStatus

__all__ = ["Users"]


class Users(APIResource):
    """Users (agents) of the tenant."""

    async def status(self, user_id: str) -> UserStatus:
        """A user's extension and whether it is logged in on a softphone.

        API: GET /v2/user/{user_id}/status

        Args:
            user_id: the user's id or user name (``test.user01``; up to 255 characters,
                not only dots), quoted into one path segment.

        Raises:
            NotFoundError: ``user is not existed``.
            ValidationError: a bad id; nothing sent.
        """
        path = f"/v2/user/{path_segment(user_id, 'user_id')}/status"
        return await self._get(path, cast_to=UserStatus)
