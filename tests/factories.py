import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from tracker.accounts.models import EmailVerification
from tracker.catalogue.models import Amendment, Confidence, Milestone, Regulation, Role, Scope


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def verified(user, create, extracted, **kwargs):
        """The address is verified unless `UserFactory(verified=False)`: most tests are about
        people who may receive mail; those about unverified accounts say so."""
        if create and extracted is not False and user.email:
            EmailVerification.objects.get_or_create(
                user=user, defaults={"email": user.email, "verified_at": timezone.now()}
            )


class RegulationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Regulation
        django_get_or_create = ["key"]

    key = "eu-ai-act"
    short_name = "EU AI Act"
    title = "Regulation (EU) 2024/1689 laying down harmonised rules on artificial intelligence"
    source_url = "https://eur-lex.europa.eu/eli/reg/2024/1689/oj"


class RoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Role
        django_get_or_create = ["key"]

    key = factory.Sequence(lambda n: f"role_{n}")
    name = factory.LazyAttribute(lambda r: r.key.title())


class ScopeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Scope
        django_get_or_create = ["key"]

    key = factory.Sequence(lambda n: f"scope_{n}")
    name = factory.LazyAttribute(lambda s: s.key.title())


class MilestoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Milestone
        skip_postgeneration_save = True

    regulation = factory.SubFactory(RegulationFactory)
    key = factory.Sequence(lambda n: f"milestone-{n}")
    title = factory.Sequence(lambda n: f"Milestone {n}")
    kind = Milestone.Kind.FIXED
    date = factory.Sequence(lambda n: dt.date(2025, 1, 1) + dt.timedelta(days=n))
    category = Milestone.Category.APPLICATION
    status = Milestone.Status.IN_FORCE
    confidence = Confidence.HIGH
    legal_basis = "Art. 113"
    source_url = "https://eur-lex.europa.eu/eli/reg/2024/1689/oj"
    verified_on = dt.date(2026, 11, 27)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create:
            self.roles.set(extracted or [RoleFactory(key="provider")])

    @factory.post_generation
    def scopes(self, create, extracted, **kwargs):
        if create:
            self.scopes.set(extracted or [ScopeFactory(key="all")])


def bulk_catalogue(size: int) -> list[Milestone]:
    """A catalogue of `size` milestones (half recurring, all amended once), built in bulk."""
    regulation = RegulationFactory()
    role, scope = RoleFactory(key="provider"), ScopeFactory(key="all")
    start = dt.date(2024, 8, 1)
    milestones = Milestone.objects.bulk_create(
        MilestoneFactory.build(
            regulation=regulation,
            key=f"bulk-{n}",
            kind=Milestone.Kind.RECURRING if n % 2 else Milestone.Kind.FIXED,
            every_months=24 if n % 2 else None,
            date=start + dt.timedelta(days=n),
            original_date=start + dt.timedelta(days=n - 1),
        )
        for n in range(size)
    )
    Milestone.roles.through.objects.bulk_create(
        Milestone.roles.through(milestone=m, role=role) for m in milestones
    )
    Milestone.scopes.through.objects.bulk_create(
        Milestone.scopes.through(milestone=m, scope=scope) for m in milestones
    )
    Amendment.objects.bulk_create(
        Amendment(
            milestone=m,
            old_date=m.original_date,
            new_date=m.date,
            amending_act="Regulation (EU) 2026/1744",
            source_url="https://eur-lex.europa.eu/eli/reg/2026/1744/oj",
            confidence=Confidence.HIGH,
        )
        for m in milestones
    )
    return milestones


def acme_organisation(owner):
    """The usual test company: "Acme AI", the provider of a high-risk Annex III CV screener
    (point 4(a)) placed on the market on 10 January 2028, after its class date (the real
    catalogue must be loaded)."""
    from tracker.workspace.models import AISystem
    from tracker.workspace.services import organisation_create, system_save

    organisation = organisation_create(name="Acme AI", owner=owner)
    system_save(
        system=AISystem(
            organisation=organisation,
            name="CV screener",
            roles=["provider"],
            risk_class="high_risk_annex_iii",
            annex_iii_point="4a",
            placed_on_market=dt.date(2028, 1, 10),
        )
    )
    return organisation
