"""Signals of the core app for the apps above it.

An organisation's time zone decides on which local day every record counts; when it changes
(in the admin), `time_zone_changed` lets the requests app restamp the days it stores and the
indicators roll up their whole history again.
"""

from django.db.models.signals import post_save, pre_save
from django.dispatch import Signal, receiver

from qualicite.core.models import Organisation

# sender=Organisation, organisation=the organisation after the change
time_zone_changed = Signal()


@receiver(pre_save, sender=Organisation, dispatch_uid="core-zone-before")
def _zone_before(sender, instance, **kwargs):
    stored = Organisation.objects.filter(pk=instance.pk).values_list("time_zone", flat=True)
    instance._core_zone_changed = instance.pk is not None and stored.first() not in (
        None,
        instance.time_zone,
    )


@receiver(post_save, sender=Organisation, dispatch_uid="core-zone-after")
def _zone_after(sender, instance, **kwargs):
    if getattr(instance, "_core_zone_changed", False):
        time_zone_changed.send(sender=Organisation, organisation=instance)
