"""Which SMTP failures keep the mail for a retry and which are final."""

from __future__ import annotations

import smtplib

import pytest

from kafka_restaurants.mailer.smtp import classify_connect_error, classify_send_error


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError("timed out"),
        TimeoutError("timed out"),
        smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
        smtplib.SMTPConnectError(554, b"no service"),
        smtplib.SMTPRecipientsRefused({"a@example.com": (450, b"mailbox busy")}),
        smtplib.SMTPRecipientsRefused({"a@example.com": (421, b"closing channel")}),
        smtplib.SMTPDataError(451, b"local error in processing"),
        smtplib.SMTPSenderRefused(553, b"sender not allowed", "orders@example.com"),
        smtplib.SMTPSenderRefused(451, b"try later", "orders@example.com"),
        smtplib.SMTPAuthenticationError(535, b"bad credentials"),
        smtplib.SMTPHeloError(501, b"bad helo"),
        smtplib.SMTPException("STARTTLS extension not supported by server"),
    ],
)
def test_transient_failures_are_retried(error: Exception) -> None:
    failure = classify_send_error(error)
    assert not failure.permanent
    assert failure.reason


@pytest.mark.parametrize(
    "error",
    [
        smtplib.SMTPRecipientsRefused({"nobody@example.com": (550, b"no such user")}),
        smtplib.SMTPRecipientsRefused({"x@example.com": (553, b"mailbox name not allowed")}),
        smtplib.SMTPDataError(554, b"message rejected as spam"),
        smtplib.SMTPNotSupportedError("SMTPUTF8 not supported by server"),
    ],
)
def test_permanent_refusals_are_final(error: Exception) -> None:
    assert classify_send_error(error).permanent


def test_reason_names_the_recipient_and_reply() -> None:
    error = smtplib.SMTPRecipientsRefused({"nobody@example.com": (550, b"5.1.1 no such user")})
    assert classify_send_error(error).reason == (
        "recipient refused: nobody@example.com: 550 5.1.1 no such user"
    )


def test_mixed_recipient_replies_are_not_final() -> None:
    error = smtplib.SMTPRecipientsRefused(
        {"a@example.com": (550, b"no such user"), "b@example.com": (452, b"try later")}
    )
    assert not classify_send_error(error).permanent


@pytest.mark.parametrize(
    "error",
    [
        smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server."),
        smtplib.SMTPAuthenticationError(535, b"bad credentials"),
        smtplib.SMTPConnectError(554, b"no service"),
        ConnectionRefusedError(111, "Connection refused"),
    ],
)
def test_session_setup_failures_are_always_retried(error: Exception) -> None:
    failure = classify_connect_error(error)
    assert not failure.permanent
    assert failure.reason.startswith("cannot open an SMTP session")
