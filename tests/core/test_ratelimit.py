"""The rate limit counts hits per purpose and client address over a sliding window."""

import pytest
from django.core.cache import cache
from django.test import RequestFactory

from qualicite.core.ratelimit import RateLimit, client_address

LIMIT = RateLimit("test-purpose", limit=3, window=600)


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def from_address(address: str, **meta):
    return RequestFactory().get("/", REMOTE_ADDR=address, **meta)


def test_it_allows_hits_up_to_the_limit_then_refuses():
    request = from_address("203.0.113.7")
    for _ in range(LIMIT.limit):
        assert not LIMIT.exceeded(request, now=1000.0)
        LIMIT.hit(request, now=1000.0)
    assert LIMIT.exceeded(request, now=1000.0)


def test_checking_does_not_count_as_a_hit():
    request = from_address("203.0.113.7")
    for _ in range(LIMIT.limit * 2):
        assert not LIMIT.exceeded(request, now=1000.0)


def test_the_window_slides_so_old_hits_stop_counting():
    request = from_address("203.0.113.7")
    LIMIT.hit(request, now=1000.0)
    LIMIT.hit(request, now=1300.0)
    LIMIT.hit(request, now=1500.0)
    assert LIMIT.exceeded(request, now=1599.0)
    # The first hit is 600 s old at 1600: two hits remain in the window.
    assert not LIMIT.exceeded(request, now=1600.0)
    LIMIT.hit(request, now=1600.0)
    assert LIMIT.exceeded(request, now=1600.0)


def test_it_says_how_long_to_wait():
    request = from_address("203.0.113.7")
    for moment in (1000.0, 1100.0, 1200.0):
        LIMIT.hit(request, now=moment)
    assert LIMIT.retry_after(request, now=1250.0) == 350
    assert LIMIT.retry_after(request, now=1600.0) == 0


def test_each_address_has_its_own_count():
    first, second = from_address("203.0.113.7"), from_address("203.0.113.8")
    for _ in range(LIMIT.limit):
        LIMIT.hit(first, now=1000.0)
    assert LIMIT.exceeded(first, now=1000.0)
    assert not LIMIT.exceeded(second, now=1000.0)


def test_each_purpose_has_its_own_count():
    other = RateLimit("other-purpose", limit=3, window=600)
    request = from_address("203.0.113.7")
    for _ in range(LIMIT.limit):
        LIMIT.hit(request, now=1000.0)
    assert not other.exceeded(request, now=1000.0)


def test_a_forwarded_for_header_does_not_change_the_client():
    LIMIT.hit(from_address("203.0.113.7", HTTP_X_FORWARDED_FOR="198.51.100.1"), now=1000.0)
    LIMIT.hit(from_address("203.0.113.7", HTTP_X_FORWARDED_FOR="198.51.100.2"), now=1000.0)
    LIMIT.hit(from_address("203.0.113.7", HTTP_X_FORWARDED_FOR="198.51.100.3"), now=1000.0)
    assert LIMIT.exceeded(from_address("203.0.113.7"), now=1000.0)


def test_ipv6_addresses_of_one_64_network_share_a_count():
    assert client_address(from_address("2001:db8:1:2::10")) == "2001:db8:1:2::/64"
    for suffix in ("10", "11", "12"):
        LIMIT.hit(from_address(f"2001:db8:1:2::{suffix}"), now=1000.0)
    assert LIMIT.exceeded(from_address("2001:db8:1:2:ffff::1"), now=1000.0)
    assert not LIMIT.exceeded(from_address("2001:db8:1:3::10"), now=1000.0)


def test_an_ipv4_mapped_address_counts_as_the_ipv4_address():
    assert client_address(from_address("::ffff:203.0.113.7")) == "203.0.113.7"


def test_reset_forgets_the_client():
    request = from_address("203.0.113.7")
    for _ in range(LIMIT.limit):
        LIMIT.hit(request, now=1000.0)
    LIMIT.reset(request)
    assert not LIMIT.exceeded(request, now=1000.0)


def test_the_cache_key_does_not_hold_the_address():
    key = LIMIT.key(from_address("203.0.113.7"))
    assert "203.0.113.7" not in key
    assert key.startswith("qualicite:ratelimit:test-purpose:")
