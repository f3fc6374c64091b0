"""Accounts: brute-force lockout, signup without enumeration, verified addresses, resets.

Sign-in attempts go through django-axes (settings: 5 failures per account and per client,
15 minutes); time-machine moves the clock past the window. Emails are read from the outbox,
where every Jalon email is stored before a worker sends it.
"""

from __future__ import annotations

import base64
import datetime as dt
import re

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import UserFactory
from tracker.accounts.models import EmailVerification
from tracker.accounts.services import email_verify
from tracker.accounts.verification import email_verified, verified_filter, verified_users
from tracker.outbox.models import Message

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's
NEW_PASSWORD = "a long enough passphrase"
User = get_user_model()


@pytest.fixture
def ada(db):
    return UserFactory(username="ada", email="Ada@Example.org", verified=False)


def _sign_in(client, name, password, url=None, **extra):
    return client.post(url or reverse("login"), {"username": name, "password": password}, **extra)


def _without_csrf(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


# Brute force -------------------------------------------------------------------------------


def test_the_sixth_sign_in_is_refused_even_with_the_right_password_then_allowed_after_15_minutes(
    client, ada
):
    with time_machine.travel(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        answers = [_sign_in(client, "ada", f"wrong {n}").status_code for n in range(5)]
        sixth = _sign_in(client, "ada", PASSWORD)

        assert answers == [200, 200, 200, 200, 429]
        assert sixth.status_code == 429
        assert "Too many sign-in attempts" in sixth.content.decode()
        assert "15 minutes" in sixth.content.decode()
        assert not _signed_in(client)

        clock.shift(dt.timedelta(minutes=14))
        assert _sign_in(client, "ada", PASSWORD).status_code == 429  # and the wait starts again
        clock.shift(dt.timedelta(minutes=16))
        after = _sign_in(client, "ada", PASSWORD)

    assert after.status_code == 302
    assert _signed_in(client)


def test_the_address_in_any_case_and_the_username_count_as_one_account(ada):
    attempts = ["ada", "ada@example.org", "ADA@EXAMPLE.ORG", "Ada@Example.org", "ada"]
    for n, name in enumerate(attempts):
        # a new client address each time: only the per-account count can lock
        _sign_in(Client(REMOTE_ADDR=f"10.0.0.{n}"), name, "wrong")

    refused = _sign_in(Client(REMOTE_ADDR="10.0.0.99"), "ada@example.org", PASSWORD)

    assert refused.status_code == 429
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {"ada"}


def test_a_client_that_tries_five_accounts_is_refused_on_a_sixth(client, ada):
    for n in range(5):
        UserFactory(username=f"target{n}")
        _sign_in(client, f"target{n}", "wrong")

    refused = _sign_in(client, "ada", PASSWORD)

    assert refused.status_code == 429
    assert not _signed_in(client)
    # the same account from another address is not locked: only the client is
    assert _sign_in(Client(REMOTE_ADDR="10.1.1.1"), "ada", PASSWORD).status_code == 302


def test_a_forged_forwarded_for_header_does_not_make_a_new_client(client, ada):
    for n in range(5):
        _sign_in(client, f"nobody{n}", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")

    assert _sign_in(client, "ada", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.77").status_code == 429


def test_the_lockout_page_says_the_same_for_an_unknown_name_and_shows_no_username(client, ada):
    for _ in range(5):
        known = _sign_in(Client(), "ada@example.org", "wrong")
        unknown = _sign_in(Client(REMOTE_ADDR="10.2.2.2"), "ghost@example.org", "wrong")

    assert known.status_code == unknown.status_code == 429
    assert known.content == unknown.content
    assert b"ada" not in known.content.lower().replace(b"ada@example", b"")


def test_the_admin_login_is_locked_out_too(client):
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    url = reverse("admin:login")

    with time_machine.travel(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        for n in range(5):
            _sign_in(client, "boss", f"wrong {n}", url=url)
        refused = _sign_in(client, "boss", PASSWORD, url=url)
        assert refused.status_code == 429
        assert client.get(reverse("admin:index")).status_code == 302  # still signed out

        clock.shift(dt.timedelta(minutes=16))
        allowed = _sign_in(client, "boss", PASSWORD, url=f"{url}?next=/admin/")

    assert allowed.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_an_administrator_unlocks_an_account_with_the_axes_command(client, ada):
    for _ in range(5):
        _sign_in(Client(REMOTE_ADDR="10.3.3.3"), "ada", "wrong")
    assert _sign_in(client, "ada", PASSWORD).status_code == 429

    call_command("axes_reset_username", "ada", verbosity=0)

    assert _sign_in(client, "ada", PASSWORD).status_code == 302


def test_the_api_refuses_basic_credentials(client, ada):
    from tracker.workspace.services import organisation_create

    organisation_create(name="Ada Co", owner=ada)
    token = base64.b64encode(f"ada:{PASSWORD}".encode()).decode()

    response = client.get("/api/v1/organisations/", HTTP_AUTHORIZATION=f"Basic {token}")

    # not signed in: 401, and the challenge names API tokens (Bearer), never Basic
    assert response.status_code == 401
    assert "Ada Co" not in response.content.decode()
    assert response["WWW-Authenticate"].startswith("Bearer")
    # a session still works
    client.force_login(ada)
    assert client.get("/api/v1/organisations/").json()["results"][0]["name"] == "Ada Co"


def test_basic_credentials_cannot_be_used_to_guess_passwords_past_the_lockout(client, ada):
    token = base64.b64encode(b"ada:wrong").decode()
    for _ in range(10):
        client.get("/api/v1/organisations/", HTTP_AUTHORIZATION=f"Basic {token}")

    # the API never checked the password, so nothing was counted, and nothing was learnt
    assert AccessAttempt.objects.count() == 0


# Signing in with the address ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["ada@example.org", "ADA@EXAMPLE.ORG", " ada@example.org ", "ada"])
def test_one_signs_in_with_the_address_in_any_case_or_the_username(client, ada, name):
    response = _sign_in(client, name, PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(ada.pk)


def test_a_wrong_password_says_so_without_saying_whether_the_account_exists(client, ada):
    wrong = _without_csrf(_sign_in(client, "ada@example.org", "wrong").content.decode())
    missing = _without_csrf(_sign_in(client, "ghost@example.org", "wrong").content.decode())

    assert "do not match an account" in wrong
    assert wrong.replace("ada@example.org", "X") == missing.replace("ghost@example.org", "X")


# Signing up --------------------------------------------------------------------------------


def _sign_up(client, email, data=None, **headers):
    return client.post(reverse("signup"), {
        "email": email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD, **(data or {}),
    }, **headers)  # fmt: skip


def test_signing_up_creates_an_unverified_account_and_sends_a_link(client):
    response = _sign_up(client, "Grace@Example.org", HTTP_ACCEPT_LANGUAGE="de-CH,de;q=0.9")

    assert response.status_code == 302
    assert response.url == reverse("signup_done")
    user = User.objects.get(email="Grace@example.org")
    assert user.username == "grace"
    assert user.check_password(NEW_PASSWORD)
    assert not email_verified(user)
    assert user.email_verification.language == "de"
    (message,) = Message.objects.filter(kind="verify_email")
    assert message.to_email == "Grace@example.org"
    assert message.subject == "Bestätigen Sie Ihre E-Mail-Adresse für Jalon"
    assert "http://127.0.0.1:8000/accounts/verify/" in message.body_text
    assert message.headers["Content-Language"] == "de"
    assert not _signed_in(client)
    assert client.get(response.url).status_code == 200


def test_a_taken_local_part_gets_a_suffix(client):
    UserFactory(username="grace", email="grace@elsewhere.org")

    _sign_up(client, "grace@example.org")

    assert re.fullmatch(r"grace-[0-9a-f]{6}", User.objects.get(email="grace@example.org").username)


def test_signing_up_with_a_known_address_answers_the_same_creates_nothing_and_tells_the_owner(ada):
    fresh, taken = Client(), Client()

    new = _sign_up(fresh, "newcomer@example.org")
    known = _sign_up(taken, "ADA@example.ORG", {"username": "ada2"})

    assert (known.status_code, known.url) == (new.status_code, new.url)
    assert set(known.cookies) == set(new.cookies)
    assert taken.get(known.url).content == fresh.get(new.url).content
    assert User.objects.filter(email__iexact="ada@example.org").count() == 1
    assert not User.objects.filter(username="ada2").exists()
    (warning,) = Message.objects.filter(kind="account_exists")
    assert warning.to_email == "Ada@Example.org"
    assert warning.subject == "Someone tried to create a Jalon account with your address"
    assert "http://127.0.0.1:8000/accounts/login/" in warning.body_text
    assert "http://127.0.0.1:8000/accounts/password_reset/" in warning.body_text
    assert not Message.objects.filter(kind="verify_email", to_email__iexact="ada@example.org")


def test_the_signup_form_asks_no_username_and_checks_the_password(client):
    page = client.get(reverse("signup")).content.decode()
    mismatch = _sign_up(client, "x@example.org", {"password2": "something else entirely"})
    weak = client.post(reverse("signup"), {
        "email": "x@example.org", "password1": "x@example.org", "password2": "x@example.org",
    })  # fmt: skip

    assert 'name="username"' not in page
    assert 'name="email"' in page
    assert mismatch.status_code == weak.status_code == 400
    assert "The two passwords differ." in mismatch.content.decode()
    assert "too similar" in weak.content.decode()
    assert not User.objects.exists()


# Verifying the address -----------------------------------------------------------------------


def _verification_path(to: str) -> str:
    message = Message.objects.filter(kind="verify_email", to_email=to).latest("pk")
    url = re.search(r"http://\S+/accounts/verify/\S+/", message.body_text).group(0)
    return url.split("127.0.0.1:8000", 1)[1]


def test_the_link_shows_a_button_and_only_the_button_verifies(client):
    signed_up = _sign_up(client, "grace@example.org", {"next": "/w/import/?f=abc"})
    path = _verification_path("grace@example.org")
    # the inbox page keeps where the person was heading, for signing in with the password
    assert signed_up.url == "/accounts/signup/done/?next=%2Fw%2Fimport%2F%3Ff%3Dabc"
    inbox = client.get(signed_up.url).content.decode()
    assert "/accounts/login/?next=/w/import/%3Ff%3Dabc" in inbox
    user = User.objects.get(email="grace@example.org")

    shown = client.get(path)
    assert shown.status_code == 200
    assert "Confirm my address" in shown.content.decode()
    assert not email_verified(user)  # a mail scanner's GET changes nothing

    confirmed = client.post(path)

    assert email_verified(user)
    # the browser that signed up is signed in and goes where it was heading
    assert confirmed.status_code == 302
    assert confirmed.url == "/w/import/?f=abc"
    assert client.session["_auth_user_id"] == str(user.pk)


def test_the_link_opened_in_another_browser_verifies_but_does_not_sign_in(client):
    _sign_up(client, "grace@example.org")
    path = _verification_path("grace@example.org")
    other = Client()

    response = other.post(path)

    assert response.status_code == 200
    assert "Address confirmed" in response.content.decode()
    assert email_verified(User.objects.get(email="grace@example.org"))
    assert not _signed_in(other)


def test_a_forged_or_expired_link_is_a_404_that_changes_nothing(client):
    with time_machine.travel(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)) as clock:
        _sign_up(client, "grace@example.org")
        path = _verification_path("grace@example.org")
        forged = path.replace("/verify/", "/verify/x")
        clock.shift(dt.timedelta(days=3, minutes=1))

        answers = [client.post(forged), client.get(path), client.post(path)]

    assert [a.status_code for a in answers] == [404, 404, 404]
    assert "This link is not valid" in answers[2].content.decode()
    assert not email_verified(User.objects.get(email="grace@example.org"))


def test_a_link_for_an_address_the_account_no_longer_uses_is_a_404(client):
    _sign_up(client, "grace@example.org")
    path = _verification_path("grace@example.org")
    User.objects.filter(email="grace@example.org").update(email="grace@new.example.org")

    response = client.post(path)

    assert response.status_code == 404
    assert "no longer uses" in response.content.decode()
    assert not email_verified(User.objects.get(email="grace@new.example.org"))


def test_changing_the_address_unverifies_it(ada):
    email_verify(user=ada, email=ada.email)
    assert email_verified(ada)

    ada.email = "ada@new.example.org"
    ada.save()

    assert not email_verified(User.objects.get(pk=ada.pk))


def test_other_apps_can_select_verified_users_in_one_query(ada, django_assert_num_queries):
    UserFactory(username="bob", verified=False)
    email_verify(user=ada, email=ada.email)

    with django_assert_num_queries(1):
        names = list(verified_users(User.objects.all()).values_list("username", flat=True))

    assert names == ["ada"]
    assert list(
        EmailVerification.objects.filter(verified_filter("user__")).values_list("user", flat=True)
    ) == [ada.pk]


# The banner --------------------------------------------------------------------------------


def test_an_unverified_account_sees_the_banner_on_every_page_and_a_verified_one_does_not(
    client, ada
):
    client.force_login(ada)
    # Not the public pages (the timeline, milestone pages): one page for everyone, cached.
    pages = [reverse("web:check"), reverse("workspace:home"), reverse("reminders:subscribe")]

    before = [client.get(url).content.decode() for url in pages]
    email_verify(user=ada, email=ada.email)
    after = [client.get(url).content.decode() for url in pages]

    for html in before:
        assert "Confirm your email address, Ada@Example.org." in html
        assert "Jalon now sends reminders, password resets and invitations only" in html
        assert "Send the link again" in html
    for html in after:
        assert "verify-banner" not in html


def test_the_banner_costs_no_query(client, ada):
    client.force_login(ada)
    url = reverse("workspace:home")
    client.get(url)
    with CaptureQueriesContext(connection) as unverified:
        client.get(url)
    email_verify(user=ada, email=ada.email)
    with CaptureQueriesContext(connection) as verified:
        client.get(url)

    assert len(unverified.captured_queries) == len(verified.captured_queries)
    assert not any('FROM "accounts_emailverification"' in q["sql"]
                   for q in unverified.captured_queries)  # fmt: skip


def test_the_banner_sends_the_link_again_at_most_once_in_ten_minutes(client, ada):
    client.force_login(ada)
    url = reverse("verify_email_resend")

    with time_machine.travel(dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)) as clock:
        first = client.post(url, {"next": "/w/"})
        clock.shift(dt.timedelta(minutes=4))
        second = client.post(url, {"next": "/w/"})
        clock.shift(dt.timedelta(minutes=7))
        third = client.post(url, {"next": "/w/"})

    assert [first.status_code, second.status_code, third.status_code] == [200, 429, 200]
    assert "ask for another in 6 minutes" in second.content.decode()
    assert Message.objects.filter(kind="verify_email", to_email=ada.email).count() == 2
    # and the link works
    client.post(_verification_path(ada.email))
    assert email_verified(ada)


def test_the_link_sent_again_brings_the_person_back_where_they_asked_for_it(client, ada):
    client.force_login(ada)
    client.post(reverse("verify_email_resend"), {"next": "/w/invitations/abc/"})

    answer = client.post(_verification_path(ada.email))

    assert answer.status_code == 302 and answer.url == "/w/invitations/abc/"


def test_sending_the_link_again_needs_a_post_from_a_signed_in_person(client, ada):
    assert client.post(reverse("verify_email_resend")).status_code == 302  # to sign in
    client.force_login(ada)
    assert client.get(reverse("verify_email_resend")).status_code == 405
    assert not Message.objects.exists()


# Password resets -----------------------------------------------------------------------------


def _reset(client, email, **extra):
    return client.post(reverse("password_reset"), {"email": email}, **extra)


def test_a_reset_goes_only_to_a_verified_address_and_the_page_answers_the_same(ada):
    unverified = _reset(Client(), "ada@example.org")
    unknown = _reset(Client(), "ghost@example.org")
    assert not Message.objects.exists()

    email_verify(user=ada, email=ada.email)
    verified = _reset(Client(), "ADA@example.org")

    assert unverified.status_code == unknown.status_code == verified.status_code == 302
    assert unverified.url == unknown.url == verified.url
    (message,) = Message.objects.filter(kind="password_reset")
    assert message.to_email == "Ada@Example.org"


def test_the_reset_email_is_jalon_s_with_the_site_s_host_and_its_link_works(client, ada, settings):
    settings.SITE_URL = "https://jalon.example.eu"
    email_verify(user=ada, email=ada.email)

    _reset(client, "ada@example.org", HTTP_HOST="127.0.0.1:8810")

    message = Message.objects.get(kind="password_reset")
    assert message.subject == "Reset your Jalon password"
    assert "Jalon (jalon.example.eu)" in message.body_text
    assert "the Jalon account ada at jalon.example.eu" in message.body_text
    assert "127.0.0.1:8810" not in message.body_text
    assert " team" not in message.body_text
    link = re.search(r"https://jalon\.example\.eu(/accounts/reset/\S+/)", message.body_text)
    form = client.get(link.group(1), follow=True)
    assert form.context["validlink"] is True
    done = client.post(form.redirect_chain[-1][0], {
        "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD,
    })  # fmt: skip
    assert done.status_code == 302
    assert _sign_in(Client(), "ada@example.org", NEW_PASSWORD).status_code == 302


def test_the_reset_email_is_in_the_account_s_language(client):
    _sign_up(client, "lea@example.org", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9,en;q=0.5")
    lea = User.objects.get(email="lea@example.org")
    email_verify(user=lea, email=lea.email)

    _reset(Client(), "lea@example.org", HTTP_ACCEPT_LANGUAGE="en")

    message = Message.objects.get(kind="password_reset")
    assert message.subject == "Réinitialisez votre mot de passe Jalon"
    assert "Choisissez un nouveau mot de passe" in message.body_text
    assert message.headers["Content-Language"] == "fr"


def test_resets_to_one_address_are_capped_per_day(ada):
    email_verify(user=ada, email=ada.email)

    for _ in range(7):
        _reset(Client(), "ada@example.org")

    statuses = list(Message.objects.filter(kind="password_reset").values_list("status", flat=True))
    assert statuses.count("queued") == 5
    assert statuses.count("cancelled") == 2


# Two signups at once -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_signups_for_one_new_address_at_once_make_one_account():
    """Each over its own PostgreSQL connection: the address's advisory lock serialises them."""
    import threading

    from django.db import connection

    from tracker.accounts.services import account_signup

    if connection.vendor != "postgresql":
        pytest.skip("needs two real concurrent connections: runs in the PostgreSQL pass")

    for n in range(5):
        barrier = threading.Barrier(2)
        errors = []

        def sign_up(email, n=n, barrier=barrier, errors=errors):
            try:
                connection.ensure_connection()
                barrier.wait(timeout=10)
                account_signup(email=email, password=NEW_PASSWORD)
            except Exception as exc:  # reported below, not swallowed
                errors.append(repr(exc))
            finally:
                connection.close()

        threads = [
            threading.Thread(target=sign_up, args=(f"race{n}@example.org",)),
            threading.Thread(target=sign_up, args=(f"RACE{n}@example.org",)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        assert errors == []
        assert User.objects.filter(email__iexact=f"race{n}@example.org").count() == 1
        kinds = Message.objects.filter(to_email__iexact=f"race{n}@example.org")
        assert sorted(kinds.values_list("kind", flat=True)) == ["account_exists", "verify_email"]


def test_the_admin_lists_verifications_read_only(client, admin_user, ada):
    email_verify(user=ada, email=ada.email)
    client.force_login(admin_user)
    url = reverse("admin:accounts_emailverification_changelist")

    listing = client.get(url)
    odd_post = client.post(url, {"action": "delete_selected", "_selected_action": "x\x00y"})
    change = client.get(reverse("admin:accounts_emailverification_change",
                                args=[ada.email_verification.pk]))  # fmt: skip

    assert listing.status_code == odd_post.status_code == 200
    assert "Ada@Example.org" in listing.content.decode()
    assert change.status_code == 200
    assert 'name="verified_at"' not in change.content.decode()  # nothing to edit
    assert EmailVerification.objects.filter(user=ada).count() == 1  # the odd POST deleted none
