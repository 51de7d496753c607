"""The raw tables the demo writes: each table's source and its INSERT from an Arrow chunk. The
build and the live feed append through ``insert`` alone."""
from __future__ import annotations

import pyarrow as pa

# Every table with a source_id → that source (warehouse.DEMO_SOURCES).
TABLE_SOURCE = {
    "bike_stations": "demo_bike_status",
    "parking_facilities": "demo_parking",
    "bike_trips": "demo_bikeshare",
    "bike_station_status": "demo_bike_status",
    "transit_ridership": "demo_transit",
    "traffic_counts": "demo_traffic",
    "waste_tonnage": "demo_waste",
    "bin_fill": "demo_bins",
    "parking_occupancy": "demo_parking",
    "parking_citations": "demo_citations",
    "service_requests": "demo_311",
    "satisfaction_responses": "demo_survey",
}

# INSERT ... SELECT from a registered Arrow chunk ``_chunk``; $batch is the load batch.
INSERT_SQL = {
    "bike_trips": "INSERT INTO bike_trips SELECT started_at, ended_at, station_id, district_id, "
                  "rider_type, 'demo_bikeshare', $batch FROM _chunk",
    "bike_station_status": "INSERT INTO bike_station_status SELECT ts, station_id, district_id, capacity, "
                           "bikes_available, docks_available, 'demo_bike_status', $batch FROM _chunk",
    "transit_ridership": "INSERT INTO transit_ridership SELECT day, district_id, mode, riders, "
                         "baseline_riders, 'demo_transit', $batch FROM _chunk",
    "traffic_counts": "INSERT INTO traffic_counts SELECT ts, segment_id, district_id, volume, "
                      "free_flow_kmh, speed_kmh, 'demo_traffic', $batch FROM _chunk",
    "waste_tonnage": "INSERT INTO waste_tonnage SELECT day, district_id, stream, tons, 'demo_waste', "
                     "$batch FROM _chunk",
    "bin_fill": "INSERT INTO bin_fill SELECT ts, bin_id, district_id, fill_pct, 'demo_bins', $batch FROM _chunk",
    "parking_occupancy": "INSERT INTO parking_occupancy SELECT ts, facility_id, district_id, capacity, "
                         "occupied, 'demo_parking', $batch FROM _chunk",
    "parking_citations": "INSERT INTO parking_citations SELECT issued_at, district_id, violation_code, fine, "
                         "'demo_citations', $batch FROM _chunk",
    "service_requests": "INSERT INTO service_requests SELECT 'SR' || lpad(CAST(rid AS VARCHAR), 9, '0'), "
                        "created_at, closed_at, due_at, district_id, category, channel, "
                        "CASE WHEN closed_at IS NULL THEN 'open' ELSE 'closed' END, lat, lon, description, "
                        "'demo_311', $batch FROM _chunk",
    "satisfaction_responses": "INSERT INTO satisfaction_responses SELECT responded_at, "
                              "'SR' || lpad(CAST(rid AS VARCHAR), 9, '0'), district_id, category, score, "
                              "'demo_survey', $batch FROM _chunk",
}


def insert(con, table: str, data: pa.Table, batch_id: int) -> int:
    """Append an Arrow chunk to a raw table (constants source_id and batch_id added in SQL)."""
    if data.num_rows == 0:
        return 0
    con.register("_chunk", data)
    try:
        con.execute(INSERT_SQL[table], {"batch": batch_id})
    finally:
        con.unregister("_chunk")
    return data.num_rows
