"""The ML code that the Databricks jobs run, organised by lifecycle stage.

Every stage is a package with pure transformation functions and one ``task`` module:
the task parses named flags, reads tables, calls the functions, writes tables and logs
to MLflow. The same task modules run as Databricks job tasks and on a laptop.
"""
