"""Signals for the apps above `requests` (indicators) to follow changes to requests.

`services._saved` writes with a conditional queryset update (optimistic locking), which
Django's post_save never sees; it sends `request_updated` instead, with the request as it
is now, so that a listener can compare with what it remembered of it.
"""

from django.dispatch import Signal

# sender=Request, instance=the request after the update, fields=the names written
request_updated = Signal()
