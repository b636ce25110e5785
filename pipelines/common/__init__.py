"""Edges shared by every task: runtime settings, Spark, tables, MLflow, flags and errors."""
