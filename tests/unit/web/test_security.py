"""CSRF tokens and the security headers policy."""

from kafka_restaurants.web.orders import decline_explanation, is_terminal, status_word
from kafka_restaurants.web.security import CONTENT_SECURITY_POLICY, CsrfTokens


def test_csrf_token_matches_only_its_cookie_and_secret() -> None:
    tokens = CsrfTokens("secret")
    cookie = tokens.new_cookie_value()
    token = tokens.form_token(cookie)
    assert tokens.is_valid(cookie, token)
    assert not tokens.is_valid(tokens.new_cookie_value(), token)
    assert not tokens.is_valid(cookie, token[:-1] + ("0" if token[-1] != "0" else "1"))
    assert not tokens.is_valid(cookie, None)
    assert not tokens.is_valid(None, token)
    assert not CsrfTokens("other secret").is_valid(cookie, token)


def test_csp_forbids_inline_scripts_and_framing() -> None:
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert directives["frame-ancestors"] == "'none'"


def test_status_words_and_decline_reasons() -> None:
    assert [status_word(s) for s in ("pending", "confirmed", "declined", "failed")] == [
        "Pending",
        "Confirmed",
        "Declined",
        "Failed",
    ]
    assert is_terminal("declined") and not is_terminal("pending")
    assert "declined" in decline_explanation("card_declined", None)
    assert "funds" in decline_explanation("insufficient_funds", "whatever")
    assert decline_explanation("new_code", "bank says no") == "Bank says no."
    assert decline_explanation(None, None) == "The payment was declined."
