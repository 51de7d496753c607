"""The source a load registers in ``sources``: who publishes the data, under which licence,
at which grain (an adapter declares one; the CLI's ``--source-*`` options override it)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    source_id: str
    name: str
    domain: str
    licence: str
    description: str
    # the finest period its figures describe: 'hour' for timestamped records, 'day' for daily
    # totals, 'month' for monthly ones. Metrics on its table publish no finer grain.
    grain: str = "hour"
    publisher: str | None = None   # who publishes it (a department, a city): named on the public site

    def register(self, con) -> None:
        con.execute(
            "INSERT OR REPLACE INTO sources (source_id, name, domain, simulated, licence, description, grain, "
            "publisher) VALUES ($id, $name, $domain, false, $licence, $desc, $grain, $publisher)",
            {"id": self.source_id, "name": self.name, "domain": self.domain,
             "licence": self.licence, "desc": self.description, "grain": self.grain, "publisher": self.publisher},
        )

    def with_overrides(self, **kw) -> "Source":
        values = {k: v for k, v in kw.items() if v}
        return Source(**{**self.__dict__, **values})

