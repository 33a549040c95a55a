"""Requests and complaints from every channel, with their due dates, replies and deliveries."""

import secrets

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from qualicite.core.choices import Channel, DayKind, RequestKind
from qualicite.core.events import register_event_model
from qualicite.core.models import EventBase, OrganisationScoped, Service, Site

# Also named here by the first migrations of requests and indicators.
from qualicite.core.storage import PrivateStorage

# Tracking codes: consonants and digits only, none of 0/O/1/I (read aloud, typed from paper).
CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ23456789"
CODE_LENGTH = 8


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """What a citizen typed ("k7qx-m3tb ") as stored ("K7QXM3TB")."""
    return "".join(ch for ch in (text or "").upper() if ch.isalnum())


def format_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}" if len(code) == CODE_LENGTH else code


class Status(models.TextChoices):
    NEW = "new", _("New")
    IN_PROGRESS = "in_progress", _("In progress")
    WAITING = "waiting", _("Waiting for the citizen")
    VALIDATION = "validation", _("Reply awaiting validation")
    CLOSED = "closed", _("Closed")


OPEN_STATUSES = (Status.NEW, Status.IN_PROGRESS, Status.WAITING, Status.VALIDATION)


class Outcome(models.TextChoices):
    FOUNDED = "founded", _("Founded")
    PARTLY_FOUNDED = "partly_founded", _("Partly founded")
    UNFOUNDED = "unfounded", _("Unfounded")


class Escalation(models.TextChoices):
    MANAGER = "manager", _("A manager")
    MEDIATOR = "mediator", _("The mediator")


class Theme(OrganisationScoped):
    """What a request is about (roads, cleanliness, civil status…), chosen per organisation."""

    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("theme")
        verbose_name_plural = _("themes")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="theme_name_unique")
        ]

    def __str__(self):
        return self.name


class Prestation(OrganisationScoped):
    """An act delivered with an announced delay (passport, civil-status copy, room booking…)."""

    service = models.ForeignKey(Service, on_delete=models.PROTECT, verbose_name=_("service"))
    name = models.CharField(_("name"), max_length=200)
    announced_delay_days = models.PositiveIntegerField(
        _("announced delay in days"), validators=[MinValueValidator(1)]
    )
    day_kind = models.CharField(
        _("days counted"), max_length=10, choices=DayKind.choices, default=DayKind.WORKING
    )
    is_active = models.BooleanField(_("offered"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("service delivery type")
        verbose_name_plural = _("service delivery types")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="prestation_name_unique")
        ]

    def __str__(self):
        return self.name


class RequestSettings(OrganisationScoped):
    """How an organisation handles requests when its référentiel says nothing more precise."""

    default_delay_days = models.PositiveIntegerField(
        _("default answer delay in days"),
        default=15,
        validators=[MinValueValidator(1)],
        help_text=_("Used when no commitment of the référentiel covers a request."),
    )
    default_day_kind = models.CharField(
        _("days counted by default"),
        max_length=10,
        choices=DayKind.choices,
        default=DayKind.WORKING,
    )
    acknowledgement_delay_days = models.PositiveIntegerField(
        _("acknowledgement delay in working days"),
        default=2,
        validators=[MinValueValidator(1)],
        help_text=_("Used when no commitment measures acknowledgements."),
    )
    reminder_days_before = models.PositiveIntegerField(
        _("reminder, working days before the due date"), default=3
    )
    complaint_replies_need_validation = models.BooleanField(
        _("complaint replies are validated by the service head"), default=True
    )
    retention_information_months = models.PositiveIntegerField(
        _("keep information requests (months after closure)"), default=12
    )
    retention_service_months = models.PositiveIntegerField(
        _("keep service requests (months after closure)"), default=36
    )
    retention_complaint_months = models.PositiveIntegerField(
        _("keep complaints (months after closure)"), default=60
    )
    retention_suggestion_months = models.PositiveIntegerField(
        _("keep suggestions (months after closure)"), default=36
    )
    retention_thanks_months = models.PositiveIntegerField(
        _("keep thanks (months after closure)"), default=12
    )

    class Meta:
        verbose_name = _("request settings")
        verbose_name_plural = _("request settings")
        constraints = [
            models.UniqueConstraint(fields=["organisation"], name="one_request_settings")
        ]

    def __str__(self):
        return str(self.organisation)

    def retention_months(self, kind: str) -> int:
        return getattr(self, f"retention_{kind}_months")

    @classmethod
    def of(cls, organisation) -> "RequestSettings":
        found, _created = cls.objects.get_or_create(organisation=organisation)
        return found


