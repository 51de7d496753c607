"""Every component id, in one place. Kebab-case, page-prefixed."""

# shell
SHELL_LOCATION = "shell-location"
SHELL_POLL = "shell-poll"
SHELL_STATUS = "shell-status"
SHELL_NAV = "shell-nav"
SHELL_LANG = "shell-lang"
SHELL_ACCOUNT = "shell-account"
SHELL_BRAND = "shell-brand"

# ops home
HOME_KPIS = "home-kpis"

# wall
WALL_TICK = "wall-tick"
WALL_TILES = "wall-tiles"
WALL_MAP = "wall-map"
WALL_MAP_TITLE = "wall-map-title"
WALL_ALERTS = "wall-alerts"
WALL_CLOCK = "wall-clock"
WALL_CLOCK_TICK = "wall-clock-tick"

# explore
EXPLORE_METRIC = "explore-metric"
EXPLORE_GRAIN = "explore-grain"
EXPLORE_DISTRICTS = "explore-districts"
EXPLORE_MAP = "explore-map"
EXPLORE_MAP_VALUES = "explore-map-values"  # the map without outlines (the browser merges them in)
EXPLORE_SERIES = "explore-series"
EXPLORE_NOTICE = "explore-notice"
EXPLORE_ABOUT = "explore-about"

# district profile
DISTRICT_ID = "district-id"
DISTRICT_KPIS = "district-kpis"
DISTRICT_RECORDS = "district-records"
DISTRICT_NOTICE = "district-notice"

# alerts
ALERTS_TABLE = "alerts-table"
ALERTS_TICK = "alerts-tick"

# data health
DATA_SOURCES = "data-sources"
DATA_BATCHES = "data-batches"
DATA_QUARANTINE = "data-quarantine"
DATA_RELEASES = "data-releases"
DATA_TICK = "data-tick"

# public
PUBLIC_KPIS = "public-kpis"
PUBLIC_METRIC_ID = "public-metric-id"
PUBLIC_METRIC_SERIES = "public-metric-series"
PUBLIC_METRIC_MAP = "public-metric-map"
PUBLIC_METRIC_TABLE = "public-metric-table"
PUBLIC_METRIC_SUMMARY = "public-metric-summary"

# wall (rotation, refresh gate, connection and reload)
WALL_CONFIG = "wall-config"
WALL_VIEW = "wall-view"
WALL_HOLD = "wall-hold"
WALL_HOLD_TEXT = "wall-hold-text"
WALL_ROTATE_TICK = "wall-rotate-tick"
WALL_TRIGGER = "wall-trigger"
WALL_SIG = "wall-sig"
WALL_META = "wall-meta"
WALL_TITLE = "wall-title"
WALL_VIEWS = "wall-views"
WALL_SCREEN = "wall-screen"
WALL_RELOAD = "wall-reload"
WALL_SCREENS_TABLE = "wall-screens-table"
WALL_SCREENS_TICK = "wall-screens-tick"

# public (transparency site): district scorecard and chart alternatives
PUBLIC_METRIC_SERIES_TEXT = "public-metric-series-text"
PUBLIC_METRIC_SERIES_TABLE = "public-metric-series-table"
PUBLIC_METRIC_MAP_TEXT = "public-metric-map-text"
PUBLIC_DISTRICT_PICK = "public-district-pick"
PUBLIC_DISTRICT_CARD = "public-district-card"
PUBLIC_DISTRICT_SUMMARY = "public-district-summary"
PUBLIC_DISTRICT_NAMES = "public-district-names"
PUBLIC_DISTRICT_CHOSEN = "public-district-chosen"  # the district shown (its id), for the URL
PUBLIC_DISTRICT_URL = "public-district-url"
PUBLIC_LANG = "public-lang"

# explorer (URL state, linked views, KPI cards, exports, annotations)
EXPLORE_URL = "explore-url"
EXPLORE_STATE = "explore-state"
EXPLORE_DOMAIN = "explore-domain"
EXPLORE_RANGE = "explore-range"
EXPLORE_DATES = "explore-dates"
EXPLORE_SCALE = "explore-scale"
EXPLORE_RANKING = "explore-ranking"
EXPLORE_TABLE = "explore-table"
EXPLORE_KPIS = "explore-kpis"
EXPLORE_EXPORTS = "explore-exports"
EXPLORE_CLEAR = "explore-clear"
EXPLORE_NOTE_TITLE = "explore-note-title"
EXPLORE_NOTE_KIND = "explore-note-kind"
EXPLORE_NOTE_START = "explore-note-start"
EXPLORE_NOTE_END = "explore-note-end"
EXPLORE_NOTE_DISTRICT = "explore-note-district"
EXPLORE_NOTE_ADD = "explore-note-add"
EXPLORE_NOTE_RESULT = "explore-note-result"
EXPLORE_NOTE_SAVED = "explore-note-saved"

# district profile (medians, peers, trends, records grid)
DISTRICT_RECORDS_GRID = "district-records-grid"
DISTRICT_RECORDS_CATEGORY = "district-records-category"
DISTRICT_SUMMARY = "district-summary"
DISTRICT_FACILITIES_GRID = "district-facilities-grid"
DISTRICT_FACILITIES = "district-facilities"

# alerts work queue (filters, grouped rows, quick acknowledge, per-domain figures)
ALERTS_STATES = "alerts-states"
ALERTS_DOMAIN = "alerts-domain"
ALERTS_SEVERITY = "alerts-severity"
ALERTS_DISTRICT = "alerts-district"
ALERTS_GROUP = "alerts-group"
ALERTS_SORT = "alerts-sort"
ALERTS_CHANGED = "alerts-changed"
ALERTS_RESULT = "alerts-result"
ALERTS_STATS = "alerts-stats"
ALERTS_ACK = "alerts-ack"  # pattern-matching: {"type": ALERTS_ACK, "episode": id}

# one alert (/alerts/<id>): facts, chart, timeline, actions, other domains' signals
ALERT_ID = "alert-id"
ALERT_HEAD = "alert-head"
ALERT_CHART = "alert-chart"
ALERT_TIMELINE = "alert-timeline"
ALERT_SIGNALS = "alert-signals"
ALERT_ACTION = "alert-action"
ALERT_NOTE = "alert-note"
ALERT_ASSIGNEE = "alert-assignee"
ALERT_UNTIL = "alert-until"
ALERT_SUBMIT = "alert-submit"
ALERT_RESULT = "alert-result"
ALERT_CHANGED = "alert-changed"
ALERT_FORM = "alert-form"

# shift log (handover notes, what happened in a window)
SHIFT_HOURS = "shift-hours"
SHIFT_SUMMARY = "shift-summary"
SHIFT_EVENTS = "shift-events"
SHIFT_NOTES = "shift-notes"
SHIFT_TEXT = "shift-text"
SHIFT_DISTRICT = "shift-district"
SHIFT_ADD = "shift-add"
SHIFT_RESULT = "shift-result"
SHIFT_CHANGED = "shift-changed"
SHIFT_TICK = "shift-tick"
