"""Operators' actions on orders (Django admin): resend, link to an upstream id, finish by hand, refund later.

Money moves only through the lifecycle (and so billing.services), as everywhere else.
"""

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.models import User
from backoffice.audit import audit_record
from billing.affiliates.services import commission_reverse
from billing.models import LedgerEntry
from billing.services import InvalidAmount, SentAlready, refund_later_issue
from orders.models import Order
from orders.services.alerts import order_unknown_over
from orders.services.dripfeed import dripfeed_cancel
from orders.services.lifecycle import SUBMISSION_MOVES, order_close, sources
from orders.validation import OrderError

Submission = Order.Submission
Status = Order.Status
OPERATOR_NOTES: dict[str, str] = {
    Status.COMPLETED: gettext_noop("Marked Completed by an operator"),
    Status.PARTIAL: gettext_noop("Marked Partial by an operator"),
    Status.CANCELED: gettext_noop("Marked Canceled by an operator"),
}
# Of the states SUBMISSION_MOVES lets go back to QUEUED, those an operator resends (SENDING is a worker's).
RESENDABLE = [state for state in sources(SUBMISSION_MOVES, Submission.QUEUED) if state != Submission.SENDING]


@transaction.atomic
def order_resend(*, order_id: int, actor: User) -> bool:
    """Put an UNKNOWN or HELD order back in the queue: the operator accepts it may be duplicated upstream."""
    order = (
        Order.objects.select_for_update()
        .filter(pk=order_id, submission__in=RESENDABLE, upstream_id=None)
        .exclude(status__in=Order.FINAL)
        .first()
    )
    if order is None:
        return False
    before = order.submission
    Order.objects.filter(pk=order.pk).update(
        submission=Submission.QUEUED, submission_changed_at=timezone.now(), next_attempt_at=None
    )
    audit_record(actor=actor, action="order.resend", target=order, before={"submission": before},
                 after={"submission": Submission.QUEUED})  # fmt: skip
    from orders.tasks import forward_order  # the tasks module imports the services: bound at call time

    order_unknown_over(order_id=order_id)
    transaction.on_commit(lambda: forward_order.delay(order_id))
    return True


def order_locked(order_id: int) -> Order:
    order = Order.objects.select_for_update().select_related("user").filter(pk=order_id).first()
    if order is None:
        raise OrderError(f"There is no order {order_id}.")
    return order


def order_link_upstream(*, order_id: int, upstream_id: int, actor: User) -> None:
    """Record the upstream id an operator found for an UNKNOWN order; polling takes it from there."""
    try:
        with transaction.atomic():
            order = order_locked(order_id)
            if order.submission != Submission.UNKNOWN or order.is_final:
                raise OrderError("Only an open order in the unknown state can be linked to an upstream id.")
            now = timezone.now()
            order.submission, order.submission_changed_at, order.upstream_id = Submission.SENT, now, upstream_id
            order.sent_at, order.next_poll_at, order.last_error = now, now, ""
            order.save(update_fields=["submission", "submission_changed_at", "upstream_id", "sent_at", "next_poll_at",
                                      "last_error", "updated_at"])  # fmt: skip
            order_unknown_over(order_id=order_id)
            audit_record(actor=actor, action="order.link_upstream", target=order,
                         before={"submission": Submission.UNKNOWN, "upstream_id": None},
                         after={"submission": Submission.SENT, "upstream_id": upstream_id})  # fmt: skip
    except IntegrityError:
        raise OrderError(f"Upstream order {upstream_id} already belongs to another order.") from None


@transaction.atomic
def order_finish(*, order_id: int, status: str, actor: User, remains: int | None = None, reason: str = "") -> Order:
    """An operator ends an order as Completed, Partial (with what remains) or Canceled; the refund is computed
    as for a polled status, and given once."""
    if status not in Order.FINAL:
        raise OrderError("Choose Completed, Partial or Canceled.")
    order = order_locked(order_id)
    if order.is_final:
        raise OrderError(f"Order {order_id} is already {order.status}.")
    if order.is_drip:
        # Its runs are orders of their own, still placed and sent: finishing the parent would refund runs delivered.
        raise OrderError(
            f"Order {order_id} is a drip-feed the panel runs: use “Stop drip-feed” instead. Its runs not sent yet "
            "are canceled, and it closes with the refund of what was not delivered when its last run ends."
        )
    if order.submission == Submission.SENDING:
        # A worker is placing it upstream this very moment; its outcome decides what happens next.
        raise OrderError(f"Order {order_id} is being sent right now: try again in a minute.")
    if status == Status.PARTIAL and (remains is None or not 0 < remains <= order.quantity):
        raise OrderError(f"For Partial, give what remains undelivered (1 to {order.quantity}).")
    before = {"status": order.status, "remains": order.remains}
    was_unknown = order.submission == Submission.UNKNOWN
    if not order_close(order=order, status=status, remains=remains, reason=reason, note=OPERATOR_NOTES[status]):
        return order  # Held by our row lock, it cannot have moved: nothing to record.
    if was_unknown:
        order_unknown_over(order_id=order_id)
    refund = LedgerEntry.objects.filter(order=order, kind=LedgerEntry.Kind.REFUND).values_list("amount", flat=True)
    audit_record(actor=actor, action="order.finish", target=order, before=before,
                 after={"status": order.status, "remains": order.remains, "refund": refund.first()},
                 note=reason)  # fmt: skip
    return order


@transaction.atomic
def order_dripfeed_stop(*, order_id: int, actor: User) -> bool:
    """An operator stops a drip-feed the panel runs, as its customer's cancel would; audited. False if it is not
    an open drip-feed."""
    order = order_locked(order_id)
    if not order.is_drip or order.is_final or not dripfeed_cancel(order=order):
        return False
    audit_record(actor=actor, action="order.dripfeed_stop", target=order, before={"next_run_at": order.next_run_at},
                 after={"next_run_at": None})  # fmt: skip
    return True


@transaction.atomic
def order_refund_later(
    *, order_id: int, amount: Decimal | None, actor: User, note: str, once: str | None = None
) -> LedgerEntry:
    """An operator gives back part or all (`amount` None) of what a Completed or Partial order's charge still
    holds, once it is final (a complaint, a drop after delivery); its referrer's commission loses the same share.
    `once`: the token of the operator's form, which refunds once however often it is sent. Audited. Raises
    OrderError, changing nothing."""
    note = note.strip()
    if not note:
        raise OrderError("Give the reason: the customer sees it in their history.")
    order = order_locked(order_id)
    if order.status not in (Status.COMPLETED, Status.PARTIAL):
        raise OrderError(f"Order {order_id} is {order.status}: only a Completed or Partial order is refunded later.")
    try:
        refund = refund_later_issue(order=order, amount=amount, actor=actor, note=note, once=once)
    except (InvalidAmount, SentAlready) as exc:
        raise OrderError(f"Order {order_id}: {exc.message}") from None
    reversed_ = commission_reverse(order=order, refund=refund)
    after: dict[str, object] = {"refund": refund.amount, "entry": refund.pk}
    if reversed_ is not None:
        after |= {"commission_taken_back": reversed_.taken, "commission_owed": reversed_.owed,
                  "commission_reversal": reversed_.pk}  # fmt: skip
    audit_record(actor=actor, action="order.refund_later", target=order, before={"status": order.status},
                 after=after, note=note)  # fmt: skip
    return refund
