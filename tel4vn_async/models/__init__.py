"""attrs models of the API's resources, structured by the one converter in ``_convert``."""

from .account import Account

__all__ = ["Account"]
