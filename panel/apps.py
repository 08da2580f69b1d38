from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class PanelAdminConfig(AdminConfig):
    """Django's admin app, with the site that asks for a second factor (panel.admin_site)."""

    default_site = "panel.admin_site.PanelAdminSite"


class PanelConfig(AppConfig):
    name = "panel"
    verbose_name = "Panel"

    def ready(self) -> None:
        from panel import checks  # noqa: F401  (registers the checks)
