"""Per-entity history features for Transaction Fraud Insights: velocity, habits and novelty.

One definition (`spec`: which features; `formulas`: how each is computed; `columns`: how values are
read), two engines that agree to the last bit:

* `compute` (`vectorised`, `timeline`) runs over a whole frame at once, each entity starting from
  nothing (training) or from its stored state (batch prediction), and can return the final states;
* `EntityState` (`state`) holds one entity's running summary in the store and answers the same
  features for its next event (real-time prediction), then advances.

Features that only count up with time (an entity's age, its total number of events) are left out
or capped: on a time split they describe *when* an event happened, not how risky it is.
"""

from fraudhawk.features.history.columns import events_of
from fraudhawk.features.history.spec import COUNT_CAP, LONGEST, PREFIX, WINDOWS, HistorySpec
from fraudhawk.features.history.state import EntityState, Event, replay
from fraudhawk.features.history.units import DAY_MS, HOUR_MS
from fraudhawk.features.history.vectorised import Tick, compute, needs_replay, replay_frame

__all__ = [
    "COUNT_CAP",
    "DAY_MS",
    "HOUR_MS",
    "LONGEST",
    "PREFIX",
    "WINDOWS",
    "EntityState",
    "Event",
    "HistorySpec",
    "Tick",
    "compute",
    "events_of",
    "needs_replay",
    "replay",
    "replay_frame",
]
