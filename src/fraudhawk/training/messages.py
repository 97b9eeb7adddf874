"""Training diagnostics in AFD's dataValidationMetrics shape, with AFD's severities.

An ERROR stops training, a WARNING means training goes on but something (often a variable) was left
out, an INFO changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Messages:
    file_level: list[dict[str, str]] = field(default_factory=list)
    field_level: list[dict[str, str]] = field(default_factory=list)

    def _file(self, kind: str, title: str, content: str) -> None:
        self.file_level.append({"title": title, "content": content, "type": kind})

    def _field(self, kind: str, name: str, title: str, content: str) -> None:
        self.field_level.append(
            {"fieldName": name, "identifier": f"{name}:{title}", "title": title, "content": content, "type": kind}
        )

    def file_error(self, title: str, content: str) -> None:
        self._file("ERROR", title, content)

    def file_warning(self, title: str, content: str) -> None:
        self._file("WARNING", title, content)

    def file_info(self, title: str, content: str) -> None:
        self._file("INFO", title, content)

    def field_error(self, name: str, title: str, content: str) -> None:
        self._field("ERROR", name, title, content)

    def field_warning(self, name: str, title: str, content: str) -> None:
        self._field("WARNING", name, title, content)

    def field_info(self, name: str, title: str, content: str) -> None:
        self._field("INFO", name, title, content)

    @property
    def has_errors(self) -> bool:
        return any(m["type"] == "ERROR" for m in (*self.file_level, *self.field_level))

    def errors(self) -> list[str]:
        return [m["content"] for m in (*self.file_level, *self.field_level) if m["type"] == "ERROR"]

    def to_wire(self) -> dict[str, Any]:
        return {"fileLevelMessages": list(self.file_level), "fieldLevelMessages": list(self.field_level)}
