"""The orchestrators: the `mlops` command, the local demo, the offline plan, preflight and
integration-run. They may import ``infra`` and ``pipelines``; nothing imports them."""
