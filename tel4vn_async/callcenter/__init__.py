"""The Call Center API client and its resource groups."""

from ._client import CallCenterClient

__all__ = ["CallCenterClient"]
