"""The demo's year of requests written in bulk, with the rows the services would have written."""

from qualicite.core import events
from qualicite.demo.bulk import insert_rows
from qualicite.requests.models import Delivery, Reply, Request, RequestEvent


def write_year(organisation, lives: list, counter: list[Delivery]) -> None:
    """Write the simulated requests (`requests_year.Life`), their replies, deliveries, events."""
    # Requests and replies need their primary keys (events point at them): bulk_create,
    # which skips save(): the local days are stamped here.
    for life in lives:
        life.request.stamp_days()
    Request.objects.bulk_create([life.request for life in lives], batch_size=500)
    replies = [life.reply for life in lives if life.reply]
    for reply in replies:
        reply.request_id = reply.request.pk
    Reply.objects.bulk_create(replies, batch_size=500)
    deliveries = [life.delivery for life in lives if life.delivery]
    for delivery in deliveries:
        delivery.request_id = delivery.request.pk
    insert_rows(Delivery, deliveries + counter)
    rows = []
    for life in lives:
        request = life.request
        name = str(request)[:300]
        for at, actor, verb, details in sorted(life.events, key=lambda e: e[0]):
            if "reply" in details:
                details = {**details, "reply": life.reply.pk}
            rows.append(
                RequestEvent(
                    organisation=organisation,
                    at=at,
                    actor=actor,
                    actor_name=events.actor_display_name(actor),
                    verb=verb,
                    subject_kind=Request._meta.label_lower,
                    subject_id=str(request.pk),
                    subject_name=name,
                    details=details,
                    request=request,
                )
            )
    insert_rows(RequestEvent, rows)
