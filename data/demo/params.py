"""Parameters of the demo city: entity counts, rates, hourly profiles, 311 categories, district
character and the injected incidents. Tuning the simulated city means editing this file only."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from data.demo.primitives import HOUR

BOUNDARIES = Path(__file__).resolve().parent.parent / "boundaries" / "community_districts.geojson"


# Base entity counts and event rates at scale 1.0.
BASE_STATIONS = 64
BASE_FACILITIES = 80
BASE_BINS = 120
BASE_SEGMENTS = 64
BIKE_TRIPS_PER_STATION_HOUR = 1.0      # at peak season, mean over the day
CITATIONS_PER_DAY = 700.0
BIN_READING_STEP = 2 * HOUR
PARK_STATION_DISTRICTS = {"164": 2, "355": 1}   # bike stations in joint interest areas

OUTAGE_BOROUGH = "Queens"
# (kind, days before end, start hour, duration hours)
INCIDENT_PLAN = (
    ("storm", 40, 0, 24),
    ("sensor_outage", 25, 9, 48),
    ("strike", 14, 0, 5 * 24),
)


# ------------------------------------------------------------------------------ profiles
def _norm(values) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return arr / arr.mean()


# Hourly shapes, index = hour of day. "WD" working day, "WE" weekend or public holiday.
BIKE_WD = _norm([0.12, 0.07, 0.04, 0.03, 0.05, 0.18, 0.55, 1.45, 2.35, 1.55, 0.95, 0.95,
                 1.05, 1.05, 1.10, 1.35, 1.95, 2.55, 1.95, 1.30, 0.95, 0.70, 0.45, 0.25])
BIKE_WE = _norm([0.35, 0.22, 0.14, 0.08, 0.06, 0.08, 0.15, 0.30, 0.60, 1.00, 1.40, 1.70,
                 1.85, 1.85, 1.85, 1.75, 1.65, 1.50, 1.30, 1.05, 0.80, 0.60, 0.50, 0.40]) * 0.85
TRAFFIC_WD = _norm([0.28, 0.17, 0.12, 0.11, 0.18, 0.45, 1.00, 1.55, 1.75, 1.45, 1.25, 1.20,
                    1.22, 1.22, 1.30, 1.45, 1.65, 1.75, 1.45, 1.12, 0.92, 0.78, 0.60, 0.42])
TRAFFIC_WE = _norm([0.50, 0.35, 0.24, 0.17, 0.15, 0.20, 0.32, 0.50, 0.75, 0.98, 1.15, 1.25,
                    1.30, 1.30, 1.30, 1.28, 1.25, 1.20, 1.10, 0.98, 0.88, 0.78, 0.68, 0.56]) * 0.82
# Parking occupancy as a fraction of a facility's peak level: commuter (business) facilities
# fill during office hours; residential ones are full at night and half-empty by day.
PARK_BUS_WD = np.array([0.22, 0.20, 0.18, 0.18, 0.20, 0.28, 0.45, 0.70, 0.90, 0.98, 1.00, 1.00,
                        0.98, 0.98, 1.00, 0.97, 0.88, 0.70, 0.55, 0.45, 0.40, 0.35, 0.30, 0.25])
PARK_BUS_WE = np.array([0.30, 0.27, 0.24, 0.22, 0.20, 0.20, 0.22, 0.30, 0.40, 0.52, 0.62, 0.70,
                        0.74, 0.75, 0.75, 0.72, 0.68, 0.64, 0.60, 0.56, 0.50, 0.44, 0.38, 0.33])
PARK_RES_WD = np.array([0.97, 0.98, 0.98, 0.98, 0.97, 0.94, 0.86, 0.76, 0.70, 0.68, 0.68, 0.69,
                        0.70, 0.70, 0.71, 0.73, 0.77, 0.83, 0.88, 0.92, 0.94, 0.95, 0.96, 0.97])
PARK_RES_WE = np.array([0.95, 0.96, 0.96, 0.96, 0.96, 0.95, 0.94, 0.92, 0.88, 0.84, 0.80, 0.78,
                        0.77, 0.77, 0.78, 0.80, 0.82, 0.85, 0.88, 0.90, 0.92, 0.93, 0.94, 0.95])
# Bike-dock balance: business-district docks fill in the morning and empty in the evening,
# residential ones the opposite (multiplied by the station's role, -1..1).
DOCK_BALANCE_WD = np.array([-0.35, -0.35, -0.35, -0.35, -0.35, -0.30, -0.15, 0.20, 0.60, 0.85, 0.90, 0.90,
                            0.88, 0.85, 0.85, 0.80, 0.60, 0.20, -0.10, -0.25, -0.30, -0.33, -0.35, -0.35])
DOCK_BALANCE_WE = np.array([-0.10, -0.10, -0.10, -0.10, -0.10, -0.10, -0.10, -0.10, -0.05, 0.00, 0.10, 0.20,
                            0.25, 0.25, 0.25, 0.20, 0.10, 0.00, -0.05, -0.10, -0.10, -0.10, -0.10, -0.10])
WASTE_ACTIVITY = _norm([0.30, 0.20, 0.15, 0.15, 0.20, 0.40, 0.80, 1.20, 1.40, 1.40, 1.40, 1.50,
                        1.70, 1.60, 1.40, 1.30, 1.30, 1.40, 1.50, 1.40, 1.20, 1.00, 0.70, 0.50])


CITATION_WD = _norm([0.15, 0.10, 0.08, 0.08, 0.10, 0.20, 0.50, 1.20, 2.00, 2.10, 1.90, 1.80,
                     1.60, 1.70, 1.70, 1.60, 1.40, 1.20, 1.00, 0.80, 0.60, 0.45, 0.30, 0.20])
CITATION_WE = _norm([0.30, 0.20, 0.15, 0.12, 0.12, 0.15, 0.25, 0.50, 0.90, 1.20, 1.50, 1.60,
                     1.60, 1.60, 1.60, 1.50, 1.40, 1.30, 1.20, 1.00, 0.80, 0.60, 0.50, 0.40]) * 0.55

_DAYTIME = [0.3, 0.2, 0.15, 0.15, 0.2, 0.4, 0.8, 1.3, 1.7, 1.8, 1.8, 1.7, 1.6, 1.6, 1.5, 1.4, 1.3, 1.2,
            1.1, 1.0, 0.9, 0.7, 0.5, 0.4]
_NIGHT = [2.2, 1.8, 1.3, 0.9, 0.5, 0.3, 0.3, 0.4, 0.5, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7, 0.8, 0.9, 1.0,
          1.1, 1.3, 1.5, 1.8, 2.1, 2.3]
_HEAT = [0.6, 0.5, 0.5, 0.5, 0.6, 0.9, 1.4, 1.6, 1.5, 1.3, 1.2, 1.1, 1.0, 1.0, 0.9, 0.9, 1.0, 1.1,
         1.2, 1.3, 1.3, 1.2, 1.0, 0.8]
_CURB = [0.4, 0.3, 0.2, 0.2, 0.3, 0.6, 1.2, 1.7, 1.7, 1.5, 1.3, 1.2, 1.2, 1.2, 1.2, 1.2, 1.3, 1.4,
         1.4, 1.3, 1.1, 0.9, 0.7, 0.5]


class Category(NamedTuple):
    """A 311 request category of the demo city."""

    name: str
    rate: float                 # daily requests per 1,000 residents (annual mean)
    sla_h: float                # hours until a request is due
    median_h: float             # median hours to close (lognormal)
    sigma: float                # lognormal sigma of the hours to close
    hours: list[float]          # creation-hour profile (relative weights, index = hour of day)
    templates: tuple[str, ...]  # description templates, {s}: a street


CATEGORIES = (
    Category("Noise", 0.015, 8, 2.5, 0.9, _NIGHT,
             ("Loud music late at night near {s}", "Construction noise before 7am on {s}", "Barking dog near {s}",
              "Loud party in a building on {s}", "Car alarm going off on {s}")),
    Category("Illegal Parking", 0.011, 8, 2.0, 1.0, _CURB,
             ("Car blocking driveway on {s}", "Double-parked vehicles on {s}", "Vehicle parked in bike lane on {s}",
              "Truck parked overnight on {s}", "Car blocking hydrant on {s}")),
    Category("Heat/Hot Water", 0.0085, 72, 36.0, 0.9, _HEAT,
             ("No heat in apartment on {s}", "No hot water since yesterday, {s}", "Heat not working in building on {s}",
              "Radiators cold, building on {s}")),
    Category("Street Condition", 0.007, 240, 96.0, 1.0, _DAYTIME,
             ("Pothole in the roadway on {s}", "Cave-in near crosswalk on {s}", "Broken pavement on {s}",
              "Loose manhole cover on {s}")),
    Category("Sanitation Condition", 0.0065, 120, 60.0, 0.9, _DAYTIME,
             ("Overflowing litter basket on {s}", "Dumped bags on sidewalk on {s}", "Dirty sidewalk in front of a store on {s}",
              "Rodents near trash on {s}")),
    Category("Missed Collection", 0.006, 48, 28.0, 0.7, _DAYTIME,
             ("Recycling not picked up on {s}", "Trash not collected this week on {s}", "Organics bin missed on {s}",
              "Bulk item not collected on {s}")),
    Category("Streetlight", 0.006, 240, 120.0, 0.9, _DAYTIME,
             ("Streetlight out on {s}", "Streetlight flickering on {s}", "Streetlight on during the day on {s}",
              "Damaged lamppost on {s}")),
)
CAT_NAMES = [c.name for c in CATEGORIES]
CAT_INDEX = {name: i for i, name in enumerate(CAT_NAMES)}
CAT_RATE = np.array([c.rate for c in CATEGORIES])
CAT_SLA_H = np.array([c.sla_h for c in CATEGORIES], dtype=float)
CAT_MEDIAN_H = np.array([c.median_h for c in CATEGORIES])
CAT_SIGMA = np.array([c.sigma for c in CATEGORIES])
CAT_HOUR_PMF = np.array([np.asarray(c.hours) / np.sum(c.hours) for c in CATEGORIES])   # (C, 24)
STALE_SHARE = 0.005           # share of requests forgotten in a queue: closed 20-90 days later
STALE_HOURS = (20 * 24.0, 90 * 24.0)
SURVEY_RATE = 0.12            # share of closed requests answered
SURVEY_DELAY_MEDIAN_H = 18.0
SURVEY_DELAY_SIGMA = 0.8
CHANNELS = ["phone", "online", "app"]

STREETS = ("Broadway", "Atlantic Ave", "Grand Concourse", "Main St", "Queens Blvd", "Flatbush Ave",
           "Amsterdam Ave", "Ocean Pkwy", "Myrtle Ave", "Jamaica Ave", "Fordham Rd", "Richmond Ave",
           "Victory Blvd", "Northern Blvd", "Lexington Ave", "5th Ave", "Bedford Ave", "Nostrand Ave",
           "Steinway St", "Roosevelt Ave", "Hylan Blvd", "Tremont Ave", "Church Ave", "Kings Hwy",
           "Utica Ave", "Union Tpke", "Hillside Ave", "Westchester Ave", "St Nicholas Ave", "2nd Ave",
           "Court St", "Fulton St", "Delancey St", "Canal St", "Metropolitan Ave", "Forest Ave",
           "Liberty Ave", "Bay Pkwy", "Astoria Blvd", "Webster Ave")
DESCRIPTIONS = [t.format(s=s) for c in CATEGORIES for t in c.templates for s in STREETS]
DESC_START = np.cumsum([0] + [len(c.templates) * len(STREETS) for c in CATEGORIES])[:-1]
DESC_COUNT = np.array([len(c.templates) * len(STREETS) for c in CATEGORIES])

# DOF violation codes (fine in Manhattan at or below 96th St / elsewhere) and their share.
VIOLATIONS = (
    ("21", 65, 45, 0.15), ("36", 50, 50, 0.13), ("38", 65, 35, 0.11), ("14", 115, 115, 0.09),
    ("20", 65, 60, 0.06), ("46", 115, 115, 0.06), ("40", 115, 115, 0.05), ("37", 65, 35, 0.05),
    ("7", 50, 50, 0.05), ("71", 65, 65, 0.05), ("19", 115, 115, 0.03), ("70", 65, 65, 0.02),
    ("16", 95, 95, 0.02), ("69", 65, 65, 0.02), ("31", 115, 115, 0.02),
)
VIOLATION_CODES = [v[0] for v in VIOLATIONS]
VIOLATION_P = np.array([v[3] for v in VIOLATIONS]) / sum(v[3] for v in VIOLATIONS)
FINE_MN96 = np.array([v[1] for v in VIOLATIONS], dtype=float)
FINE_OTHER = np.array([v[2] for v in VIOLATIONS], dtype=float)
MANHATTAN_96 = {"101", "102", "103", "104", "105", "106", "107", "108"}
STREET_CLEANING = VIOLATION_CODES.index("21")
MUNI_METER = VIOLATION_CODES.index("38")

# District character. Jobs index (employment pull relative to residents), car ownership,
# subway access, recycling habits. Everything else comes from population and area.
JOBS = {"101": 6.0, "102": 3.0, "103": 1.2, "104": 2.5, "105": 8.0, "106": 2.5, "107": 1.0,
        "108": 1.2, "109": 0.7, "110": 0.7, "111": 0.8, "112": 0.6, "301": 1.0, "302": 2.2,
        "306": 0.9, "401": 0.9, "402": 1.4, "407": 0.9, "412": 0.9, "201": 0.8}
BORO_JOBS = {"Manhattan": 1.0, "Bronx": 0.5, "Brooklyn": 0.55, "Queens": 0.55, "Staten Island": 0.45}
BORO_CARS = {"Manhattan": 0.22, "Bronx": 0.40, "Brooklyn": 0.44, "Queens": 0.64, "Staten Island": 0.84}
BORO_BIKE = {"Manhattan": 1.5, "Bronx": 0.45, "Brooklyn": 1.0, "Queens": 0.7, "Staten Island": 0.15}
BORO_DIVERSION = {"Manhattan": 0.22, "Bronx": 0.155, "Brooklyn": 0.195, "Queens": 0.19, "Staten Island": 0.21}
BORO_HEAT = {"Manhattan": 1.2, "Bronx": 2.0, "Brooklyn": 1.1, "Queens": 0.7, "Staten Island": 0.3}
SUBWAY_ACCESS = {"Staten Island": 0.05, "408": 0.35, "411": 0.2, "413": 0.25, "410": 0.4, "414": 0.45,
                 "210": 0.3, "318": 0.45}
TRANSIT_DOW = {"subway": np.array([1.0, 1.02, 1.03, 1.02, 0.98, 0.62, 0.47]),
               "bus": np.array([1.0, 1.01, 1.02, 1.01, 0.98, 0.70, 0.55])}
WASTE_DOW = np.array([1.32, 1.12, 1.10, 1.08, 1.10, 1.05, 0.23])
STREAMS = ["refuse", "paper", "mgp", "organics"]


# Labelled incidents: the ground truth the alert detector is measured against (bench/alerts.py).
# Per kind: (incidents per day citywide, metrics affected). They are stored in the warehouse
# table `labelled_incidents`, never published: operators must find them from the data.
LABELLED_RATES = {
    "surge": (0.30, ("sr_opened",)),                            # a burst of 311 requests in one district
    "parking_surge": (0.15, ("parking_occupancy_pct",)),        # an event fills a district's parking
    "parking_drift": (0.08, ("parking_occupancy_pct",)),        # occupancy creeps up over 1-3 days
    "parking_outage": (0.07, ("parking_occupancy_pct",)),       # a district's parking sensors go silent
}
# Per kind: (start hour range within the day, duration range in hours, size range — None: no
# size drawn —, size unit); ranges are [low, high) as numpy draws them. A surge in a small
# district is SMALL_SURGE_SIZE times the usual rate (a handful of requests makes a burst).
LABELLED_SHAPES = {
    "surge": ((7, 19), (3, 10), (2.5, 6), "x usual rate"),
    "parking_surge": ((9, 18), (3, 7), (0.12, 0.3), "share of spaces"),
    "parking_drift": ((0, 24), (24, 73), (0.08, 0.3), "share of spaces"),
    "parking_outage": ((0, 24), (6, 25), None, "sensors offline"),
}
SMALL_SURGE_SIZE = (8, 14)
