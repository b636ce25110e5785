"""Synthetic NYC-taxi trips, for the local lifecycle and tests."""
