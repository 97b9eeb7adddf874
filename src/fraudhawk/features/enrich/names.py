"""Person names: real names are a few alphabetic words; digits and symbols suggest keyboard mashing."""

from __future__ import annotations

from fraudhawk.features.enrich.base import Enricher, Value, flag, numeric

OUTPUTS = numeric(
    name_tokens="words in the name",
    name_length="length of the name",
    name_has_digits="whether the name has digits",
    name_non_alpha_share="share of the name that is not letters",
)


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
