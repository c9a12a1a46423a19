"""Domain errors. Each names the field, the value and the rule it broke."""

from __future__ import annotations


class ContractError(ValueError):
    """Input that breaks the data contract (a file-level problem, or one patient)."""

    def __init__(
        self,
        message: str,
        *,
        column: str | None = None,
        value: object = None,
        rule: str | None = None,
    ) -> None:
        super().__init__(message)
        self.column = column
        self.value = value
        self.rule = rule


class MissingColumnError(ContractError):
    """A required column is absent from a table: the whole file is rejected."""

    def __init__(self, columns: list[str]) -> None:
        names = ", ".join(columns)
        super().__init__(
            f"missing required column(s): {names} (every column of the data contract but "
            "patient_id, months_since_tki and the inputs that may be unknown must be present)",
            column=columns[0],
            rule="required column",
        )
        self.columns = columns
