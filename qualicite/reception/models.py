"""Phone calls from the phone system's logs, visits at the desk, appointments.

A `Call` is one visit of one call to one queue, as the parsers assemble it from a log
(`parsers.CallRecord`); it is identified across imports by (call id, queue, entered at), so
importing a file again or an overlapping one changes nothing. `QueueMapping` says which
service and site a queue of the phone system answers for. `CallImport` is one imported file:
its progress while it runs, its report after, and the calls it left open for the next file.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from qualicite.core.events import register_event_model
from qualicite.core.models import EventBase, Organisation, OrganisationScoped, Service, Site
from qualicite.core.storage import PrivateStorage


class CallFormat(models.TextChoices):
    ASTERISK_QUEUE_LOG = "asterisk-queue-log", _("Asterisk queue_log")
    WAZO_QUEUE_LOG_CSV = "wazo-queue-log-csv", _("Wazo / XiVO queue_log (CSV export)")
    ASTERISK_CDR_CSV = "asterisk-cdr-csv", _("Asterisk CDR (CSV)")
    CSV = "csv", _("Other CSV export, with a column mapping")


class CallOutcome(models.TextChoices):
    # Values are the parsers' `Outcome` constants.
    # A context of its own: "Answered" of a request is feminine in French (une demande).
    ANSWERED = "answered", pgettext_lazy("call outcome", "Answered")
    ABANDONED = "abandoned", _("Abandoned by the caller")
    TIMEOUT = "timeout", _("Left the queue: waited too long")
    EXIT_EMPTY = "exit_empty", _("Left the queue: no agent logged in")
    EXIT_KEY = "exit_key", _("Left the queue: caller pressed a key")
    NOT_ADMITTED = "not_admitted", _("Not admitted to the queue")
    INCOMPLETE = "incomplete", _("End unknown")


class QueueMapping(OrganisationScoped):
    """Which service and site a queue of the phone system answers for."""

    queue = models.CharField(_("queue in the phone system"), max_length=80)
    service = models.ForeignKey(
        Service,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service"),
    )
    site = models.ForeignKey(
        Site,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("site"),
    )
    counted = models.BooleanField(
        _("counted in the statistics"),
        default=True,
        help_text=_("Untick for internal or technical queues that the public never reaches."),
    )

    class Meta:
        ordering = ["queue"]
        verbose_name = _("queue")
        verbose_name_plural = _("queues")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "queue"], name="queue_mapping_unique")
        ]

    def __str__(self):
        return self.queue


class ImportStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    RUNNING = "running", _("Running")
    DONE = "done", _("Imported")
    REFUSED = "refused", _("Refused")  # the file's verdict: nothing imported
    FAILED = "failed", _("Failed")  # an error of ours: nothing imported


class CallImport(OrganisationScoped):
    """One file of phone-system logs, imported whole or not at all."""

    file_name = models.CharField(_("file"), max_length=255)
    # Under var/, never served: the logs hold callers' numbers.
    file = models.FileField(
        _("uploaded file"), storage=PrivateStorage, upload_to="call-imports/%Y/%m/", blank=True
    )
    format = models.CharField(_("format"), max_length=30, choices=CallFormat.choices)
    mapping = models.TextField(_("column mapping (YAML)"), blank=True)
    site = models.ForeignKey(
        Site,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("site of the unmapped queues"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.WAITING
    )
    bytes_total = models.BigIntegerField(_("size in bytes"), default=0)
    bytes_read = models.BigIntegerField(_("bytes read"), default=0)
    lines_read = models.PositiveIntegerField(_("lines read"), default=0)
    lines_rejected = models.PositiveIntegerField(_("lines rejected"), default=0)
    calls_created = models.PositiveIntegerField(_("calls created"), default=0)
    calls_completed = models.PositiveIntegerField(
        _("calls completed"),
        default=0,
        help_text=_("Calls left open by an earlier file and ended in this one."),
    )
    calls_unchanged = models.PositiveIntegerField(_("calls already imported"), default=0)
    report = models.JSONField(_("report"), default=dict, blank=True)
    # The calls still open at the end of the file (parsers.CarriedState.to_json()), taken up
    # by the next import of the same format and site.
    carried = models.JSONField(_("calls still open"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("imported by"),
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("call log import")
        verbose_name_plural = _("call log imports")
        indexes = [models.Index(fields=["organisation", "-created_at"], name="call_import_org")]

    def __str__(self):
        return self.file_name

    @property
    def percent(self) -> int:
        if self.status in (ImportStatus.DONE, ImportStatus.REFUSED, ImportStatus.FAILED):
            return 100
        if not self.bytes_total:
            return 0
        return min(99, int(self.bytes_read * 100 / self.bytes_total))


class Call(OrganisationScoped):
    """One visit of one call to one queue of the phone system.

    Written by the million by the log imports: the table carries no foreign-key constraint
    and no index of its own on its references (ADR 0002). The import writer takes them from
    rows it has just read (the import, the queue mappings' services and sites), Django's
    `on_delete` keeps them when a row they point to is deleted, and the organisation is the
    first column of the unique key and of the index.
    """

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        db_constraint=False,
        db_index=False,
        verbose_name=_("organisation"),
    )
    call_id = models.CharField(_("call id"), max_length=80)
    queue = models.CharField(_("queue"), max_length=80)
    service = models.ForeignKey(
        Service,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
        verbose_name=_("service"),
    )
    site = models.ForeignKey(
        Site,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
        verbose_name=_("site"),
    )
    entered_at = models.DateTimeField(_("entered the queue at"))
    wait_seconds = models.PositiveIntegerField(_("wait (seconds)"))
    outcome = models.CharField(_("outcome"), max_length=20, choices=CallOutcome.choices)
    agent = models.CharField(_("answered by"), max_length=120, blank=True)
    talk_seconds = models.PositiveIntegerField(_("talk time (seconds)"), null=True, blank=True)
    transfers = models.PositiveSmallIntegerField(_("transfers"), default=0)
    ring_no_answer = models.PositiveSmallIntegerField(_("rings not answered by agents"), default=0)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    caller = models.CharField(_("caller number"), max_length=40, blank=True)  # personal data
    outside_hours = models.BooleanField(
        _("outside opening hours"),
        default=False,
        help_text=_("Entered the queue when its site was closed (opening hours, closures)."),
    )
    counted = models.BooleanField(
        _("counted in the statistics"),
        default=True,
        help_text=_("False for a test call or a queue left out of the statistics."),
    )
    is_test = models.BooleanField(_("test call"), default=False)
    call_import = models.ForeignKey(
        CallImport,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="calls",
        db_constraint=False,
        db_index=False,
        verbose_name=_("imported by"),
    )

    class Meta:
        ordering = ["-entered_at"]
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "call_id", "queue", "entered_at"], name="call_unique"
            )
        ]
        # Two indexes and the unique key, no more: every index costs each of the millions of
        # rows an import writes (the calls list filtered by queue reads the unique key).
        indexes = [
            models.Index(fields=["organisation", "entered_at"], name="call_org_entered"),
        ]

    def __str__(self):
        return f"{self.call_id} {self.queue}"


class VisitSource(models.TextChoices):
    TABLET = "tablet", _("Desk tablet")
    IMPORT = "import", _("Ticketing-system import")


class DeskVisit(OrganisationScoped):
    """One visitor at a desk: arrival, called to a counter, done."""

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="+", verbose_name=_("site")
    )
    service = models.ForeignKey(
        Service,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service"),
    )
    reason = models.CharField(_("reason for the visit"), max_length=120, blank=True)
    arrived_at = models.DateTimeField(_("arrived at"))
    called_at = models.DateTimeField(_("called at"), null=True, blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    left_without_service = models.BooleanField(_("left before being served"), default=False)
    # Orientation: sent to the right service the first time (None: not recorded).
    right_first_time = models.BooleanField(
        _("sent to the right service first time"), null=True, blank=True
    )
    ticket = models.CharField(_("ticket"), max_length=60, blank=True)
    source = models.CharField(
        _("recorded by"), max_length=10, choices=VisitSource.choices, default=VisitSource.TABLET
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("agent"),
    )

    class Meta:
        ordering = ["-arrived_at"]
        verbose_name = _("desk visit")
        verbose_name_plural = _("desk visits")
        constraints = [
            # A ticketing system's export imported twice adds nothing.
            models.UniqueConstraint(
                fields=["organisation", "site", "ticket", "arrived_at"],
                condition=~models.Q(ticket=""),
                name="desk_visit_ticket_unique",
            )
        ]
        indexes = [models.Index(fields=["organisation", "arrived_at"], name="desk_visit_org")]

    def __str__(self):
        return f"{self.site} {self.arrived_at:%Y-%m-%d %H:%M}"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", _("Booked")
    CHECKED_IN = "checked_in", _("Arrived")
    SERVED = "served", _("Served")
    NO_SHOW = "no_show", _("Did not come")
    CANCELLED = "cancelled", _("Cancelled")


class Appointment(OrganisationScoped):
    """A booked slot at a site, checked in on arrival, served at a time."""

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="+", verbose_name=_("site")
    )
    service = models.ForeignKey(
        Service,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service"),
    )
    starts_at = models.DateTimeField(_("slot"))
    ends_at = models.DateTimeField(_("end of the slot"), null=True, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    citizen = models.CharField(_("citizen"), max_length=200, blank=True)  # personal data
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=AppointmentStatus.choices,
        default=AppointmentStatus.BOOKED,
    )
    checked_in_at = models.DateTimeField(_("arrived at"), null=True, blank=True)
    served_at = models.DateTimeField(_("served at"), null=True, blank=True)
    # The booking system's identifier (an ICS UID, a CSV column): imports update, never double.
    external_id = models.CharField(
        _("identifier in the booking system"), max_length=255, blank=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        ordering = ["starts_at"]
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "external_id"],
                condition=~models.Q(external_id=""),
                name="appointment_external_unique",
            )
        ]
        indexes = [models.Index(fields=["organisation", "starts_at"], name="appointment_org")]

    def __str__(self):
        return f"{self.site} {self.starts_at:%Y-%m-%d %H:%M}"


@register_event_model
class ReceptionEvent(EventBase):
    """Call logs imported, queues mapped, test calls flagged, desk visits, appointments."""

    class Meta(EventBase.Meta):
        verbose_name = _("reception event")
        verbose_name_plural = _("reception events")
        indexes = [models.Index(fields=["organisation", "-at"], name="reception_event_org_at")]
