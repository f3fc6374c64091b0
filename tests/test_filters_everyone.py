"""A milestone that binds every operator (or concerns every AI system) is in every role (scope)
filter: on the timeline, in the API and in what a filtered subscription follows (issue 12)."""

import pytest

from tests.factories import MilestoneFactory, RegulationFactory, RoleFactory, ScopeFactory
from tracker.reminders.models import Subscription
from tracker.reminders.selectors import milestone_followers, subscription_milestones

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue():
    act = RegulationFactory(key="act")
    provider, deployer, everyone = (
        RoleFactory(key=k) for k in ("provider", "deployer", "everyone")
    )
    high_risk, gpai, every_system = (ScopeFactory(key=k) for k in ("high_risk", "gpai", "all"))
    return {
        "act": act,
        "provider": provider,
        "high_risk": high_risk,
        "literacy": MilestoneFactory(
            regulation=act, key="literacy", roles=[everyone], scopes=[every_system]
        ),
        "deployers": MilestoneFactory(
            regulation=act, key="deployers", roles=[deployer], scopes=[high_risk]
        ),
        "gpai": MilestoneFactory(regulation=act, key="gpai", roles=[provider], scopes=[gpai]),
        "providers-hr": MilestoneFactory(
            regulation=act, key="providers-hr", roles=[provider], scopes=[high_risk]
        ),
    }


def _subscription(catalogue) -> Subscription:
    subscription = Subscription.objects.create(
        email="ada@example.org", status="active", lead_days=[7], regulation=catalogue["act"]
    )
    subscription.roles.set([catalogue["provider"]])
    subscription.scopes.set([catalogue["high_risk"]])
    return subscription


def test_a_provider_and_high_risk_subscription_follows_what_binds_everyone(catalogue):
    subscription = _subscription(catalogue)

    followed = set(subscription_milestones(subscription=subscription).values_list("key", flat=True))

    assert followed == {"literacy", "providers-hr"}
    assert list(milestone_followers(milestone=catalogue["literacy"])) == [subscription]
    assert list(milestone_followers(milestone=catalogue["deployers"])) == []
    assert list(milestone_followers(milestone=catalogue["gpai"])) == []


def test_the_timeline_and_the_api_filter_the_same_way(client, catalogue):
    query = {"regulation": "act", "role": "provider", "scope": "high_risk"}

    api = client.get("/api/v1/milestones/", query).json()
    page = client.get("/", {**query, "past": "1"}).content.decode()

    assert {m["key"] for m in api["results"]} == {"literacy", "providers-hr"}
    assert 'id="m-literacy"' in page and 'id="m-providers-hr"' in page
    assert 'id="m-gpai"' not in page and 'id="m-deployers"' not in page
