"""Testing aids: ``FakeTel4vn``, an in-memory TEL4VN server, and its fault injection.

``async with FakeTel4vn() as fake:`` serves both API families on 127.0.0.1;
``fake.url`` and ``fake.api_key`` configure a client. The pytest plugin
(``tel4vn_async.testing.pytest_plugin``, registered automatically) gives it as the
``fake_tel4vn`` fixture.
"""

from ._base import FAKE, json_response
from ._fake import FakeTel4vn, Fault, LoggedRequest
from ._webhooks import WebhookDelivery

__all__ = ["FAKE", "FakeTel4vn", "Fault", "LoggedRequest", "WebhookDelivery", "json_response"]
