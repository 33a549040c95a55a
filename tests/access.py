"""Run every staff URL as every role, anonymous and a user of another organisation.

Each app lists its pages as `Page` rows in its own test module and calls
`assert_access(...)`; adding a view means adding one row, so the isolation
proof keeps up with the code.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.urls import reverse

from qualicite.core.models import Role

EVERY_ROLE = frozenset(Role.values) | {"restricted_agent"}
# Roles that may change the référentiel or the organisation's set-up.
READ_ONLY_ROLES = frozenset({Role.AGENT, Role.SERVICE_HEAD, Role.AUDITOR, Role.DIRECTION})


@dataclass
class Page:
    url_name: str
    allowed: frozenset[str] | set[str]
    # Extra URL kwargs; a callable receives the organisation and returns the value.
    kwargs: dict[str, object | Callable] = field(default_factory=dict)
    method: str = "get"
    data: dict | None = None
    # Status for a role that is not allowed (403), or overrides per role (e.g. 404).
    denied_status: int = 403
    status_for: dict[str, int] = field(default_factory=dict)
    ok_statuses: tuple[int, ...] = (200,)

    def url(self, organisation) -> str:
        kwargs = {"org_slug": organisation.slug}
        for key, value in self.kwargs.items():
            kwargs[key] = value(organisation) if callable(value) else value
        return reverse(self.url_name, kwargs=kwargs)


def _request(client, page: Page, url: str):
    if page.method == "get":
        return client.get(url)
    return client.post(url, page.data or {})


def assert_access(client_for, organisation, users: dict, other_users: dict, pages: Iterable[Page]):
    """Fail with every mismatch at once: (page, who, expected, got)."""
    problems = []
    for page in pages:
        url = page.url(organisation)
        response = _request(client_for(None), page, url)
        if response.status_code != 302 or "/connexion/" not in response["Location"]:
            problems.append((url, "anonymous", "302 to login", response.status_code))
        for role, user in users.items():
            if role in page.status_for:
                expected = (page.status_for[role],)
            elif role in page.allowed:
                expected = page.ok_statuses
            else:
                expected = (page.denied_status,)
            got = _request(client_for(user), page, url).status_code
            if got not in expected:
                problems.append((url, role, expected, got))
        for role, user in other_users.items():
            got = _request(client_for(user), page, url).status_code
            if got not in (403, 404):
                problems.append((url, f"other organisation's {role}", "403/404", got))
    assert not problems, "\n".join(map(str, problems))
