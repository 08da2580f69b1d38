from django.contrib.admin.apps import AdminConfig


class PanelAdminConfig(AdminConfig):
    """Django's admin app, with the site that asks for a second factor (panel.admin_site)."""

    default_site = "panel.admin_site.PanelAdminSite"