class Mailbox(OrganisationScoped):
    """The IMAP mailbox whose messages become requests (one per organisation)."""

    host = models.CharField(_("IMAP server"), max_length=200)
    port = models.PositiveIntegerField(_("port"), default=993)
    use_ssl = models.BooleanField(_("TLS (IMAPS)"), default=True)
    username = models.CharField(_("user name"), max_length=200)
    password = models.CharField(_("password"), max_length=200)
    folder = models.CharField(_("folder read"), max_length=200, default="INBOX")
    processed_folder = models.CharField(
        _("folder for processed messages"), max_length=200, default="Traitees"
    )
    default_service = models.ForeignKey(
        Service,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("service given to new requests"),
    )
    is_active = models.BooleanField(_("read by tick"), default=True)
    last_checked_at = models.DateTimeField(_("last read"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)

    class Meta:
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")
        constraints = [
            models.UniqueConstraint(fields=["organisation"], name="one_mailbox_per_organisation")
        ]

    def __str__(self):
        return f"{self.username}@{self.host}"


class Request(OrganisationScoped):
    code = models.CharField(_("tracking code"), max_length=CODE_LENGTH, editable=False)
    kind = models.CharField(_("kind"), max_length=20, choices=RequestKind.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.NEW
    )

    # The citizen: every field optional, at least one way to answer unless anonymous.
    is_anonymous = models.BooleanField(_("anonymous"), default=False)
    citizen_name = models.CharField(_("name"), max_length=200, blank=True)
    citizen_email = models.EmailField(_("e-mail"), blank=True, db_index=True)
    citizen_phone = models.CharField(_("phone"), max_length=40, blank=True)
    citizen_address = models.TextField(_("postal address"), blank=True)
    citizen_postcode = models.CharField(_("postcode"), max_length=10, blank=True)
    preferred_reply_channel = models.CharField(
        _("preferred reply channel"), max_length=10, choices=Channel.choices, blank=True
    )

    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("message"), blank=True)
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("service")
    )
    site = models.ForeignKey(
        Site, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("site")
    )
    theme = models.ForeignKey(
        Theme, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("theme")
    )
    prestation = models.ForeignKey(
        Prestation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        verbose_name=_("service delivery type"),
    )

    received_at = models.DateTimeField(_("received"), default=timezone.now)
    entered_at = models.DateTimeField(_("entered"), default=timezone.now)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("entered by"),
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_requests",
        verbose_name=_("assigned to"),
    )

    # The due date, and where its delay came from (the commitment's indicator, or the default).
    delay_days = models.PositiveIntegerField(_("delay in days"), default=15)
    day_kind = models.CharField(
        _("days counted"), max_length=10, choices=DayKind.choices, default=DayKind.WORKING
    )
    delay_source = models.CharField(_("delay set by"), max_length=300, blank=True)
    due_at = models.DateTimeField(_("due"), db_index=True)
    paused_at = models.DateTimeField(_("clock paused since"), null=True, blank=True)
    remaining_days = models.PositiveIntegerField(_("days left when paused"), null=True, blank=True)

    acknowledgement_due_at = models.DateTimeField(_("acknowledgement due"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    acknowledgement_channel = models.CharField(
        _("acknowledged by"), max_length=10, choices=Channel.choices, blank=True
    )
    reminded_at = models.DateTimeField(_("reminder sent"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("overdue escalation sent"), null=True, blank=True)

    replied_at = models.DateTimeField(_("answered"), null=True, blank=True, db_index=True)
    # Counted days (the request's day kind, its site's calendar) from receipt to the first
    # answer, fixed when it is sent: the answer-delay percentiles sum these without a calendar.
    answer_days = models.PositiveIntegerField(_("days to answer"), null=True, blank=True)
    # The local days (organisation's time zone) of receipt and of the first answer, stored so
    # that the indicators group millions of requests by day through an index, without a
    # time-zone conversion per row. `save()` and `stamp_days()` keep them in step.
    received_day = models.DateField(_("day received"), null=True, blank=True, editable=False)
    replied_day = models.DateField(_("day answered"), null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, blank=True)

    # A citizen who asks to meet a manager or mentions the mediator.
    wants_escalation = models.BooleanField(_("asks for a manager or the mediator"), default=False)
    escalation = models.CharField(
        _("escalated to"), max_length=10, choices=Escalation.choices, blank=True
    )
    escalation_at = models.DateTimeField(_("escalated on"), null=True, blank=True)
    escalation_due_at = models.DateTimeField(_("escalation due"), null=True, blank=True)
    escalation_closed_at = models.DateTimeField(_("escalation closed"), null=True, blank=True)

    message_id = models.CharField(_("e-mail Message-ID"), max_length=998, blank=True)
    idempotency_key = models.CharField(_("submission key"), max_length=64, blank=True)
    anonymised_at = models.DateTimeField(_("personal data erased"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("request")
        verbose_name_plural = _("requests")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "code"], name="request_code_unique"),
            models.UniqueConstraint(
                fields=["organisation", "message_id"],
                condition=~Q(message_id=""),
                name="request_message_id_unique",
            ),
            models.UniqueConstraint(
                fields=["organisation", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="request_idempotency_key_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["organisation", "status", "due_at"], name="request_queue"),
            models.Index(
                fields=["organisation", "service", "status", "due_at"],
                name="request_service_queue",
            ),
            models.Index(
                fields=["organisation", "assigned_to", "status", "due_at"],
                name="request_agent_queue",
            ),
            models.Index(fields=["organisation", "received_at"], name="request_received"),
            # Covering indexes of the indicators' scans per day of receipt and of the answer:
            # every column they read is in the index, so no table row is visited.
            models.Index(
                fields=[
                    "organisation",
                    "received_day",
                    "service",
                    "kind",
                    "channel",
                    "replied_at",
                    "acknowledgement_due_at",
                    "acknowledged_at",
                ],
                name="request_received_day",
            ),
            models.Index(
                fields=[
                    "organisation",
                    "replied_day",
                    "service",
                    "kind",
                    "channel",
                    "answer_days",
                    "replied_at",
                    "due_at",
                ],
                name="request_replied_day",
            ),
            # The retention job looks for closed requests past their period, every minute.
            models.Index(fields=["organisation", "status", "closed_at"], name="request_retention"),
        ]

    def __str__(self):
        return f"{format_code(self.code)} — {self.subject}"

    @property
    def display_code(self) -> str:
        return format_code(self.code)

    def stamp_days(self) -> list[str]:
        """Set the local days of receipt and answer from their instants; the fields changed."""
        zone = self.organisation.zone
        changed = []
        for instant, day in (("received_at", "received_day"), ("replied_at", "replied_day")):
            value = getattr(self, instant)
            local = timezone.localtime(value, zone).date() if value is not None else None
            if getattr(self, day) != local:
                setattr(self, day, local)
                changed.append(day)
        return changed

    def save(self, *args, **kwargs):
        changed = self.stamp_days()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and changed:
            kwargs["update_fields"] = {*update_fields, *changed}
        super().save(*args, **kwargs)

    @property
    def is_open(self) -> bool:
        return self.status != Status.CLOSED

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    def is_overdue(self, now=None) -> bool:
        now = now or timezone.now()
        if self.is_paused:
            return False
        if self.replied_at is not None:
            return self.replied_at > self.due_at
        return now > self.due_at

    @property
    def answered_in_time(self) -> bool | None:
        if self.replied_at is None:
            return None
        return self.replied_at <= self.due_at

    @cached_property
    def has_personal_data(self) -> bool:
        return self.anonymised_at is None and bool(
            self.citizen_name
            or self.citizen_email
            or self.citizen_phone
            or self.citizen_address
            or self.body
        )


class Attachment(OrganisationScoped):
    request = models.ForeignKey(
        Request, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("request")
    )
    reply = models.ForeignKey(
        "Reply",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="attachments",
        verbose_name=_("reply"),
    )
    file = models.FileField(_("file"), storage=PrivateStorage, upload_to="%Y/%m/")
    name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveIntegerField(_("size in bytes"))
    uploaded_at = models.DateTimeField(_("added"), default=timezone.now)

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self):
        return self.name


class ReplyStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    AWAITING_VALIDATION = "awaiting", _("Awaiting validation")
    REJECTED = "rejected", _("Sent back for changes")
    SENT = "sent", _("Sent")


class ReplyTemplate(OrganisationScoped):
    """A reply text with variables ({{ citizen_name }}, {{ code }}, {{ due_date }}…)."""

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(
        _("for requests of kind"),
        max_length=20,
        choices=RequestKind.choices,
        blank=True,
        help_text=_("Empty: offered for every kind."),
    )
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("text"))
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("reply template")
        verbose_name_plural = _("reply templates")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "name"], name="reply_template_name_unique"
            )
        ]

    def __str__(self):
        return self.name


