"""The public results page and its poster: no account needed, figures read at request time."""

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from qualicite.core.permissions import public_organisation
from qualicite.indicators import poster as posters
from qualicite.indicators import public_results


@public_organisation
def results(request, organisation):
    found = public_results.build(organisation)
    return render(
        request,
        "indicators/public_results.html",
        {
            "results": found,
            "places": found.by_place,
            "poster_sizes": [(size, paper["page"]) for size, paper in posters.SIZES.items()],
        },
    )


@public_organisation
def poster(request, organisation):
    size = request.GET.get("format", "a4").lower()
    if size not in posters.SIZES:
        raise Http404
    page_url = request.build_absolute_uri(
        reverse("public_results:index", kwargs={"org_slug": organisation.slug})
    )
    content = posters.render(organisation, size, page_url=page_url)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="{posters.filename(organisation, size)}"'
    )
    return response
