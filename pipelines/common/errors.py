"""The few exceptions of our own; each names what was wrong, where, and what was expected."""


class PipelineError(Exception):
    """Base class: an error a user can act on. Entry points print it without a traceback."""


class UsageError(PipelineError):
    """A flag or its value is wrong."""


class SchemaMismatch(PipelineError):
    """A table lacks columns a task needs, or has them with the wrong types."""


class UnreadableFile(PipelineError):
    """A file a task reads is not in the format it expects (e.g. not parquet)."""


class MissingModelAlias(PipelineError):
    """A registered model has no version behind an alias a task needs."""


class ValidationFailed(PipelineError):
    """A challenger broke a validation rule while validation was enforced."""


class DeploymentRefused(PipelineError):
    """A deployment step cannot go ahead (e.g. validation failed or never ran)."""


class ConflictingLabels(PipelineError):
    """The labels table gives one request two different labels."""


class StoreInUse(PipelineError):
    """Another process holds the local store (``MLOPS_HOME``)."""


class DataQualityError(PipelineError):
    """Rows break a blocking rule of a project's expectations (e.g. a duplicated key)."""
