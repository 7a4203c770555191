"""The bench's mailbox poller sees every message even while mail keeps arriving."""

from __future__ import annotations

import httpx

from kafka_restaurants.bench.orders_load import Mailbox


class ShiftingInbox:
    """A newest-first listing where `arrivals` new messages land before each later request."""

    def __init__(self, count: int, arrivals: int) -> None:
        self.messages = [self._message(i) for i in range(count)][::-1]
        self.next_id = count
        self.arrivals = arrivals
        self.requests = 0

    def _message(self, number: int) -> dict[str, object]:
        return {
            "ID": f"m{number}",
            "Created": "2026-11-26T12:00:00Z",
            "To": [{"Address": f"customer-{number}@bench.test"}],
        }

    def arrive(self, count: int) -> None:
        for _ in range(count):
            self.messages.insert(0, self._message(self.next_id))
            self.next_id += 1

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.requests:
            self.arrive(self.arrivals)
        self.requests += 1
        start = int(request.url.params["start"])
        limit = int(request.url.params["limit"])
        return httpx.Response(200, json={"messages": self.messages[start : start + limit]})


async def test_pages_shifted_by_new_mail_do_not_end_the_poll_early() -> None:
    inbox = ShiftingInbox(count=300, arrivals=5)
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(inbox.handle), base_url="http://mailbox"
    ) as client:
        mailbox = Mailbox(client, "bench.test", first_page=50)
        assert await mailbox.poll() == 300  # the 300 that were there when the poll began...
        assert all(mailbox.count(f"customer-{i}@bench.test") == 1 for i in range(300))
        inbox.arrivals = 0
        before_second = inbox.next_id
        assert await mailbox.poll() == before_second - 300  # ...and the rest on the next one
        assert len(mailbox.seen_ids) == before_second
