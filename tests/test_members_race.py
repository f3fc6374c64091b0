""" "An organisation always keeps an owner", under concurrency: two owners acting on each other
at the same moment, each over its own real database connection, in its own thread.

Each write that can remove or demote an owner locks the organisation's row before it counts
the owners (tracker/workspace/members.py), so one of the two acts and the other finds it would
leave nobody in charge. PostgreSQL only: SQLite has no concurrent writers to race (and the
SQLite test database lives in one connection's memory).
"""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from tests.factories import UserFactory
from tracker.workspace import members
from tracker.workspace.models import Membership
from tracker.workspace.services import organisation_create

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 10


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs two real concurrent database connections: runs in the PostgreSQL pass "
            "(JALON_TEST_DB=postgres)"
        )


def _two_owners(n: int):
    ada = UserFactory(username=f"ada{n}")
    org = organisation_create(name=f"Race {n}", owner=ada)
    bob = UserFactory(username=f"bob{n}")
    Membership.objects.create(organisation=org, user=bob, role=Membership.Role.OWNER)
    return org, org.memberships.get(user=ada), org.memberships.get(user=bob)


def _race(*actions) -> list[str]:
    """Run the actions at once, one thread and one connection each; what became of each."""
    barrier = threading.Barrier(len(actions))
    outcomes: list[str] = [""] * len(actions)

    def run(i, action):
        try:
            connection.ensure_connection()  # connected before the start line, not after it
            barrier.wait(timeout=10)
            action()
            outcomes[i] = "done"
        except (PermissionDenied, ValidationError) as exc:
            outcomes[i] = f"refused: {type(exc).__name__}"
        except Exception as exc:  # reported in the assertion, not swallowed
            outcomes[i] = f"error: {exc!r}"
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (a deadlock?)"
    return outcomes


SCENARIOS = {
    "remove each other": lambda a, b: (
        lambda: members.membership_end(membership=b, by=a),
        lambda: members.membership_end(membership=a, by=b),
    ),
    "both leave": lambda a, b: (
        lambda: members.membership_end(membership=a, by=a),
        lambda: members.membership_end(membership=b, by=b),
    ),
    "demote each other": lambda a, b: (
        lambda: members.membership_role_change(membership=b, role="editor", by=a),
        lambda: members.membership_role_change(membership=a, role="viewer", by=b),
    ),
    "one leaves as the other steps down": lambda a, b: (
        lambda: members.membership_end(membership=a, by=a),
        lambda: members.membership_role_change(membership=b, role="editor", by=b),
    ),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_two_owners_acting_on_each_other_at_once_leave_the_organisation_an_owner(scenario):
    for n in range(ROUNDS):
        org, ada, bob = _two_owners(n)

        outcomes = _race(*SCENARIOS[scenario](ada, bob))

        owners = list(org.memberships.filter(role="owner").values_list("user__username", flat=True))
        assert len(owners) == 1, (n, outcomes, owners)
        assert sorted(o.split(":")[0] for o in outcomes) == ["done", "refused"], (n, outcomes)
