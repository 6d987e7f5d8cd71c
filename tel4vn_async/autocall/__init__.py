"""The Autocall (PBX) API client and its resource groups."""

from ._client import AutocallClient

__all__ = ["AutocallClient"]
