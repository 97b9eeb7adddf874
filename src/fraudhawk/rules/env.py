"""What an expression may refer to: the event type's variables and the lists that exist."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RuleEnv:
    """`variables`: name -> data type (STRING, INTEGER, FLOAT, BOOLEAN, DATETIME), including model score
    and external model output variables. `lists`: name -> the list's variableType (may be ""); only
    lists that exist. Names are without the $ / @ sigils."""

    variables: Mapping[str, str]
    lists: Mapping[str, str] = field(default_factory=dict)
