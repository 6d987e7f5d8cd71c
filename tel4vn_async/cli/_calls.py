"""``otp`` and ``tts``: one autocall each, printing its call id.

A call whose answer was lost after the request may have reached the PBX is neither a
success nor a failure: the command says so, names the report listing that settles it,
and exits 1. It is never sent again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import click

from ..autocall import AutocallClient
from ..errors import OutcomeUnknownError
from ..models import CallResult
from ._common import EXIT_API, CliError, Settings

__all__ = ["otp", "tts"]

_callback_url = click.option("--callback-url", help="Where the PBX posts this call's events.")
_callback_key = click.option(
    "--callback-apikey", metavar="KEY", help="The key the PBX sends with them (never echoed)."
)


def _place(
    settings: Settings, callee: str, call: Callable[[AutocallClient], Awaitable[CallResult]]
) -> int:
    pbx = settings.autocall()  # ConfigurationError: exit 2, nothing sent

    async def go() -> CallResult:
        async with pbx:
            return await call(pbx)  # arguments checked before anything is sent

    try:
        result = asyncio.run(go())
    except OutcomeUnknownError as error:
        raise CliError(
            f"outcome unknown: the call may have been placed ({error}); check "
            f"`tel4vn reports export --callee {callee}` before calling again",
            EXIT_API,
        ) from error
    click.echo(result.call_id)
    return 0


@click.command()
@click.option("--campaign-id", required=True, help="The campaign's id.")
@click.option("--caller", required=True, help="The number calling (a hotline).")
@click.option("--callee", required=True, help="The number to call.")
@click.option("--template", required=True, help="The OTP template's name.")
@click.option("--code", required=True, help="The code to read (1 to 16 letters or digits).")
@_callback_url
@_callback_key
@click.pass_obj
def otp(
    settings: Settings, campaign_id: str, caller: str, callee: str, template: str, code: str,
    callback_url: str | None, callback_apikey: str | None,
) -> int:  # fmt: skip
    """Place one OTP call and print its call id."""
    return _place(
        settings,
        callee,
        lambda pbx: pbx.calls.otp(
            campaign_id=campaign_id, caller=caller, callee=callee, template=template,
            code=code, callback_url=callback_url, callback_apikey=callback_apikey,
        ),
    )  # fmt: skip


def _params(pairs: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise CliError(f"invalid --param {pair!r}: write it NAME=VALUE")
        params[name.strip()] = value
    return params


@click.command()
@click.option("--caller", required=True, help="The number calling (a hotline).")
@click.option("--callee", required=True, help="The number to call.")
@click.option("--template", required=True, help="The TTS template's name.")
@click.option("--param", "-p", "pairs", multiple=True, metavar="NAME=VALUE",
              help="A template parameter ({{NAME}}); repeat for each.")  # fmt: skip
@click.option("--campaign-id", help="The campaign's id (optional).")
@_callback_url
@_callback_key
@click.pass_obj
def tts(
    settings: Settings, caller: str, callee: str, template: str, pairs: tuple[str, ...],
    campaign_id: str | None, callback_url: str | None, callback_apikey: str | None,
) -> int:  # fmt: skip
    """Place one text-to-speech call and print its call id."""
    params = _params(pairs)
    return _place(
        settings,
        callee,
        lambda pbx: pbx.calls.tts(
            caller=caller, callee=callee, template=template, params=params or None,
            campaign_id=campaign_id, callback_url=callback_url,
            callback_apikey=callback_apikey,
        ),
    )  # fmt: skip
