"""Celery wrappers for alerts: fetch by id, call a service."""

from celery import shared_task

from backoffice.alerts import alert_send, alerts_unsent


# acks_late is safe here: each channel is claimed in the database, so a redelivered message sends nothing twice.
@shared_task(acks_late=True)
def send_alert(alert_id: int) -> list[str]:
    return alert_send(alert_id=alert_id)


@shared_task
def send_unsent_alerts() -> int:
    """Send again what a channel failed to take, or what a task lost between commit and the broker never sent."""
    unsent = alerts_unsent()
    for alert_id in unsent:
        send_alert.delay(alert_id)
    return len(unsent)
