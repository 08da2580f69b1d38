from django.db import migrations

ROUTE_DATA = ["upstream_name", "upstream_rate", "min_quantity", "max_quantity", "refill", "cancel", "dripfeed",
              "missing_upstream"]  # fmt: skip


def routes_create(apps, schema_editor):
    """Every service bought from a provider gets that provider's service as its only route; manual ones none."""
    service_model = apps.get_model("catalog", "Service")
    route_model = apps.get_model("catalog", "Route")
    routes = []
    for service in service_model.objects.filter(provider__isnull=False).order_by("pk").iterator(chunk_size=2000):
        data = {name: getattr(service, name) for name in ROUTE_DATA}
        routes.append(route_model(service_id=service.pk, provider_id=service.provider_id,
                                  upstream_id=service.upstream_id, priority=0, **data))  # fmt: skip
        if len(routes) >= 2000:
            route_model.objects.bulk_create(routes)
            routes = []
    route_model.objects.bulk_create(routes)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0007_routes"),
    ]

    operations = [
        migrations.RunPython(routes_create, migrations.RunPython.noop),
    ]
