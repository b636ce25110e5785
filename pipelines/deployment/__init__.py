"""Deployment: move the ``champion`` alias, and roll it back."""
