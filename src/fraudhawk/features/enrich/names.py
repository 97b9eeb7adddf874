"""Person names: real names are a few alphabetic words; digits and symbols suggest keyboard mashing."""

from __future__ import annotations

from fraudhawk.features.enrich.base import Enricher, Value, flag, numeric

OUTPUTS = numeric("name_tokens", "name_length", "name_has_digits", "name_non_alpha_share")


def derive(value: str) -> tuple[Value, ...]:
    tokens = value.split()
    visible = "".join(tokens)
    return (
        float(len(tokens)),
        float(len(value)),
        flag(any(map(str.isdigit, visible))),
        (len(visible) - sum(map(str.isalpha, visible))) / len(visible),
    )


ENRICHER = Enricher("name", OUTPUTS, derive)
