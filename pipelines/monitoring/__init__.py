"""Monitoring: late labels, Lakehouse-Monitoring-compatible metrics, the violation check
that triggers retraining, and the HTML report."""
