from django.http import HttpResponse

from qualicite.core.permissions import public_organisation


@public_organisation
def track(request, organisation):
    return HttpResponse(status=501)
