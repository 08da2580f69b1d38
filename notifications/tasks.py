"""Celery wrappers for notifications: take ids, call a service."""

import logging
from smtplib import SMTPException

from celery import Task, shared_task

from notifications.services import notifications_email

logger = logging.getLogger(__name__)

RETRIES = 4


# acks_late is safe here: each email is claimed in the database, so a redelivered message sends nothing twice.
@shared_task(bind=True, acks_late=True, max_retries=RETRIES)
def email_notifications(self: Task[..., int], notification_ids: list[int]) -> int:
    """Email a chunk's new notifications; a failing mail server is tried again later, a few times (the
    notifications stay in the panel whatever happens to their emails)."""
    try:
        return notifications_email(notification_ids=notification_ids)
    except (SMTPException, OSError) as exc:
        attempt = self.request.retries + 1
        logger.warning(
            "notification emails not sent (attempt %d of %d, %d notifications from id %d): %s: %s",
            attempt, RETRIES + 1, len(notification_ids), min(notification_ids), type(exc).__name__, exc,
        )  # fmt: skip
        if attempt > RETRIES:
            return 0
        raise self.retry(countdown=60 * 2**self.request.retries) from None
