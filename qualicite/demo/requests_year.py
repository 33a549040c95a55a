"""A year of requests for a demo town: every channel and kind, with the seasons of a town hall.

The demo *simulates the past*. The request services stamp the present on every write
(entered_at, replied_at, sent_at, closed_at, the time of each event), and replaying a year
through them costs about 17 ms a request (measured: the demo's 5,000 requests would take a
minute and a half; built here, about 5 s). So this module plans each request's life on the days it
would have happened — received, acknowledged, assigned, answered (a complaint's reply
validated first), closed — and builds the rows exactly as `qualicite.requests.services`
writes them: the same fields and version counter, the same RequestEvent verbs and details,
due dates from the same `deadlines` rules and calendar. They are then inserted in bulk.
tests/demo/test_demo.py replays a demo request through the services and compares the two.

Only what happened before the start of today is written, so a town always has requests
still open, some waiting for the citizen, some awaiting validation and a few overdue.
The result depends only on the seed and the day it runs.
"""

import random
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.utils.text import slugify

from qualicite.core import events, permissions
from qualicite.core.choices import Channel, RequestKind
from qualicite.core.models import Membership, Site
from qualicite.core.permissions import Perm
from qualicite.demo.requests_write import write_year
from qualicite.demo.towns import FIRST_NAMES, LAST_NAMES, REPLY_TEMPLATES, STREETS
from qualicite.requests import deadlines, services
from qualicite.requests.models import (
    CODE_ALPHABET,
    CODE_LENGTH,
    Delivery,
    Outcome,
    Prestation,
    Reply,
    ReplyStatus,
    ReplyTemplate,
    Request,
    RequestEvent,
    RequestSettings,
    Status,
    Theme,
)

# More requests at the start of the school year and of the calendar year, few in August.
MONTH_WEIGHTS = {1: 1.3, 2: 1.0, 3: 1.05, 4: 1.0, 5: 0.9, 6: 1.0}
MONTH_WEIGHTS |= {7: 0.75, 8: 0.45, 9: 1.45, 10: 1.1, 11: 1.0, 12: 0.8}
# Identity documents peak before the summer holidays.
IDENTITY_MONTHS = {1: 0.8, 2: 0.9, 3: 1.2, 4: 1.4, 5: 1.5, 6: 1.3}
IDENTITY_MONTHS |= {7: 1.0, 8: 0.5, 9: 0.8, 10: 0.8, 11: 0.8, 12: 0.7}
WEEKDAY_WEIGHTS = (1.35, 1.1, 1.0, 1.05, 0.95, 0.3, 0.2)
ONLINE = (Channel.EMAIL, Channel.WEB, Channel.API, Channel.SOCIAL)
KIND_CHANNELS = {
    RequestKind.INFORMATION: {"phone": 35, "desk": 25, "email": 20, "web": 12, "letter": 3},
    RequestKind.SERVICE: {"desk": 30, "web": 25, "email": 20, "letter": 15, "phone": 8},
    RequestKind.COMPLAINT: {"email": 28, "web": 25, "letter": 20, "phone": 12, "desk": 10},
    RequestKind.SUGGESTION: {"web": 40, "email": 25, "desk": 15, "social": 10, "letter": 10},
    RequestKind.THANKS: {"email": 35, "desk": 25, "letter": 15, "web": 15, "phone": 10},
}
KIND_CHANNELS[RequestKind.INFORMATION] |= {"social": 4, "api": 1}
KIND_CHANNELS[RequestKind.SERVICE] |= {"api": 2}
KIND_CHANNELS[RequestKind.COMPLAINT] |= {"social": 5}
# Late answers: a few all year, twice as many in August when staff are on leave.
LATE_RATE, AUGUST_LATE_RATE = 0.05, 0.11
# Acts are promised for a day: few come late, or the delivery commitment would never be met.
DELIVERY_LATE_RATE = 0.02
UNDELIVERED_RATE = 0.005  # never marked delivered: the ones the deliveries page must show
# Never answered: the overdue ones the queue must show, among the recent requests. Older
# forgotten ones were found at last and answered very late: a town does not leave a request
# unanswered for months, and its dashboard shows the lapse as late answers.
FORGOTTEN_RATE, FORGOTTEN_FOR_DAYS, FOUND_LATE_RATE = 0.015, 60, 0.005
IMMEDIATE_RATE = 0.65  # phone and desk questions answered there and then
PAUSED_RATE = 0.12  # open requests waiting for a document from the citizen
OUTCOMES = {Outcome.FOUNDED: 40, Outcome.PARTLY_FOUNDED: 25, Outcome.UNFOUNDED: 35}
PAUSE_REASON = "Pièce justificative demandée à l'usager."

