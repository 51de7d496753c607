"""What the district profile's page and its callbacks share: the records download route and
the columns of its two grids (here in data/, so the callbacks never import the page)."""

RECORDS_EXPORT = "/district/<district_id>/requests.csv"  # every request of the district, streamed
FACILITY_COLUMNS = {"facility_id": "Facility", "name": "Name", "kind": "Kind", "capacity": "Capacity",
                    "occupied": "Occupied", "occupancy_pct": "Occupancy %", "last_reading": "Last reading"}
RECORD_COLUMNS = {"request_id": "Request", "created_at": "Created", "closed_at": "Closed", "due_at": "Due",
                  "category": "Category", "channel": "Channel", "status": "Status"}
