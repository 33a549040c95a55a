from django.http import HttpResponse

from qualicite.core.permissions import Perm, organisation_view


@organisation_view(Perm.VIEW_WORKSPACE)
def detail(request, organisation, pk):
    return HttpResponse(status=501)
