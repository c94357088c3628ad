"""The one exception type for bad user input, with a message in one shape.

Every upload, CLI or importer problem becomes an ``InputError`` whose ``str()`` is a single line:
``<file>: <where>: <what is wrong> (got <received>). <how to fix it>``. The UI and the CLI show that
line and nothing else; internal bugs raise ordinary exceptions.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: says what is wrong, where, what was received and how to fix it."""

    def __init__(
        self,
        problem: str,
        *,
        source: str | None = None,
        column: str | None = None,
        row: int | None = None,
        received: object = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.source = source
        self.column = column
        self.row = row
        self.received = received
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = []
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        parts = []
        if self.source:
            parts.append(f"{self.source}:")
        if where:
            parts.append(", ".join(where) + ":")
        text = self.problem
        if self.received is not None:
            shown = repr(self.received) if isinstance(self.received, str) else str(self.received)
            if len(shown) > 60:
                shown = shown[:57] + "..."
            text += f" (got {shown})"
        parts.append(text + ".")
        if self.fix:
            parts.append(self.fix.rstrip(".") + ".")
        return " ".join(parts)

    def with_source(self, source: str) -> InputError:
        """Return a copy that names ``source`` (a file name) when it did not name one yet."""
        if self.source:
            return self
        return InputError(
            self.problem,
            source=source,
            column=self.column,
            row=self.row,
            received=self.received,
            fix=self.fix,
        )
