"""The ``tel4vn`` click group, its global options, and the one place errors become exit codes.

Exit codes (API.md section 10): 0 success, 1 an API or transport error, 2 a usage error
(a bad option, a missing setting: nothing was sent), 3 some bulk jobs failed or are
unknown, 130 interrupted. An error is one line on stderr, ``tel4vn: ...``; ``--debug``
prints the traceback instead. No secret is ever echoed: the SDK scrubs its errors, and
the CLI prints an error's text, never its request.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from collections.abc import Sequence

import click

from .._version import __version__
from ..errors import (
    APIError,
    ConfigurationError,
    ConnectError,
    JournalError,
    OutcomeUnknownError,
    Tel4vnError,
    TransportError,
    ValidationError,
)
from ._common import EXIT_API, EXIT_USAGE, CliError, Settings

__all__ = ["cli", "run"]

EXIT_INTERRUPTED = 130


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(
    __version__, "--version", prog_name="tel4vn_async", message="%(prog)s %(version)s"
)
@click.option("--debug", is_flag=True, help="Print the traceback of an error, not one line.")
@click.option(
    "--base-url",
    metavar="URL",
    help="The API's base URL. Default: $TEL4VN_CALLCENTER_URL or $TEL4VN_AUTOCALL_URL "
    "(by command), else $TEL4VN_BASE_URL.",
)
@click.option(
    "--api-key",
    metavar="KEY",
    help="The api_key (never echoed). Default: $TEL4VN_CALLCENTER_API_KEY or "
    "$TEL4VN_AUTOCALL_API_KEY (by command), else $TEL4VN_API_KEY.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Seconds a request may take (default 30).",
)
@click.option(
    "--max-retries",
    type=click.IntRange(0, 100),
    metavar="N",
    help="Retries of a request that may be retried (default 3).",
)
@click.pass_obj
def cli(
    settings: Settings,
    debug: bool,
    base_url: str | None,
    api_key: str | None,
    timeout: float | None,
    max_retries: int | None,
) -> None:
    """The TEL4VN call-center and autocall APIs from the command line.

    \b
    Exit codes: 0 success, 1 API or transport error, 2 usage error (nothing sent),
    3 some bulk jobs failed or are unknown.
    """
    settings.debug = debug
    settings.base_url = base_url
    settings.api_key = api_key
    settings.timeout = timeout
    settings.max_retries = max_retries


def _register() -> None:
    from . import _bulk, _calls, _events, _export, _local, _scale

    for command in (
        _export.cdrs,
        _export.reports,
        _export.customers,
        _bulk.bulk,
        _calls.otp,
        _calls.tts,
        _events.events,
        _events.webhook,
        _local.demo,
        _local.sandbox,
        _scale.worker,
    ):
        cli.add_command(command)


_register()


def describe(error: BaseException) -> tuple[str, int]:
    """The one line and the exit code for an error that ended a command."""
    if isinstance(error, CliError):
        return str(error), error.exit_code
    if isinstance(error, ValidationError):
        where = f"invalid {error.field}: " if error.field else "invalid argument: "
        text = str(error)
        return (text if error.field and text.startswith(error.field) else where + text), EXIT_USAGE
    if isinstance(error, ConfigurationError):
        return f"{error} (see tel4vn --help)", EXIT_USAGE
    if isinstance(error, OutcomeUnknownError):
        return f"outcome unknown: {error}", EXIT_API
    if isinstance(error, ConnectError):
        return str(error), EXIT_API
    if isinstance(error, TransportError):
        where = f" ({error.method} {error.path})" if error.method and error.path else ""
        status = f"HTTP {error.status}: " if error.status else ""
        return f"{status}{error}{where}", EXIT_API
    if isinstance(error, APIError):
        return f"API error {error}", EXIT_API
    if isinstance(error, JournalError):
        return f"journal: {error}", EXIT_API
    if isinstance(error, Tel4vnError):
        return str(error), EXIT_API
    if isinstance(error, OSError):
        name = f"{error.filename}: " if error.filename else ""
        return f"{name}{error.strerror or error}", EXIT_API
    return f"unexpected {type(error).__name__}: {error}", EXIT_API


def run(argv: Sequence[str]) -> int:
    """Run the group on ``argv`` and turn what ends it into an exit code.

    ``standalone_mode=False`` lets this function, not click, decide: click's own usage
    errors keep their message and code 2, on one line; everything else goes through
    ``describe``.
    """
    settings = Settings()
    try:
        result = cli.main(args=list(argv), prog_name="tel4vn", obj=settings, standalone_mode=False)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.UsageError as error:  # one line, as every other error (section 10)
        ctx = error.ctx
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        click.echo(f"tel4vn: {error.format_message()}{hint}", err=True)
        return error.exit_code
    except click.ClickException as error:
        click.echo(f"tel4vn: {error.format_message()}", err=True)
        return error.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt, asyncio.CancelledError):
        click.echo("tel4vn: interrupted", err=True)
        return EXIT_INTERRUPTED
    except Exception as error:  # every other error: one line, or the traceback
        message, code = describe(error)
        if settings.debug:
            traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
        else:
            click.echo(f"tel4vn: {message}", err=True)
        return code
    return result if isinstance(result, int) else 0
