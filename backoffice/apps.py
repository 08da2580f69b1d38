from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """The operator's side of the panel: the dashboard's figures, alerts, the audit trail and staff roles."""

    name = "backoffice"
    verbose_name = "Back office"
