"""A signal for the apps above `reception` (indicators) to follow bulk changes.

An import writes calls, visits or appointments by the thousand with bulk statements, which
Django's post_save never sees, and a queue mapping changed in one UPDATE moves many calls to
another service. The reception services send `records_changed` after such writes (inside
their transaction), naming the local days touched, so that the indicators roll those days up
again; single saves and deletes are followed by the indicators' own post_save listeners.
"""

from django.dispatch import Signal

# sender=the model (Call, DeskVisit, Appointment), organisation_id=…, days=the local days
# (datetime.date, in the organisation's time zone) whose records were created or changed.
records_changed = Signal()
