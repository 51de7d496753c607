-- CityOps warehouse schema (the one read-write DuckDB file, var/warehouse.duckdb).
-- Every raw fact row carries its district_id, its source_id and its load batch_id.
-- Timestamps are naive UTC-free "city local time" TIMESTAMPs.
--
-- A fact table is declared by the comment line just above its CREATE TABLE, and nowhere else
-- (data/warehouse.py reads these lines: TABLES):
--   -- raw table, dated by <column>              metrics read it; publish dates it (table_data_times);
--                                                 a load batch's rows are found and replaced by batch_id
--   -- raw table, dated by <column> and <column> also changed later by the second (a request's closing)
--   -- batch table, dated by <column>            loaded and replaced by batch only (no metric reads it)
-- A DATE column dates a row for its whole day (or its source's month or week: sources.grain).

CREATE SEQUENCE IF NOT EXISTS batch_seq START 1;

CREATE TABLE IF NOT EXISTS districts (
    district_id   VARCHAR PRIMARY KEY,     -- e.g. '301' (NYC BoroCD) or a city's own key
    name          VARCHAR NOT NULL,        -- 'Brooklyn CD 1'
    borough       VARCHAR NOT NULL,        -- area / borough name
    population    INTEGER,                 -- residents (denominator for per-1,000 views)
    area_km2      DOUBLE,
    geometry      VARCHAR NOT NULL,        -- simplified GeoJSON geometry (lon/lat)
    is_joint_area BOOLEAN NOT NULL DEFAULT false  -- parks/airports: no resident population
);

CREATE TABLE IF NOT EXISTS sources (
    source_id   VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL,
    domain      VARCHAR NOT NULL,          -- transport / waste / parking / satisfaction / geography
    simulated   BOOLEAN NOT NULL,          -- true for the demo generator and live feed
    licence     VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    grain       VARCHAR NOT NULL DEFAULT 'hour'  -- finest period its figures describe: hour / day / week / month
);
-- warehouses created before sources had a grain
ALTER TABLE sources ADD COLUMN IF NOT EXISTS grain VARCHAR DEFAULT 'hour';
-- who publishes the source (a department, a city), from a YAML mapping's source.publisher
ALTER TABLE sources ADD COLUMN IF NOT EXISTS publisher VARCHAR;

CREATE TABLE IF NOT EXISTS load_batches (
    batch_id         BIGINT PRIMARY KEY,
    source_id        VARCHAR NOT NULL,
    file             VARCHAR,
    started_at       TIMESTAMP NOT NULL,
    finished_at      TIMESTAMP,
    rows_read        BIGINT,
    rows_loaded      BIGINT,
    rows_quarantined BIGINT,
    status           VARCHAR NOT NULL      -- running / ok / failed
);
-- warehouses from before batches recorded their process (and a failure's cause)
ALTER TABLE load_batches ADD COLUMN IF NOT EXISTS pid INTEGER;
ALTER TABLE load_batches ADD COLUMN IF NOT EXISTS host VARCHAR;
ALTER TABLE load_batches ADD COLUMN IF NOT EXISTS message VARCHAR;

CREATE TABLE IF NOT EXISTS quarantine (
    batch_id  BIGINT,
    source_id VARCHAR,
    file      VARCHAR,
    line_no   BIGINT,
    reason    VARCHAR NOT NULL,
    raw       VARCHAR,                     -- JSON: the source values of the fields the rule judged only
    district_id VARCHAR                    -- when the row's district is known (scopes who may see it)
);
ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS district_id VARCHAR;

-- Events shown on time series: storms, outages, strikes (demo) and officials' notes (later).
CREATE TABLE IF NOT EXISTS incidents (
    incident_id VARCHAR PRIMARY KEY,
    kind        VARCHAR NOT NULL,          -- storm / sensor_outage / strike / note
    title       VARCHAR NOT NULL,
    domain      VARCHAR,                   -- affected domain, NULL = all
    district_id VARCHAR,                   -- NULL = citywide
    starts_at   TIMESTAMP NOT NULL,
    ends_at     TIMESTAMP NOT NULL,
    simulated   BOOLEAN NOT NULL
);

-- Demo ground truth for the alert benchmark (bench/alerts.py): what was injected where, and how
-- big. Never copied into a snapshot: the detector and the operators must find these from data.
CREATE TABLE IF NOT EXISTS labelled_incidents (
    incident_id    VARCHAR PRIMARY KEY,
    kind           VARCHAR NOT NULL,       -- surge / parking_surge / parking_drift / parking_outage
    district_id    VARCHAR NOT NULL,
    starts_at      TIMESTAMP NOT NULL,
    ends_at        TIMESTAMP NOT NULL,
    metrics        VARCHAR[] NOT NULL,     -- metric ids affected
    size           DOUBLE NOT NULL,        -- see size_unit
    size_unit      VARCHAR NOT NULL,
    small_district BOOLEAN NOT NULL
);

-- ---------------------------------------------------------------- transport
CREATE TABLE IF NOT EXISTS bike_stations (
    station_id  VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL,
    district_id VARCHAR NOT NULL,
    lat DOUBLE, lon DOUBLE,
    capacity    INTEGER NOT NULL,
    source_id   VARCHAR NOT NULL
);
-- raw table, dated by started_at
CREATE TABLE IF NOT EXISTS bike_trips (
    started_at TIMESTAMP NOT NULL, ended_at TIMESTAMP NOT NULL,
    start_station_id VARCHAR, district_id VARCHAR NOT NULL,
    rider_type VARCHAR,                    -- member / casual
    source_id VARCHAR NOT NULL, batch_id BIGINT
);
-- raw table, dated by ts
CREATE TABLE IF NOT EXISTS bike_station_status (
    ts TIMESTAMP NOT NULL, station_id VARCHAR NOT NULL, district_id VARCHAR NOT NULL,
    capacity INTEGER NOT NULL, bikes_available INTEGER NOT NULL, docks_available INTEGER NOT NULL,
    source_id VARCHAR NOT NULL, batch_id BIGINT
);
-- raw table, dated by day
CREATE TABLE IF NOT EXISTS transit_ridership (
    day DATE NOT NULL, district_id VARCHAR NOT NULL, mode VARCHAR NOT NULL,   -- subway / bus
    riders BIGINT NOT NULL, baseline_riders BIGINT,   -- comparable pre-period day
    source_id VARCHAR NOT NULL, batch_id BIGINT
);
-- raw table, dated by ts
CREATE TABLE IF NOT EXISTS traffic_counts (
    ts TIMESTAMP NOT NULL, segment_id VARCHAR NOT NULL, district_id VARCHAR NOT NULL,
    volume INTEGER NOT NULL, free_flow_kmh DOUBLE, speed_kmh DOUBLE,
    source_id VARCHAR NOT NULL, batch_id BIGINT
);

-- Data published for the whole city only (e.g. NYC MTA ridership, DOT counts keyed by borough).
-- raw table, dated by day
CREATE TABLE IF NOT EXISTS transit_ridership_city (   -- operators that publish citywide totals only
    day DATE NOT NULL, mode VARCHAR NOT NULL,          -- subway / bus / lirr / ...
    riders BIGINT NOT NULL,                            -- riders, trips or vehicles: see unit
    unit VARCHAR NOT NULL,                             -- riders / trips / vehicles
    baseline_pct DOUBLE,                               -- % of the comparable pre-period day
    baseline_riders BIGINT,                            -- riders * 100 / baseline_pct (derived)
    source_id VARCHAR NOT NULL, batch_id BIGINT
);
-- raw table, dated by ts
CREATE TABLE IF NOT EXISTS traffic_counts_borough (   -- counts whose location is known only by borough
    ts TIMESTAMP NOT NULL, segment_id VARCHAR NOT NULL, borough VARCHAR NOT NULL,
    direction VARCHAR, street VARCHAR, from_street VARCHAR, to_street VARCHAR,
    volume INTEGER NOT NULL,
    source_id VARCHAR NOT NULL, batch_id BIGINT
);

-- raw table, dated by day
CREATE TABLE IF NOT EXISTS pedestrian_counts (        -- people counted walking past a point in one session
    day DATE NOT NULL,                                 -- the 1st of the count's month (the day is not published)
    location_id VARCHAR NOT NULL, district_id VARCHAR NOT NULL,
    session VARCHAR NOT NULL,                          -- am (weekday morning) / pm (weekday evening) / md (Saturday midday)
    pedestrians INTEGER NOT NULL,
    source_id VARCHAR NOT NULL, batch_id BIGINT
);

-- ---------------------------------------------------------------- waste
-- raw table, dated by day
CREATE TABLE IF NOT EXISTS waste_tonnage (
    day DATE NOT NULL, district_id VARCHAR NOT NULL,
    stream VARCHAR NOT NULL,               -- refuse / paper / mgp / organics
    tons DOUBLE NOT NULL,
    source_id VARCHAR NOT NULL, batch_id BIGINT
);
-- raw table, dated by ts
CREATE TABLE IF NOT EXISTS bin_fill (
    ts TIMESTAMP NOT NULL, bin_id VARCHAR NOT NULL, district_id VARCHAR NOT NULL,
    fill_pct DOUBLE NOT NULL,              -- 0..100
    source_id VARCHAR NOT NULL, batch_id BIGINT
);

-- ---------------------------------------------------------------- parking
CREATE TABLE IF NOT EXISTS parking_facilities (
    facility_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, district_id VARCHAR NOT NULL,
    capacity INTEGER NOT NULL, kind VARCHAR NOT NULL,   -- garage / curb zone
    source_id VARCHAR NOT NULL
);
-- raw table, dated by ts
CREATE TABLE IF NOT EXISTS parking_occupancy (
    ts TIMESTAMP NOT NULL, facility_id VARCHAR NOT NULL, district_id VARCHAR NOT NULL,
    capacity INTEGER NOT NULL, occupied INTEGER NOT NULL,
    source_id VARCHAR NOT NULL, batch_id BIGINT
);
-- raw table, dated by issued_at
CREATE TABLE IF NOT EXISTS parking_citations (
    issued_at TIMESTAMP NOT NULL, district_id VARCHAR NOT NULL,
    violation_code VARCHAR, fine DOUBLE,
    source_id VARCHAR NOT NULL, batch_id BIGINT
);

-- ---------------------------------------------------------------- service requests & satisfaction
-- raw table, dated by created_at and closed_at
CREATE TABLE IF NOT EXISTS service_requests (
    request_id VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL, closed_at TIMESTAMP, due_at TIMESTAMP,
    district_id VARCHAR NOT NULL,
    category VARCHAR NOT NULL,             -- e.g. 'Missed Collection', 'Noise', 'Street Condition'
    channel VARCHAR,                       -- phone / online / app
    status VARCHAR NOT NULL,               -- open / closed
    lat DOUBLE, lon DOUBLE, description VARCHAR,   -- personal: never published row by row
    source_id VARCHAR NOT NULL, batch_id BIGINT
);
-- raw table, dated by responded_at
CREATE TABLE IF NOT EXISTS satisfaction_responses (
    responded_at TIMESTAMP NOT NULL, request_id VARCHAR, district_id VARCHAR NOT NULL,
    category VARCHAR, score INTEGER NOT NULL,  -- 1..5
    source_id VARCHAR NOT NULL, batch_id BIGINT
);

-- ---------------------------------------------------------------- rollups (built by publish)
CREATE TABLE IF NOT EXISTS metric_values (
    metric_id VARCHAR NOT NULL, grain VARCHAR NOT NULL,   -- hour / day / week / month
    district_id VARCHAR NOT NULL,                         -- a district id, or 'city'
    period TIMESTAMP NOT NULL,
    value DOUBLE, numerator DOUBLE, denominator DOUBLE, n BIGINT
);
-- Earliest data time touched by loads since the last rollup; publish recomputes from there.
CREATE TABLE IF NOT EXISTS rollup_dirty (since TIMESTAMP NOT NULL);
-- Newest data time per raw table and source, maintained by publish from the rows changed since
-- the last publish (so publish does not rescan history to date the data).
CREATE TABLE IF NOT EXISTS table_data_times (
    table_name VARCHAR NOT NULL, source_id VARCHAR NOT NULL, data_time TIMESTAMP NOT NULL,
    first_time TIMESTAMP,   -- the oldest row's time: periods before it are partial
    PRIMARY KEY (table_name, source_id)
);
ALTER TABLE table_data_times ADD COLUMN IF NOT EXISTS first_time TIMESTAMP;
-- The reference each metric's latest period is compared with, per grain (data/publish.py,
-- data/facts.py): the latest period, how far its data reaches, and the reference window, the
-- same elapsed part of the reference period (today to 06:00 vs the same weekday last week to
-- 06:00), so a partial period is never compared with a whole one. Kept between publishes:
-- a window is recomputed only when it moves or data inside it changed.
CREATE TABLE IF NOT EXISTS reference_windows (
    metric_id VARCHAR NOT NULL, grain VARCHAR NOT NULL,
    period TIMESTAMP NOT NULL,       -- the latest period (the one a card shows)
    through TIMESTAMP NOT NULL,      -- its data reaches this time (>= the period's end: complete)
    kind VARCHAR NOT NULL,           -- same_elapsed / whole / previous_end (a level's last value)
    ref_period TIMESTAMP NOT NULL,   -- the reference period
    ref_end TIMESTAMP NOT NULL,      -- records of [ref_period, ref_end) make the reference
    PRIMARY KEY (metric_id, grain)
);
-- The metric's own SQL over each reference window, per district and 'city'.
CREATE TABLE IF NOT EXISTS reference_values (
    metric_id VARCHAR NOT NULL, grain VARCHAR NOT NULL, district_id VARCHAR NOT NULL,
    value DOUBLE, numerator DOUBLE, denominator DOUBLE, n BIGINT
);

-- ---------------------------------------------------------------- public releases (final)
-- Every public cell as first released (data.publish): a complete period is published once and
-- served from here afterwards, so late data never silently changes a released figure.
CREATE TABLE IF NOT EXISTS public_release_cells (
    metric_id VARCHAR NOT NULL, grain VARCHAR NOT NULL, district_id VARCHAR NOT NULL,
    period TIMESTAMP NOT NULL, value DOUBLE, numerator DOUBLE, denominator DOUBLE, n BIGINT,
    suppressed BOOLEAN NOT NULL, ci_low DOUBLE, ci_high DOUBLE,
    release VARCHAR NOT NULL -- the version that first released it
);  -- figures are kept as computed (withheld ones too): the public snapshot nulls what is withheld
-- One row per publish: what the release auditor added, and what it could not protect (shown on /data).
CREATE TABLE IF NOT EXISTS public_release_log (
    version VARCHAR NOT NULL, published_at TIMESTAMP NOT NULL, new_cells BIGINT, new_withheld BIGINT,
    blocks_audited BIGINT, held_blocks BIGINT, late_cells BIGINT, reason VARCHAR, seconds DOUBLE
);

-- Figures a department computes itself (a diversion rate, a satisfaction index), loaded by a
-- YAML mapping (target: reported_measures) and published as reported, per the period the
-- department reports (a month, a calendar year, a fiscal year): never summed or re-derived.
-- batch table, dated by period
CREATE TABLE IF NOT EXISTS reported_measures (
    measure_id VARCHAR NOT NULL, period DATE NOT NULL, period_end DATE NOT NULL, grain VARCHAR NOT NULL,
    label VARCHAR NOT NULL,                      -- the period as the department names it (FY2023-24)
    district_id VARCHAR NOT NULL,                -- 'city' for a citywide figure
    value DOUBLE NOT NULL, source_id VARCHAR NOT NULL, batch_id BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS reported_measure_defs (
    measure_id VARCHAR PRIMARY KEY, source_id VARCHAR NOT NULL, label VARCHAR NOT NULL, unit VARCHAR NOT NULL,
    format VARCHAR NOT NULL, direction VARCHAR, grain VARCHAR NOT NULL, fiscal_year_start INTEGER,
    method VARCHAR NOT NULL, description VARCHAR, public BOOLEAN NOT NULL
);
