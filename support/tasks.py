"""Celery wrappers for ticket mail: fetch by id, call a service."""

from celery import shared_task

from support.selectors import messages_unnotified
from support.services import message_notify


@shared_task
def notify_message(message_id: int) -> bool:
    return message_notify(message_id=message_id)


@shared_task
def notify_unsent_messages() -> int:
    """Send again what the mail server refused, or what a task lost between commit and the broker never sent."""
    unsent = messages_unnotified()
    for message_id in unsent:
        notify_message.delay(message_id)
    return len(unsent)
