"""Saying why data failed validation without repeating the data.

pydantic's own rendering of a ValidationError quotes each rejected `input_value`: for an order
event that is the customer's email, name and address. Anything that leaves the process (a
dead-letter header, a log line, a span) describes the error with this module instead.
"""

from __future__ import annotations

from pydantic import ValidationError

# Enough to find what is wrong; a message with hundreds of bad lines says so in one header.
MAX_PROBLEMS = 10
_MAX_PART = 64


def _path(location: tuple[int | str, ...]) -> str:
    if not location:
        return "(whole value)"
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            # Field names come from the message too (an unknown key is named); keep them short.
            name = part[:_MAX_PART]
            path += f".{name}" if path else name
    return path


def describe_validation_error(error: ValidationError) -> str:
    """Field paths and error types of `error`, e.g. `order.customer.email: value_error`;
    never the values that failed."""
    problems = error.errors(include_url=False, include_context=False, include_input=False)
    described = [f"{_path(problem['loc'])}: {problem['type']}" for problem in problems]
    if len(described) > MAX_PROBLEMS:
        more = len(described) - MAX_PROBLEMS
        described = [*described[:MAX_PROBLEMS], f"and {more} more"]
    return "; ".join(described)