class Reply(OrganisationScoped):
    request = models.ForeignKey(
        Request, on_delete=models.CASCADE, related_name="replies", verbose_name=_("request")
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("text"))
    template = models.ForeignKey(
        ReplyTemplate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("template"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=ReplyStatus.choices, default=ReplyStatus.DRAFT
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("written by"),
    )
    created_at = models.DateTimeField(_("written"), default=timezone.now)
    validated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("validated by"),
    )
    validated_at = models.DateTimeField(_("validated"), null=True, blank=True)
    review_comment = models.TextField(_("comment of the service head"), blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    email_message_id = models.CharField(_("e-mail Message-ID"), max_length=998, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("reply")
        verbose_name_plural = _("replies")

    def __str__(self):
        return f"{self.request.display_code} — {self.get_channel_display()}"


class Delivery(OrganisationScoped):
    """One act delivered: requested and delivered dates prove the announced delay."""

    prestation = models.ForeignKey(
        Prestation, on_delete=models.PROTECT, verbose_name=_("service delivery type")
    )
    request = models.OneToOneField(
        Request,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="delivery",
        verbose_name=_("request"),
    )
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    requested_at = models.DateTimeField(_("requested"))
    due_at = models.DateTimeField(_("due"))
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )

    class Meta:
        ordering = ["-requested_at", "id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        indexes = [models.Index(fields=["organisation", "requested_at"], name="delivery_requested")]

    def __str__(self):
        return f"{self.prestation} {self.reference}".strip()

    @property
    def delivered_in_time(self) -> bool | None:
        if self.delivered_at is None:
            return None
        return self.delivered_at <= self.due_at


class PersonalDataAccess(OrganisationScoped):
    """Who read or exported a citizen's personal data, and when (RGPD accountability)."""

    class Action(models.TextChoices):
        READ = "read", _("Read")
        EXPORT = "export", _("Export")
        ATTACHMENT = "attachment", _("Attachment opened")

    request = models.ForeignKey(
        Request,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("request"),
    )
    request_code = models.CharField(_("tracking code"), max_length=CODE_LENGTH, blank=True)
    citizen_email = models.EmailField(_("citizen e-mail"), blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("who"),
    )
    user_name = models.CharField(_("who (as then)"), max_length=200)
    action = models.CharField(_("action"), max_length=12, choices=Action.choices)
    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("personal data access")
        verbose_name_plural = _("personal data accesses")

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.user_name} {self.action} {self.request_code}"


@register_event_model
class RequestEvent(EventBase):
    """Every change to a request: intake, due date, assignment, replies, closure."""

    request = models.ForeignKey(
        Request,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("request"),
    )

    class Meta(EventBase.Meta):
        verbose_name = _("request event")
        verbose_name_plural = _("request events")
