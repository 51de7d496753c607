"""What the district profile's page and its callbacks share: the records download route and
the columns of its two grids (here in data/, so the callbacks never import the page)."""

RECORDS_EXPORT = "/district/<district_id>/requests.csv"  # the district's requests (?category=), streamed
SERIES_EXPORT = "/district/<district_id>/series"  # + .csv / .xlsx ?metric=&grain=: the trend on screen
FACILITY_COLUMNS = {"facility_id": "Facility", "name": "Name", "kind": "Kind", "capacity": "Capacity",
                    "occupied": "Occupied", "occupancy_pct": "Occupancy %", "last_reading": "Last reading"}
RECORD_COLUMNS = {"request_id": "Request", "created_at": "Created", "closed_at": "Closed", "due_at": "Due",
                  "category": "Category", "channel": "Channel", "status": "Status", "overdue": "Overdue"}


CHOOSER = "/district"  # the signed-in caller's districts (several, or every district)


def my_district_path(principal) -> str:
    """Where "My district" leads: an official of one district to that district's page, anyone
    else (several districts, or every district) to the chooser of their districts."""
    districts = getattr(principal, "districts", None)
    if isinstance(districts, frozenset) and len(districts) == 1:
        return f"/district/{next(iter(districts))}"
    return CHOOSER


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def rank_text(metric, shown, row) -> tuple[str | None, str]:
    """(the rank among all districts, or None, and why not) of one KPI card's number.

    `shown`: the card's facts (data.facts.Facts); `row`: the card's line of
    ``queries/ops/district_rank_all.sql`` (a mapping, or None). A rank needs a complete period,
    a value, and at least the metric's ``min_n`` records behind the district's figure."""
    if shown.period is None:
        return None, "no rank: no complete period yet"
    if shown.partial:
        return None, "no rank: the period is still running"
    if shown.value is None or row is None or row.get("value_rank") is None or row.get("value_rank") != row.get("value_rank"):
        return None, "no rank: no value for this period"
    if shown.n < metric.min_n:
        return None, f"no rank: too few records (n={shown.n:,} < {metric.min_n})"
    ranked, districts = int(row["ranked"]), int(row["districts"])
    of = f"{ranked} districts" if ranked == districts else f"{ranked} districts with a value ({districts} in all)"
    better = "higher is better" if metric.direction == "higher" else "lower is better"
    return f"{place(row, of)} · n = {shown.n:,} · {better}", ""


def place(row, of: str = "") -> str:
    """"3rd highest [of …]", or for a value several districts share, a shared place, not one of
    its own: "joint 12th highest of 59 districts, with 30 others" (thirty-one districts had no
    missed collection that day). `row` holds value_rank and value_ties."""
    ties = row.get("value_ties")
    ties = int(ties) if ties is not None and ties == ties else 1
    text = ("joint " if ties > 1 else "") + f"{ordinal(int(row['value_rank']))} highest" + (f" of {of}" if of else "")
    return text + (f", with {ties - 1:,} other{'s' if ties > 2 else ''}" if ties > 1 else "")
