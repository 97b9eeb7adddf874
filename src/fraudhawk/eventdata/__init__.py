"""AFD's event data format: the columns of an event (`layout`) and the timestamp forms it accepts
(`timestamps`). Definitions only, with no database: storing events, features, scoring, training and
prediction all read them, so they sit below all of those."""
