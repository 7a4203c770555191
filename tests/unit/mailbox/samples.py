"""Raw messages for the mailbox tests, built as a mail client would build them."""

from __future__ import annotations

from email.message import EmailMessage


def build_message(
    *,
    subject: str = "Your order is confirmed",
    sender: str = "Kafka Restaurants <orders@kafka-restaurants.local>",
    to: str = "Ann Example <ann@example.com>",
    cc: str | None = None,
    text: str | None = "Hello Ann,\nyour order total is 12.50 EUR.",
    html: str | None = "<p>Hello <b>Ann</b>,</p><p>your order total is 12.50 EUR.</p>",
    message_id: str = "<order-1@kafka-restaurants.local>",
    attachment: bytes | None = None,
) -> bytes:
    """A message as a mail client would send it: multipart/alternative when both parts exist."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["Date"] = "Tue, 03 Mar 2026 10:15:00 +0100"
    if text is not None:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    if attachment is not None:
        message.add_attachment(
            attachment, maintype="application", subtype="pdf", filename="receipt.pdf"
        )
    return message.as_bytes()
