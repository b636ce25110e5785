"""Unity Catalog names as the tasks take them: light enough for the task interfaces."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.common.errors import UsageError

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class TableName:
    """A three-level ``catalog.schema.table`` name."""

    catalog: str
    schema: str
    table: str

    @classmethod
    def parse(cls, text: str) -> TableName:
        parts = text.split(".")
        if len(parts) != 3 or not all(_IDENTIFIER.match(p) for p in parts):
            raise UsageError(
                f"'{text}' is not a fully qualified table name: expected catalog.schema.table,"
                " three identifiers of letters, digits and underscores"
                " (locally the catalog is spark_catalog, e.g. spark_catalog.mlops.trips)."
            )
        return cls(*parts)

    def sibling(self, table: str) -> TableName:
        return TableName(self.catalog, self.schema, table)

    @property
    def schema_name(self) -> str:
        return f"{self.catalog}.{self.schema}"

    def __str__(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.table}"
