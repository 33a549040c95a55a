"""An organisation's administrator configures services in the Django admin, and only theirs."""

from qualicite.core.models import Role, Service
from tests.conftest import PASSWORD
from tests.core.admin_support import staff
from tests.e2e.browser import screenshot, tr


def test_administrator_adds_a_service_and_sees_only_their_organisation(
    journey, users, org, other_org
):
    page = journey.page
    administrator = staff(users[Role.ADMINISTRATOR])
    journey.log_in(administrator, PASSWORD)

    # The header link leads to the admin; its Services list holds Ville A's services only.
    journey.follow(page.locator("header .account").get_by_role("link", name=tr("Administration")))
    assert journey.path == "/admin/"
    journey.follow(page.locator("#content-main a[href='/admin/core/service/']").first)
    assert journey.path == "/admin/core/service/"
    names = page.locator("#result_list tbody th a").all_inner_texts()
    assert sorted(names) == sorted(org.service_set.values_list("name", flat=True))
    assert not set(names) & {"Ville B"}
    assert "Ville B" not in page.locator("#changelist-filter").inner_text()
    screenshot(page, "admin-services")

    # Add Urbanisme: the organisation is chosen for the administrator, the code prefilled.
    journey.follow(page.locator(".object-tools a.addlink"))
    assert journey.path == "/admin/core/service/add/"
    page.locator("#id_name").press_sequentially("Urbanisme")
    assert page.locator("#id_code").input_value() == "urbanisme"
    journey.follow(page.locator("input[name='_save']"))
    assert journey.path == "/admin/core/service/"
    assert page.locator(".messagelist .success").count() == 1
    created = Service.objects.get(code="urbanisme")
    assert created.organisation == org
    assert not other_org.service_set.filter(code="urbanisme").exists()


def test_administrator_of_one_town_gets_404_on_the_other_towns_service(
    journey, users, org, other_org
):
    administrator = staff(users[Role.ADMINISTRATOR])
    journey.log_in_as(administrator)
    theirs = other_org.service_set.get(code="accueil")
    # Django's admin answers an object outside the queryset by redirecting to its index
    # with a message: the other town's service is never shown.
    journey.goto(f"/admin/core/service/{theirs.pk}/change/")
    assert journey.path == "/admin/"
    assert page_text_has_no(journey.page, theirs.organisation.name)


def page_text_has_no(page, text: str) -> bool:
    return text not in page.locator("body").inner_text()
