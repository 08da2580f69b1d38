"""Ids as clients write them."""


def record_id(value: object) -> int | None:
    """An id as a client wrote it: plain ASCII digits only ("²" and "1_0" are not ids), else None."""
    text = str(value).strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None
