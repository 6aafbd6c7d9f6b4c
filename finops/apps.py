from django.apps import AppConfig


class FinopsConfig(AppConfig):
    name = "finops"
    verbose_name = "FinOps: money"

    def ready(self) -> None:
        # Register the Celery tasks in every process, not only in workers (Celery's autodiscovery runs at worker
        # start): services name tasks by their registered name, and with CELERY_TASK_ALWAYS_EAGER a named task
        # runs inline only when this process knows it.
        from finops import tasks  # noqa: F401
