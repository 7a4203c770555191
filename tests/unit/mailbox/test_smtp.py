"""The SMTP session's cheap address path answers exactly as aiosmtpd's own parser."""

from __future__ import annotations

import asyncio

import pytest
from aiosmtpd.handlers import Sink
from aiosmtpd.smtp import SMTP

from kafka_restaurants.mailbox.smtp import InboxSMTP

ARGS = [
    "<ann@example.com>",
    "<ann@example.com> SIZE=4096",
    " <ann@example.com>  SIZE=100 BODY=8BITMIME",
    "<a.b-c+d@x-y.example.com>",
    "<A@B.COM>\t x",
    "<ann@example.com> ",
    "<ann@example.com>SIZE=1",
    "ann@example.com",
    "<>",
    "",
    "<@relay.example.com:ann@example.com>",
    '<"quoted local"@example.com>',
    "<ann@[127.0.0.1]>",
    "<ann@example.com> (comment) SIZE=1",
    "<<<>>>",
    "<ann@example.com",
]


@pytest.mark.parametrize("arg", ARGS)
def test_getaddr_matches_aiosmtpd(arg: str) -> None:
    async def both() -> tuple[object, object]:
        loop = asyncio.get_running_loop()
        ours = InboxSMTP(Sink(), loop=loop)
        theirs = SMTP(Sink(), loop=loop)
        return ours._getaddr(arg), theirs._getaddr(arg)

    ours, theirs = asyncio.run(both())
    assert ours == theirs
