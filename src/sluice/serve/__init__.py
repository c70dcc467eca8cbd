"""The control plane: ``sluice serve`` (docs/serve.md).

identity (tokens, OIDC, roles), pipeline executions carried through the promotion order,
triggers (webhooks, polling, schedules, new data), notifications, and the JSON API over them.
"""