WRITTEN = {
    RequestKind.INFORMATION: "Pourriez-vous me renseigner : {subject} ?",
    RequestKind.SERVICE: "Je souhaite faire la demande suivante : {subject}.",
    RequestKind.COMPLAINT: "Je souhaite vous faire part de mon mécontentement : {subject}.",
    RequestKind.SUGGESTION: "Je me permets de vous proposer une idée : {subject}.",
    RequestKind.THANKS: "{subject} !",
}
SPOKEN = {Channel.PHONE: "Appel de l'usager : {subject}.", Channel.DESK: "À l'accueil : {subject}."}
# The variable syntax of reply templates (services.fill_template).
VARIABLE = re.compile(r"{{\s*(\w+)\s*}}")
MEDIATOR = " Sans réponse satisfaisante, je saisirai le médiateur."


def _weighted(rng: random.Random, weights: dict):
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


# Configuration ------------------------------------------------------------------------------


def _created(obj, created: bool) -> None:
    """Log what the administrator's screens would have logged for the same row."""
    if created:
        events.record(
            RequestEvent,
            organisation=obj.organisation,
            actor=None,
            verb=f"{obj._meta.model_name}.created",
            subject=obj,
            details={"via": "demo"},
        )


def configure(organisation, setup: dict) -> dict:
    """Themes, prestations, reply templates and settings; changes nothing on a second run."""
    services_by_code = {s.code: s for s in organisation.service_set.all()}
    config, created = RequestSettings.objects.get_or_create(
        organisation=organisation, defaults=setup["settings"]
    )
    _created(config, created)
    themes = {}
    for position, name in enumerate(setup["themes"]):
        themes[name], created = Theme.objects.get_or_create(
            organisation=organisation, name=name, defaults={"position": position}
        )
        _created(themes[name], created)
    prestations = {}
    for position, (name, code, days, day_kind, *_rest) in enumerate(setup["prestations"]):
        prestations[name], created = Prestation.objects.get_or_create(
            organisation=organisation,
            name=name,
            defaults={
                "service": services_by_code[code],
                "announced_delay_days": days,
                "day_kind": day_kind,
                "position": position,
            },
        )
        _created(prestations[name], created)
    templates = {}
    for name, kind, subject, body in REPLY_TEMPLATES:
        templates[name], created = ReplyTemplate.objects.get_or_create(
            organisation=organisation,
            name=name,
            defaults={"kind": kind, "subject": subject, "body": body},
        )
        _created(templates[name], created)
    return {"settings": config, "themes": themes, "prestations": prestations, **templates}


# Staff --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Handler:
    user: object
    can_validate: bool
    services: frozenset[int] | None  # None: the whole organisation


def _handlers(organisation) -> list[Handler]:
    found = []
    rows = Membership.objects.filter(organisation=organisation, is_active=True)
    for membership in rows.select_related("user").order_by("pk"):
        user = membership.user
        if not permissions.has_perm(user, organisation, Perm.HANDLE_REQUESTS):
            continue
        allowed = permissions.restricted_service_ids(user, organisation)
        found.append(
            Handler(
                user,
                permissions.has_perm(user, organisation, Perm.VALIDATE_REPLIES),
                None if allowed is None else frozenset(allowed),
            )
        )
    return found


