"""tel4vn_async: the asyncio SDK for the TEL4VN Call Center and Autocall (PBX) APIs."""

from ._session import Session
from ._token import MemoryTokenStore, Token, TokenStore
from ._transport import RetryPolicy
from .autocall import AutocallClient
from .callcenter import CallCenterClient
from .errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    CallRejectedError,
    ClientClosedError,
    ConfigurationError,
    ConnectError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ServerError,
    Tel4vnError,
    TransportError,
    UserBusyError,
    UserNotRegisteredError,
    ValidationError,
)
from .models import Account

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "Account",
    "AuthenticationError",
    "AutocallClient",
    "BadRequestError",
    "CallCenterClient",
    "CallRejectedError",
    "ClientClosedError",
    "ConfigurationError",
    "ConnectError",
    "MemoryTokenStore",
    "NotFoundError",
    "OutcomeUnknownError",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "Session",
    "Tel4vnError",
    "Token",
    "TokenStore",
    "TransportError",
    "UserBusyError",
    "UserNotRegisteredError",
    "ValidationError",
    "__version__",
]
