"""Validation: the rules a challenger must meet, and the task that checks and records them."""