def _covering(pool: list[Handler], service) -> list[Handler]:
    """The service's own staff first; the whole-organisation staff when it has none."""
    own = [h for h in pool if h.services is not None and service.pk in h.services]
    return own or [h for h in pool if h.services is None]


# The simulation -----------------------------------------------------------------------------


@dataclass
class Life:
    """One request as the services would have left it, with its events still to write."""

    request: Request
    events: list = field(default_factory=list)
    reply: Reply | None = None
    delivery: Delivery | None = None
    outcome: str = ""  # a complaint's, decided with its reply and recorded when it closes
    site: Site | None = None  # whose calendar counted the due date

    def log(self, at, actor, verb, **details):
        self.events.append((at, actor, verb, details))

    def saved(self):
        # services._saved: every save after the first adds one to the version.
        self.request.version += 1


class Year:
    def __init__(self, organisation, setup: dict, config: dict, *, seed: int, today: date):
        self.organisation = organisation
        self.setup = setup
        self.config = config
        self.rng = random.Random(f"{seed}:{organisation.slug}:requests")
        self.zone = organisation.zone
        self.cutoff = datetime.combine(today, time.min, tzinfo=self.zone)
        self.days = [today - timedelta(days=n) for n in range(365, 0, -1)]
        self.services = {s.code: s for s in organisation.service_set.all()}
        self.handlers = _handlers(organisation)
        self.codes: set[str] = set()
        self.citizens = 0
        self.mail_domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].split("@")[-1]
        self._delays: dict = {}
        self._sites: dict = {}
        self._calendars: dict = {}
        self.main_calendar = self.calendar(None, "working")
        # The month before today is a busy one (setup["busy"]): more requests, one service
        # short of staff. Being the last month closed, it is the one the dashboard opens on
        # and the one the alerts judge, so a fresh demo shows missed commitments at once.
        self.busy = setup.get("busy", {})
        self.busy_end = today.replace(day=1) - timedelta(days=1)
        self.busy_start = self.busy_end.replace(day=1)
        self.busy_services = set()
        if self.busy:
            root = self.services[self.busy["service"]]
            self.busy_services = {
                s.pk for s in self.services.values() if root.pk in (s.pk, s.parent_id)
            }

    # Dates, through the same rules as the services ---------------------------------------

    def site(self, service):
        if service.pk not in self._sites:
            self._sites[service.pk] = deadlines.site_for(
                self.organisation, site=None, service=service
            )
        return self._sites[service.pk]

    def calendar(self, site, day_kind):
        key = (site.pk if site else None, str(day_kind))
        if key not in self._calendars:
            self._calendars[key] = deadlines.calendar(
                self.organisation, site=site, day_kind=day_kind
            )
        return self._calendars[key]

    def delays(self, kind, channel, service, prestation):
        key = (kind, channel, service.pk, prestation.pk if prestation else None)
        if key not in self._delays:
            self._delays[key] = (
                deadlines.answer_delay(
                    self.organisation,
                    kind=kind,
                    channel=channel,
                    service=service,
                    prestation=prestation,
                ),
                deadlines.acknowledgement_delay(
                    self.organisation, kind=kind, channel=channel, service=service
                ),
            )
        return self._delays[key]

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=self.zone)

    def office_moment(self, day: date) -> datetime:
        return self.at(day, self.rng.randint(9, 16), self.rng.randrange(60))

    def in_busy_month(self, instant: datetime) -> bool:
        return self.busy_start <= instant.astimezone(self.zone).date() <= self.busy_end

    def late_rate(self, request: Request) -> float:
        """The busy service misses the due dates that fall in the busy month."""
        if request.service_id in self.busy_services and self.in_busy_month(request.due_at):
            return self.busy["late_rate"]
        return AUGUST_LATE_RATE if request.entered_at.month == 8 else LATE_RATE

    def open_day_after(self, instant: datetime, n: int, calendar=None) -> date:
        calendar = calendar or self.main_calendar
        return calendar.local_date(calendar.add_days(instant, n))

    # Who writes ------------------------------------------------------------------------

    def code(self) -> str:
        while True:
            code = "".join(self.rng.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if code not in self.codes:
                self.codes.add(code)
                return code

    def handler(self, service) -> Handler:
        return self.rng.choice(_covering(self.handlers, service))

    def validator(self, service) -> Handler:
        return self.rng.choice(_covering([h for h in self.handlers if h.can_validate], service))

    def citizen(self, channel: str) -> dict:
        rng = self.rng
        self.citizens += 1
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{slugify(first)}.{slugify(last)}{self.citizens % 89}@example.org"
        phone = "0{} {:02d} {:02d} {:02d} {:02d}".format(
            rng.choice("67"), *(rng.randrange(100) for _ in range(4))
        )
        postcode = self.setup["postcode"]
        address = f"{rng.randint(1, 120)} {rng.choice(STREETS)}\n{postcode} {self.setup['city']}"
        written = channel in ONLINE or rng.random() < 0.3
        fields = {"citizen_name": f"{first} {last}"}
        if written:
            fields["citizen_email"] = email
        if channel == Channel.PHONE or (channel != Channel.LETTER and rng.random() < 0.45):
            fields["citizen_phone"] = phone
        if channel == Channel.LETTER or (channel == Channel.DESK and "citizen_phone" not in fields):
            fields |= {"citizen_address": address, "citizen_postcode": postcode}
        return fields

    # One request -----------------------------------------------------------------------

    def received_moment(self, day: date, channel: str) -> datetime:
        rng = self.rng
        if channel in (Channel.PHONE, Channel.DESK):
            return self.at(day, rng.choice((9, 9, 10, 10, 11, 14, 15, 16)), rng.randrange(60))
        if channel == Channel.LETTER:
            return self.at(day, rng.choice((9, 10)), rng.randrange(60))
        hour = rng.randint(8, 19) if rng.random() < 0.75 else rng.choice((6, 7, 20, 21, 22))
        return self.at(day, hour, rng.randrange(60))

    def receive(self, day: date, topic: tuple, channel: str) -> Life:
        """What services.create_request writes."""
        rng = self.rng
        service_code, theme_name, kind, subject, prestation_name = topic
        service = self.services[service_code]
        prestation = self.config["prestations"].get(prestation_name)
        anonymous = kind == RequestKind.THANKS and channel == Channel.WEB and rng.random() < 0.3
        citizen = {} if anonymous else self.citizen(channel)
        received = self.received_moment(day, channel)
        enterer = None
        entered = received
        if channel == Channel.EMAIL:
            entered = received + timedelta(minutes=rng.randint(1, 10))  # the mailbox poll
        elif channel in (Channel.LETTER, Channel.SOCIAL):
            entered = received + timedelta(minutes=rng.randint(40, 300))
        if channel in (Channel.PHONE, Channel.LETTER, Channel.SOCIAL):
            enterer = self.handler(self.services.get("accueil", service)).user
        elif channel == Channel.DESK:
            enterer = self.handler(service).user
        if kind == RequestKind.COMPLAINT:
            body_kind = WRITTEN[kind] + (MEDIATOR if rng.random() < 0.03 else "")
        else:
            body_kind = WRITTEN[kind]
        said = subject if kind == RequestKind.THANKS else subject[0].lower() + subject[1:]
        body = SPOKEN.get(channel, body_kind).format(subject=said.rstrip(" ?"))
        answer, acknowledge = self.delays(kind, channel, service, prestation)
        site = self.site(service)
        request = Request(
            organisation=self.organisation,
            code=self.code(),
            kind=kind,
            channel=channel,
            subject=subject.strip()[:300],
            body=body,
            service=service,
            theme=self.config["themes"][theme_name],
            prestation=prestation if kind == RequestKind.SERVICE else None,
            received_at=received,
            entered_at=entered,
            entered_by=enterer,
            is_anonymous=anonymous,
            wants_escalation=services.mentions_escalation(subject, body),
            status=Status.NEW,
            version=1,
            **citizen,
        )
        if channel == Channel.EMAIL:
            request.message_id = f"<{rng.getrandbits(64):016x}@example.org>"
        elif channel in (Channel.WEB, Channel.API):
            request.idempotency_key = f"{rng.getrandbits(128):032x}"
        request.delay_days, request.day_kind = answer.days, answer.day_kind
        request.delay_source = answer.source[:300]
        request.due_at = self.calendar(site, answer.day_kind).add_days(received, answer.days)
        if not anonymous:
            request.acknowledgement_due_at = self.calendar(site, acknowledge.day_kind).add_days(
                received, acknowledge.days
            )
            if channel in (Channel.PHONE, Channel.DESK):
                request.acknowledged_at, request.acknowledgement_channel = entered, channel
        life = Life(request, site=site)
        life.log(
            entered,
            enterer,
            "request.received",
            kind=kind,
            channel=channel,
            service=str(service or ""),
            due_at=request.due_at.isoformat(),
            delay=f"{request.delay_days} {request.day_kind}",
            delay_source=request.delay_source,
            back_dated=received < entered - timedelta(minutes=5),
        )
        return life

    def live(self, life: Life) -> None:
        """Acknowledge, assign, answer and close on the days it would have happened."""
        rng, request = self.rng, life.request
        kind, channel = request.kind, request.channel
        calendar = self.calendar(self.site(request.service), request.day_kind)
        immediate = (
            channel in (Channel.PHONE, Channel.DESK)
            and kind in (RequestKind.INFORMATION, RequestKind.THANKS)
            and rng.random() < IMMEDIATE_RATE
        )
        silent_thanks = kind == RequestKind.THANKS and (request.is_anonymous or rng.random() < 0.5)
        entered = request.entered_at
        recent = entered >= self.cutoff - timedelta(days=FORGOTTEN_FOR_DAYS)
        lapse = rng.random()
        forgotten = not immediate and recent and lapse < FORGOTTEN_RATE
        found_late = not immediate and not recent and lapse < FOUND_LATE_RATE
        # When the answer goes out, in days counted as the delay counts them.
        if forgotten:
            answered = None
        elif immediate:
            answered = entered + timedelta(minutes=rng.randint(2, 12))
        else:
            days = request.delay_days
            if found_late:
                days += rng.randint(10, 30)
            elif rng.random() < self.late_rate(request):
                days += rng.randint(1, max(2, days // 3))
            else:
                days = min(days, int(days * rng.betavariate(1.3, 3.0)))
            answered = max(
                self.office_moment(self.open_day_after(request.received_at, days, calendar)),
                entered + timedelta(minutes=rng.randint(20, 90)),
            )
        handler = (
            Handler(request.entered_by, False, None) if immediate else self.handler(request.service)
        )
        silently_closed = None
        if silent_thanks:
            silently_closed = entered + timedelta(days=1, hours=rng.randint(0, 6))
        # Nothing happens after the request is answered (or closed), nor after today began.
        horizon = silently_closed or answered or self.cutoff
        if not request.is_anonymous and request.acknowledged_at is None:
            self.acknowledge(life, horizon, handler)
        assigned = None
        if not immediate:
            # Taken when the service next opens: requests of the evening wait for the morning.
            assigned = calendar.effective_start(entered) + timedelta(minutes=rng.randint(10, 240))
            if rng.random() < 0.15:
                assigned = self.at(self.open_day_after(assigned, 1), 9, rng.randrange(60))
            assigned = max(min(assigned, horizon - timedelta(minutes=5)), entered)
            if assigned < self.cutoff:
                self.assign(life, assigned, handler)
        self.deliver(life, answered, handler)
        if silently_closed is not None:
            if silently_closed < self.cutoff:
                self.close(life, silently_closed, handler)
            return
        sent = answered is not None and self.answer(life, answered, handler, immediate=immediate)
        if not sent:
            if assigned is not None and assigned < self.cutoff and not life.reply:
                self.maybe_pause(life, assigned, calendar)
            return
        closed = answered + (
            timedelta(minutes=1) if immediate else timedelta(days=rng.choice((0, 0, 1, 2, 3)))
        )
        if closed < self.cutoff:
            self.close(life, closed, handler)

    def acknowledge(self, life: Life, horizon: datetime, handler: Handler) -> None:
        """E-mailed by the platform as soon as it is entered; otherwise a letter from an agent."""
        request = life.request
        if request.citizen_email:
            at, actor, channel = request.entered_at + timedelta(minutes=1), None, Channel.EMAIL
        else:
            day = self.open_day_after(request.entered_at, self.rng.choice((0, 1, 1, 2, 3)))
            at, actor, channel = self.at(day, 16, self.rng.randrange(60)), handler.user, "letter"
            at = max(min(at, horizon - timedelta(minutes=1)), request.entered_at)
        if at >= self.cutoff:
            return
        request.acknowledged_at, request.acknowledgement_channel = at, channel
        life.saved()
        life.log(at, actor, "request.acknowledged", channel=channel)

    def assign(self, life: Life, at: datetime, handler: Handler) -> None:
        request = life.request
        request.assigned_to = handler.user
        if request.status == Status.NEW:
            request.status = Status.IN_PROGRESS
        life.saved()
        life.log(at, handler.user, "request.assigned", assignee=_name(handler.user))

    def maybe_pause(self, life: Life, assigned: datetime, calendar) -> None:
        request = life.request
        if request.kind not in (RequestKind.SERVICE, RequestKind.INFORMATION):
            return
        if self.rng.random() >= PAUSED_RATE:
            return
        # Only a clock that still runs today: nobody waits a year for a missing document.
        at = self.at(self.open_day_after(assigned, 1), 11)
        if at >= self.cutoff or request.due_at <= self.cutoff:
            return
        request.remaining_days = calendar.count_days(at, request.due_at)
        request.paused_at, request.status = at, Status.WAITING
        life.saved()
        life.log(
            at,
            request.assigned_to,
            "request.paused",
            reason=PAUSE_REASON,
            days_left=request.remaining_days,
        )

    def reply_channel(self, request: Request, immediate: bool) -> str:
        if immediate:
            return request.channel
        if request.channel == Channel.LETTER and request.citizen_address:
            return Channel.LETTER
        if request.channel in (Channel.PHONE, Channel.DESK) and self.rng.random() < 0.5:
            return request.channel
        if request.citizen_email:
            return Channel.EMAIL
        if request.citizen_phone:
            return Channel.PHONE
        return Channel.LETTER if request.citizen_address else Channel.DESK

    def template(self, life: Life) -> ReplyTemplate:
        request = life.request
        names = {
            RequestKind.INFORMATION: "Réponse à une demande d'information",
            RequestKind.SERVICE: "Votre demande est traitée",
            RequestKind.SUGGESTION: "Merci pour votre suggestion",
            RequestKind.THANKS: "Merci pour votre message",
        }
        if request.kind == RequestKind.COMPLAINT:
            founded = life.outcome != Outcome.UNFOUNDED
            return self.config["Réclamation fondée" if founded else "Réclamation non fondée"]
        return self.config[names[request.kind]]

    def answer(self, life: Life, at: datetime, handler: Handler, *, immediate: bool) -> bool:
        """services.submit_reply (and review_reply when the author may not validate a complaint).

        True when the reply went out before today; a complaint reply written but not yet
        validated leaves the request awaiting validation.
        """
        rng, request = self.rng, life.request
        needs_validation = (
            request.kind == RequestKind.COMPLAINT
            and self.config["settings"].complaint_replies_need_validation
            and not handler.can_validate
        )
        written = at
        if needs_validation:
            # Written a day or two before the head validates it, after everything before.
            day = self.main_calendar.local_date(at) - timedelta(days=rng.choice((0, 1, 1, 2)))
            while not self.main_calendar.is_open_day(day):
                day -= timedelta(days=1)
            latest = max(event[0] for event in life.events) + timedelta(minutes=1)
            written = min(at, max(self.office_moment(day), latest))
        if written >= self.cutoff:
            return False
        if request.kind == RequestKind.COMPLAINT:
            life.outcome = _weighted(rng, OUTCOMES)
        template = self.template(life)
        values = services.template_variables(request)
        channel = self.reply_channel(request, immediate)
        reply = Reply(
            organisation=self.organisation,
            request=request,
            channel=channel,
            subject=_filled(template.subject, values).strip()[:300],
            body=_filled(template.body, values),
            template=template,
            author=handler.user,
            created_at=written,
            status=ReplyStatus.DRAFT,
        )
        life.reply = reply
        sender = handler
        if needs_validation:
            reply.status = ReplyStatus.AWAITING_VALIDATION
            request.status = Status.VALIDATION
            life.saved()
            life.log(written, handler.user, "reply.submitted", channel=channel, reply=None)
            if at >= self.cutoff:
                return False
            sender = self.validator(request.service)
            reply.validated_by, reply.validated_at = sender.user, at
            life.log(at, sender.user, "reply.validated", reply=None)
        if channel == Channel.EMAIL:
            stamp = int(at.timestamp())
            reply.email_message_id = f"<{stamp}.{rng.randrange(10**9)}@{self.mail_domain}>"
        reply.status, reply.sent_at = ReplyStatus.SENT, at
        request.status = Status.IN_PROGRESS
        request.replied_at = at
        request.answer_days = self.calendar(life.site, request.day_kind).count_days(
            request.received_at, at
        )
        request.paused_at = request.remaining_days = None
        life.saved()
        life.log(
            at,
            sender.user,
            "reply.sent",
            channel=channel,
            reply=None,
            in_time=request.replied_at <= request.due_at,
        )
        return True

    def close(self, life: Life, at: datetime, handler: Handler) -> None:
        request = life.request
        request.status, request.closed_at = Status.CLOSED, at
        request.outcome = life.outcome if request.kind == RequestKind.COMPLAINT else ""
        request.paused_at = request.remaining_days = None
        life.saved()
        life.log(at, handler.user, "request.closed", outcome=request.outcome)

    def deliver(self, life: Life, answered: datetime | None, handler: Handler) -> None:
        """A prestation asked for: services.record_delivery, then mark_delivered when done."""
        request = life.request
        prestation = request.prestation
        if prestation is None or request.entered_at >= self.cutoff:
            return
        delivery = self.delivery(prestation, request.received_at)
        delivery.request, delivery.recorded_by = request, request.entered_by or handler.user
        recorded = request.entered_at + timedelta(minutes=1)
        life.delivery = delivery
        life.log(
            recorded,
            delivery.recorded_by,
            "delivery.recorded",
            prestation=prestation.name,
            reference=delivery.reference,
        )
        if answered is not None and answered - timedelta(minutes=1) < self.cutoff:
            delivery.delivered_at = max(answered - timedelta(minutes=1), delivery.requested_at)
            life.log(
                delivery.delivered_at,
                handler.user,
                "delivery.delivered",
                prestation=prestation.name,
            )

    def delivery(self, prestation, requested: datetime) -> Delivery:
        delay = deadlines.Delay(
            prestation.announced_delay_days, prestation.day_kind, prestation.name
        )
        site = self.site(prestation.service)
        prefix = next(p[5] for p in self.setup["prestations"] if p[0] == prestation.name)
        return Delivery(
            organisation=self.organisation,
            prestation=prestation,
            reference=f"{prefix}-{requested.year}-{self.rng.randrange(10**5):05d}",
            requested_at=requested,
            due_at=self.calendar(site, delay.day_kind).add_days(requested, delay.days),
        )

    # The year --------------------------------------------------------------------------

    def topics(self) -> tuple[list, list]:
        topics, weights = [], []
        for (service, theme), rows in self.setup["topics"].items():
            for kind, weight, subject, *prestation in rows:
                topics.append((service, theme, kind, subject, prestation[0] if prestation else ""))
                weights.append(weight)
        return topics, weights

    def channel(self, topic: tuple, day_open: bool) -> str:
        prestation = next((p for p in self.setup["prestations"] if p[0] == topic[4]), None)
        weights = dict((prestation[6] if prestation else {}).get("channels") or {})
        weights = weights or KIND_CHANNELS[topic[2]]
        if not day_open:
            weights = {c: w for c, w in weights.items() if c in ONLINE} or {Channel.WEB: 1}
        return _weighted(self.rng, weights)

    def per_day(self, total: float, months: dict, busy: float = 1) -> list[tuple[date, int]]:
        """How many on each day of the year: month and weekday weights, rounded at random.

        The days of the busy month get `busy` times their usual share, on top of `total`.
        """
        scale = [months[d.month] * WEEKDAY_WEIGHTS[d.weekday()] for d in self.days]
        unit = total / sum(scale)
        counts = []
        for day, weight in zip(self.days, scale, strict=True):
            if self.busy_start <= day <= self.busy_end:
                weight *= busy
            expected = weight * unit
            counts.append((day, int(expected) + (self.rng.random() < expected % 1)))
        return counts

    def requests(self) -> list[Life]:
        topics, weights = self.topics()
        lives = []
        volume = self.busy.get("volume", 1)
        for day, count in self.per_day(self.setup["per_year"], MONTH_WEIGHTS, volume):
            day_open = self.main_calendar.is_open_day(day)
            for topic in self.rng.choices(topics, weights=weights, k=count):
                life = self.receive(day, topic, self.channel(topic, day_open))
                if life.request.entered_at < self.cutoff:
                    self.live(life)
                    lives.append(life)
        return lives

    def counter_deliveries(self) -> list[Delivery]:
        """Identity documents handed over at the counter: deliveries with no request."""
        made = []
        for name, _code, days, _kind, per_year, _prefix, _extra in self.setup["prestations"]:
            if not per_year:
                continue
            prestation = self.config["prestations"][name]
            calendar = self.calendar(self.site(prestation.service), prestation.day_kind)
            for day, count in self.per_day(per_year, IDENTITY_MONTHS):
                if not calendar.is_open_day(day):
                    continue
                for _n in range(count):
                    requested = self.office_moment(day)
                    delivery = self.delivery(prestation, requested)
                    delivery.recorded_by = self.handler(prestation.service).user
                    late_rate = DELIVERY_LATE_RATE
                    if prestation.service_id in self.busy_services and self.in_busy_month(
                        delivery.due_at
                    ):
                        late_rate = self.busy.get("delivery_late_rate", late_rate)
                    if self.rng.random() < late_rate:
                        took = days + self.rng.randint(1, 8)
                    else:
                        took = self.rng.randint(max(1, days * 2 // 5), days)
                    handed = self.office_moment(self.open_day_after(requested, took, calendar))
                    # A few are never marked delivered: the late ones the page must show.
                    if handed < self.cutoff and self.rng.random() >= UNDELIVERED_RATE:
                        delivery.delivered_at = handed
                    made.append(delivery)
        return made


def _filled(text: str, values: dict) -> str:
    """services.fill_template with the variables read once for the subject and the body."""
    return VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _name(user) -> str:
    return events.actor_display_name(user)


def build_year(organisation, setup: dict, *, seed: int, today: date) -> int:
    """Configure the town and give it a year of requests; 0 when it already has requests."""
    config = configure(organisation, setup)
    if Request.objects.filter(organisation=organisation).exists():
        return 0
    year = Year(organisation, setup, config, seed=seed, today=today)
    lives = year.requests()
    write_year(organisation, lives, year.counter_deliveries())
    return len(lives)
