"""Channel grouping (src/sessionlens/channels.py): one row per rule, and hostile input."""

from __future__ import annotations

import pytest

from sessionlens.channels import CHANNELS, channel

L = "https://shop.example/p"

CASES = [
    # referrer, landing URL, channel
    ("", L, "direct"),
    ("", L + "?fbclid=abc", "direct"),  # appended to every Facebook link, not an ad click by itself
    ("https://shop.example/cart", L, "internal"),
    ("https://www.shop.example/cart", L, "internal"),
    ("https://blog.shop.example/post", L, "internal"),  # a subdomain of the site
    ("https://www.google.com/", L, "organic_search"),
    ("https://www.google.co.uk/search?q=x", L, "organic_search"),
    ("https://google.com.tr/", L, "organic_search"),
    ("https://duckduckgo.com/", L, "organic_search"),
    ("https://search.brave.com/search?q=a", L, "organic_search"),
    ("android-app://com.google.android.googlequicksearchbox/", L, "organic_search"),
    ("https://shop.example/", L + "?utm_source=google&utm_medium=organic", "organic_search"),
    ("", L + "?utm_source=google&utm_medium=cpc", "paid_search"),
    ("https://www.bing.com/", L + "?utm_source=bing&utm_medium=ppc", "paid_search"),
    ("", L + "?gclid=abc", "paid_search"),
    ("", L + "?msclkid=abc", "paid_search"),
    ("https://t.co/xyz", L, "social"),
    ("https://l.facebook.com/l.php", L, "social"),
    ("https://www.reddit.com/r/x", L, "social"),
    ("android-app://com.linkedin.android/", L, "social"),
    ("", L + "?utm_source=newsletter_partner&utm_medium=social", "social"),
    ("https://l.facebook.com/", L + "?utm_source=facebook&utm_medium=paid_social", "paid_social"),
    ("", L + "?utm_source=instagram&utm_medium=cpc", "paid_social"),
    ("", L + "?utm_source=newsletter&utm_medium=email", "email"),
    ("", L + "?utm_source=email&utm_campaign=spring", "email"),
    ("https://mail.google.com/mail/u/0/", L, "email"),  # webmail, although google.com is a search engine
    ("https://outlook.live.com/", L, "email"),
    ("", L + "?utm_source=partner&utm_medium=affiliate", "affiliate"),
    ("", L + "?utm_source=gdn&utm_medium=display", "display"),
    ("", L + "?utm_source=network&utm_medium=cpm", "display"),
    ("", L + "?utm_source=network&utm_medium=paid", "paid_other"),
    ("https://news.other.org/a", L, "referral"),
    ("", L + "?utm_source=partner&utm_medium=referral", "referral"),
    ("https://partner.org/", L + "?utm_source=partner", "referral"),
    ("", L + "?utm_source=foo", "other"),
    ("", L + "?UTM_SOURCE=google&Utm_Medium=CPC", "paid_search"),  # tag names and values in any case
]


@pytest.mark.parametrize(("referrer", "landing", "expected"), CASES)
def test_channel_rules(referrer: str, landing: str, expected: str) -> None:
    assert channel(referrer, landing) == expected
    assert expected in CHANNELS


def test_site_hosts_count_as_internal_too() -> None:
    assert channel("https://checkout.example/", L, frozenset({"checkout.example"})) == "internal"
    assert channel("https://checkout.example/", L) == "referral"


@pytest.mark.parametrize(
    "referrer",
    [
        "http://[::1",  # unparsable
        "x" * 100_000,
        "javascript:alert(1)",
        "https://evil.com.shop.example.attacker.net/",  # the site's host inside another's
        "https://shop.example.evil.net/",
        "https://com/",
        "https://%00%ff/",
        "\u0000\u202e\ud7ff",
        "data:text/html,<script>",
        "android-app://" + "a." * 5000,
        "https://user:pass@www.google.com:99999/",
    ],
)
def test_hostile_referrers_never_raise_and_are_never_internal(referrer: str) -> None:
    got = channel(referrer, L + "?utm_medium=" + "%ff" * 3000)
    assert got in CHANNELS and got != "internal"


def test_missing_values() -> None:
    assert channel(None, None) == "direct"
    assert channel("https://www.google.com/", None) == "organic_search"
    assert channel("", "not a url") == "direct"
