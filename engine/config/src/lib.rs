//! Kea JSON configuration to a validated, typed model with option data pre-encoded
