"""Integration tests of the development mailbox: the real server over SMTP and HTTP."""
