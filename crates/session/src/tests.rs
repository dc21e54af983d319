//! Unit tests of the session core: one per rule, driven with packets and clock readings.
