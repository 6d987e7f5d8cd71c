"""``demo`` and ``sandbox``: the commands that run the fake server on this machine.

Their bodies live in ``_demo`` and ``_sandbox``; this module only declares the options
and runs them, so the group's error handling and exit codes apply to them too.
"""

from __future__ import annotations

import asyncio

import click

__all__ = ["demo", "sandbox"]


@click.command()
def demo() -> int:
    """The SDK's main job on the embedded fake server: no network, done in seconds."""
    from . import _demo

    return asyncio.run(_demo.demo())


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="The port (0: any free port).")  # fmt: skip
@click.option("--api-key", metavar="KEY", help="A fixed api_key for scripts (default: random).")
@click.option("--seed-cdrs", type=click.IntRange(min=0), default=1000, show_default=True,
              metavar="N", help="CDRs to serve, spread around today.")  # fmt: skip
def sandbox(host: str, port: int, api_key: str | None, seed_cdrs: int) -> int:
    """Serve the fake TEL4VN server, print the environment a client needs, log each request."""
    from . import _sandbox

    return asyncio.run(_sandbox.sandbox(host, port, api_key, seed_cdrs))
