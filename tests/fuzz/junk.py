"""What a hostile client sends: values near the valid ones and values far from them, drawn from a seeded
random.Random so that a failing request can be replayed (FUZZ_SEED, tests/conftest.py)."""

import json
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

# Text a client can type or a script can send; each is refused or taken by the panel, never a crash.
AWKWARD = [
    "",
    " ",
    "\t\r\n",
    "0",
    "-1",
    "1.5",
    "1e999",
    "NaN",
    "Infinity",
    "undefined",
    "null",
    "true",
    "[]",
    "{}",
    "١٢٣",  # Arabic-Indic digits
    "１００",  # full-width digits
    "²",
    "1_000",
    "0x10",
    "9" * 19,
    "9" * 5000,
    "-" + "9" * 30,
    "%s %(x)s {0} {}",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "&lt;&#0;",
    "a\x00b",
    "\x00",
    "\x7f\x1b[31m",
    "\u200b\u200e\u202e",
    "\ufeff",
    "𝓤𝓷𝓲",
    "👍🏽",
    "\ud800",  # a lone surrogate: only JSON can carry one (\\ud800); other encodings get its replacement
    "x\udfffy",
    "http://[::1",
    "https://[]",
    "http://]x.com[/",
    "https://x.com/p?a=[",
    "http://[fe80::1%25eth0]/p",
    "https://instagram.com/p/abc",
    "instagram.com/abc",
    "https://x.com/" + "a" * 3000,
    "javascript:alert(1)",
    "ftp://x.com/a",
    "https://.com",
    "https://x..com",
    "https://x.com:99999/",
    "https://user:pa@ss@x.com/",
    "https://xn--80ak6aa92e.com",
    "https://пример.рф/путь",
    "1,2,3",
    ",,,",
    ",".join(str(n) for n in range(1, 150)),
    "a" * 65,
    "k" * 64,
]
# Far away: raw bytes are below, in junk_body.
LONG = "long"


def junk_text(rnd: random.Random) -> str:
    """One awkward value, a random string, or a piece of both."""
    pick = rnd.random()
    if pick < 0.55:
        return rnd.choice(AWKWARD)
    if pick < 0.8:
        alphabet = [chr(rnd.randrange(0x20, 0x7F)) for _ in range(8)] + ["\x00", "\n", "é", "漢", "\ud83d", "🙂"]
        return "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 40)))
    if pick < 0.97:
        return rnd.choice(AWKWARD) + rnd.choice(AWKWARD)
    return rnd.choice(["x", "1", "\x00", "é"]) * rnd.choice([10_000, 200_000])


def junk_json_value(rnd: random.Random, depth: int = 0) -> Any:
    """A value of any JSON type, strings mostly awkward."""
    pick = rnd.random()
    if pick < 0.5 or depth > 2:
        return junk_text(rnd)
    if pick < 0.6:
        return rnd.choice([0, 1, -1, 10**40, -(10**40), 2**63, 1.5, -0.0, 1e308])
    if pick < 0.7:
        return rnd.choice([True, False, None])
    if pick < 0.85:
        return [junk_json_value(rnd, depth + 1) for _ in range(rnd.randrange(0, 5))]
    return {junk_text(rnd): junk_json_value(rnd, depth + 1) for _ in range(rnd.randrange(0, 4))}


def junk_body(rnd: random.Random) -> bytes:
    """Bytes that are rarely a request: random, truncated JSON, deep nesting, multipart pieces."""
    pick = rnd.random()
    if pick < 0.3:
        return rnd.randbytes(rnd.randrange(0, 4000))
    if pick < 0.45:
        return b'{"key": "' + rnd.randbytes(rnd.randrange(0, 50)) + b'", "action": ['
    if pick < 0.55:
        return b"[" * rnd.choice([10, 5000, 200_000])
    if pick < 0.65:
        return b'{"a":' * rnd.choice([10, 5000, 100_000])
    if pick < 0.8:
        header = b"A: " + b"b" * rnd.choice([10, 20_000]) + b"\r\n"
        return b"--xx\r\n" + header + b"\r\n" + rnd.randbytes(rnd.randrange(0, 200)) + b"\r\n--xx--\r\n"
    if pick < 0.9:
        return b"\xef\xbb\xbf" + json.dumps({"action": "balance"}).encode() + rnd.randbytes(3)
    return b"%" + rnd.randbytes(20) + b"=&&=" + b"%ZZ%ed%a0%80=1"


CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=latin-1",
    "application/x-www-form-urlencoded; charset=nonsense",
    "multipart/form-data; boundary=xx",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=" + "b" * 300,
    "application/json",
    "application/json; charset=utf-16",
    "text/plain",
    "text/html",
    "application/xml",
    "application/octet-stream",
    "",
    "image/png",
    ";;;",
]


def mutated(
    rnd: random.Random,
    valid: Mapping[str, Any],
    names: Sequence[str],
    *,
    near: Callable[[str], Any] | None = None,
) -> dict[str, Any]:
    """The valid parameters with a few changed: a value replaced by junk (or by `near(name)`, a value close to a
    valid one), a parameter dropped, another added."""
    params = dict(valid)
    for _ in range(rnd.choice([0, 1, 1, 1, 2, 2, 3])):
        name = rnd.choice(list(names))
        change = rnd.random()
        if change < 0.15:
            params.pop(name, None)
        elif change < 0.35 and near is not None:
            params[name] = near(name)
        else:
            params[name] = junk_text(rnd)
    if rnd.random() < 0.1:
        params[junk_text(rnd)[:40] or "extra"] = junk_text(rnd)
    return params


def form_safe(params: Mapping[str, Any]) -> dict[str, str]:
    """Values as a form or a query string carries them: text only; a lone surrogate cannot be written in UTF-8,
    so it goes out as its replacement (what a browser would send)."""
    return {
        str(name).encode("utf-8", "replace").decode(): str(value).encode("utf-8", "replace").decode()
        for name, value in params.items()
    }
