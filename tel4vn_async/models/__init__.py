"""attrs models of the API's resources, structured by the one converter in ``_convert``.

Every model has ``to_dict()``: the model as plain JSON-safe values (the rules:
``tel4vn_async.models._base``).
"""

from .account import Account
from .autocall import (
    Amount,
    AudioUpload,
    CallResult,
    OtpTemplate,
    PressOption,
    Report,
    Sound,
    SpokenNumber,
    TtsTemplate,
    Voice,
    VoiceType,
)
from .callcenter import (
    CallControlResult,
    CallDirection,
    CallStatus,
    Cdr,
    CdrMapping,
    ClickToCallResult,
    Customer,
    CustomerStatus,
    Event,
    EventType,
    ImportResult,
    LiveCall,
    QueueCustomer,
    UserStatus,
)

__all__ = [
    "Account",
    "Amount",
    "AudioUpload",
    "CallControlResult",
    "CallDirection",
    "CallResult",
    "CallStatus",
    "Cdr",
    "CdrMapping",
    "ClickToCallResult",
    "Customer",
    "CustomerStatus",
    "Event",
    "EventType",
    "ImportResult",
    "LiveCall",
    "OtpTemplate",
    "PressOption",
    "QueueCustomer",
    "Report",
    "Sound",
    "SpokenNumber",
    "TtsTemplate",
    "UserStatus",
    "Voice",
    "VoiceType",
]
