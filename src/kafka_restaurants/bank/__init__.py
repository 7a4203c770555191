"""The mocked card processor: token vault, idempotent charges, test cards, injected faults."""
