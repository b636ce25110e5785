"""Batch inference: score requests with the champion into the inference table."""
