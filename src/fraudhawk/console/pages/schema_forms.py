"""What the schema pages share: checking a planned request against AFD's contract before anything is
saved, and reading lists of names typed into one field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fraudhawk.console.web import Form
from fraudhawk.errors import FraudhawkError
from fraudhawk.service import contract


def checked(form: Form, operation: str, params: Mapping[str, Any], fields: Mapping[str, str]) -> bool:
    """Whether `params` meets `operation`'s contract; if not, AFD's message goes next to the field it names."""
    try:
        contract.validate_input(operation, dict(params))
    except FraudhawkError as error:
        form.refuse(error, fields)
        return False
    return True


def names_in(text: str) -> list[str]:
    """Names typed into one field, separated by commas, spaces or new lines, each once, in order."""
    return list(dict.fromkeys(part for part in re.split(r"[\s,]+", text) if part))


def lines_in(text: str) -> list[str]:
    """List elements typed one per line (blank lines dropped; a list's elements are trimmed, as AFD's)."""
    return list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))


def described(params: dict[str, Any], description: str) -> dict[str, Any]:
    """`params` with the description when one was given (AFD refuses an empty description)."""
    if description.strip():
        params["description"] = description.strip()
    return params
