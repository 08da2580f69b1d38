from typing import Any

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.db.models.signals import post_migrate


def _roles_reapply(sender: AppConfig, using: str, apps: Apps = global_apps, **kwargs: Any) -> None:
    # migrate sends the migrated state's apps; flush sends none (the models as they are).
    from backoffice.roles import roles_apply

    roles_apply(apps=apps, using=using)


class BackofficeConfig(AppConfig):
    """The operator's side of the panel: the dashboard's figures, alerts, the audit trail and staff roles.

    The roles (backoffice.roles) are put right after every `migrate` and `flush`, not only by their data migration:
    a flush (as between transactional tests) empties the groups, Django adds permissions after migrations, and
    a role changed in code must not wait for someone to write a migration. Edits of these groups in the admin
    are undone by the next migrate: change backoffice.roles instead.
    """

    name = "backoffice"
    verbose_name = "Back office"

    def ready(self) -> None:
        # Sent for each app after migrate: once, for this app, which comes after the apps the roles name.
        post_migrate.connect(_roles_reapply, sender=self, dispatch_uid="backoffice.roles")
