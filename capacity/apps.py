from django.apps import AppConfig


class CapacityConfig(AppConfig):
    name = "capacity"
    verbose_name = "Capacity: machines"

    def ready(self) -> None:
        # Register the Celery tasks in every process, not only in workers (Celery's autodiscovery runs at worker
        # start): services name tasks by their registered name, and with CELERY_TASK_ALWAYS_EAGER a named task
        # runs inline only when this process knows it.
        from capacity import tasks  # noqa: F401
        from capacity.signals import gpu_hours_stored
        from finops.signals import billing_months_dropped, billing_scopes_rebuilt

        # Idle GPU cost follows the billing lines it comes from, in the transaction that changed them.
        billing_scopes_rebuilt.connect(_idle_costs_scopes, dispatch_uid="capacity-idle-costs-scopes")
        billing_months_dropped.connect(_idle_costs_months, dispatch_uid="capacity-idle-costs-months")
        gpu_hours_stored.connect(_idle_costs_hours, dispatch_uid="capacity-idle-costs-hours")


def _idle_costs_scopes(sender, *, cursor, scopes, **kwargs) -> None:
    from capacity.services.idle_costs import idle_costs_rebuild_scopes

    idle_costs_rebuild_scopes(cursor, scopes)


def _idle_costs_months(sender, *, cursor, before, **kwargs) -> None:
    from capacity.services.idle_costs import idle_costs_drop_before

    idle_costs_drop_before(cursor, before)


def _idle_costs_hours(sender, *, rows, **kwargs) -> None:
    from django.db import connection

    from capacity.models import Resource
    from capacity.services.idle_costs import idle_costs_rebuild_resources

    pks = {row.resource_id for row in rows}
    resource_ids = list(Resource.objects.filter(pk__in=pks).values_list("resource_id", flat=True))
    with connection.cursor() as cursor:
        start, end = min(row.hour for row in rows), max(row.hour for row in rows)
        idle_costs_rebuild_resources(cursor, resource_ids=resource_ids, start=start, end=end)
