from django import template

from qualicite.core.events import actor_display_name

register = template.Library()


@register.filter
def person(user) -> str:
    """A staff member's name as people read it; "—" when there is nobody (or they left)."""
    return actor_display_name(user) if user is not None else "—"
