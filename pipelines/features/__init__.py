"""Feature engineering: per-zip window aggregates keyed by (zip, window_end)."""
