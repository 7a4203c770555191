"""Unit tests of the development mailbox."""
