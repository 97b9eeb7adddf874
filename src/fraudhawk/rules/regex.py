"""regex_match's engine: RE2 (linear time, so no pattern can hang the scorer), full-string semantics.

AFD documents Java's `Matcher.matches()` on RE2J: the whole text must match, so `"^mystring"` only
matches "mystring" exactly and `".*@gmail\\.com"` matches any text ending in @gmail.com.

google-re2's public `fullmatch` builds a Match object through a generator (about 3 us a call); the
compiled RE2 object it wraps answers an anchored match directly in well under 1 us, so we call that
when it is there and fall back to the public method otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a bad pattern is reported to the rule's author, not to stderr
_OPTIONS.never_capture = True  # only "does it match" is asked


def full_matcher(pattern: str) -> Callable[[str], bool]:
    """A predicate telling whether a whole string matches `pattern`; re2.error if the pattern is invalid."""
    compiled = re2.compile(pattern, _OPTIONS)
    raw: Any = getattr(compiled, "_regexp", None)
    anchor: Any = getattr(getattr(raw, "Anchor", None), "ANCHOR_BOTH", None)
    if anchor is not None and hasattr(raw, "Match"):
        match = raw.Match

        def fast(text: str) -> bool:
            data = text.encode("utf-8")
            return bool(match(anchor, data, 0, len(data))[0][0] >= 0)

        return fast

    def portable(text: str) -> bool:
        return compiled.fullmatch(text) is not None

    return portable


def error_message(error: Exception) -> str:
    """re2 reports problems as bytes; show them as text."""
    detail = error.args[0] if error.args else str(error)
    return detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
