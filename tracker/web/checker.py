"""The public checker: "What does the AI Act ask of us?", with no account and nothing stored.

/check/ is a questionnaire (the company, then one fieldset per AI system). Its forms only read
types; the answers are turned into the applicability contract's payload and validated by the
one validator, `facts_parse`, whose messages are put back next to the fields they concern.
Valid answers redirect to /check/result/?f=..., a permalink holding them (see
tracker/workspace/facts_links.py for the codec), which computes the answer afresh with the
catalogue as it is at the time of asking.

Adding and removing a system are submit buttons: they work without JavaScript.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from django import forms
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_safe

from tracker.workspace import applicability as law
from tracker.workspace.checker import applicability_answer
from tracker.workspace.facts import COMPANY_FLAGS, MAX_SYSTEMS, FactsInvalid, facts_parse
from tracker.workspace.facts_links import (
    FactsLinkInvalid,
    facts_link_encode,
    facts_link_read,
    facts_summary,
)
from tracker.workspace.models import ANNEX_III_POINTS, AISystem, CompanyRole

YES_NO = [("yes", "Yes"), ("no", "No")]
UNKNOWN = "unknown"
ANNEX_III_RISKS = ("high_risk_annex_iii", "annex_iii_not_high_risk")


def _yes_no(label: str, help_text: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label, help_text=help_text, choices=YES_NO, widget=forms.RadioSelect,
        coerce=lambda value: value == "yes", empty_value=None, required=False,
    )  # fmt: skip


def _annex_iii_choices() -> list:
    """The Annex III points grouped by area, as the Annex lists them."""
    groups: dict[str, list] = {}
    for value, label in ANNEX_III_POINTS:
        area = law.ANNEX_III_AREAS[value[0]]
        groups.setdefault(f"{value[0]}. {area[0].upper()}{area[1:]}", []).append((value, label))
    return [("", "Not in Annex III"), (UNKNOWN, "I don't know"), *groups.items()]


@dataclass
class Question:
    """One question as the template renders it: the field and, for a group, each option with
    its hint."""

    field: forms.BoundField
    options: list[tuple]

    @property
    def is_group(self) -> bool:
        return self.field.field.widget.use_fieldset

    @property
    def is_checkbox(self) -> bool:
        return isinstance(self.field.field.widget, forms.CheckboxInput)

    @property
    def anchor(self) -> str:
        """Where the error summary links to: the input, or a group's first option."""
        return f"{self.field.auto_id}_0" if self.is_group else self.field.auto_id


class QuestionsMixin:
    option_hints: dict[str, dict[str, str]] = {}

    @property
    def questions(self) -> list[Question]:
        out = []
        for bound in self:
            hints = self.option_hints.get(bound.name, {})
            options = (
                [(box, hints.get(str(box.data["value"]), "")) for box in bound]
                if bound.field.widget.use_fieldset
                else []
            )
            out.append(Question(bound, options))
        return out


class CompanyForm(QuestionsMixin, forms.Form):
    """Who the company is under the AI Act."""

    established_in_eu = _yes_no(
        "Is the company established in the EU?",
        "The Regulation applies to providers placing AI systems or general-purpose AI models on "
        "the Union market wherever they are established, and to deployers established in the "
        "Union (Art. 2(1)(a)-(c)). A provider established in a third country appoints, by "
        "written mandate, an authorised representative established in the Union (Art. 22(1), "
        "Art. 54(1)).",
    )
    public_body = _yes_no(
        "Is it a body governed by public law?",
        "Art. 27(1): before deploying a high-risk AI system referred to in Art. 6(2), "
        "“deployers that are bodies governed by public law, or are private entities providing "
        "public services” perform an assessment of the impact on fundamental rights that the "
        "use of such system may produce.",
    )
    provides_public_services = _yes_no(
        "Is it a private entity providing public services?",
        "Art. 27(1) puts private entities providing public services on the same footing as "
        "bodies governed by public law: as deployers of a high-risk Annex III system they assess "
        "its impact on fundamental rights before its first use, and notify the market "
        "surveillance authority of the results (Art. 27(3)).",
    )


class SystemForm(QuestionsMixin, forms.Form):
    """One AI system or model, in the contract's names; `facts_parse` does the validating."""

    name = forms.CharField(
        label="Name", required=False, widget=forms.TextInput(attrs={"maxlength": 120}),
        help_text="What you call it, for example “CV screener”. Each system needs its own name.",
    )  # fmt: skip
    roles = forms.MultipleChoiceField(
        label="Our roles for it", required=False, choices=CompanyRole.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick every role the company has for this system (Art. 3(3)-(7)).",
    )  # fmt: skip
    risk = forms.ChoiceField(
        label="How does the AI Act class it?", required=False,
        choices=AISystem.RiskClass.choices, widget=forms.RadioSelect,
        help_text="Art. 5 lists the banned practices; Art. 6 says which systems are high-risk.",
    )  # fmt: skip
    annex_iii_point = forms.ChoiceField(
        label="Annex III point", required=False, choices=_annex_iii_choices(),
        help_text="Only for the two Annex III answers above. Annex III lists the high-risk use "
        "cases area by area; point 4(a), for example, covers systems “intended to be used for "
        "the recruitment or selection of natural persons, in particular to place targeted job "
        "advertisements, to analyse and filter job applications, and to evaluate candidates”.",
    )  # fmt: skip
    annex_i_section = forms.ChoiceField(
        label="Annex I section", required=False,
        choices=[
            ("", "Not applicable"),
            *AISystem.AnnexISection.choices[1:],
            (UNKNOWN, "I don't know (read as Section A)"),
        ],
        help_text="Only for a safety component of an Annex I product. Section A lists the New "
        "Legislative Framework acts (machinery, toys, lifts, radio and pressure equipment, "
        "medical devices...); Section B the other acts (civil aviation, vehicles, marine "
        "equipment, rail...), for whose products the AI Act applies mostly through their own "
        "act (Art. 2(2)). If you don't know, we read it as Section A, the stricter regime.",
    )  # fmt: skip
    art50 = forms.MultipleChoiceField(
        label="What it does (Art. 50)", required=False, choices=AISystem.Art50.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Art. 50 adds transparency duties whatever the risk class. Tick what applies.",
    )  # fmt: skip
    gpai_model = forms.BooleanField(
        label="It is a general-purpose AI model", required=False,
        help_text="A model that “displays significant generality and is capable of competently "
        "performing a wide range of distinct tasks” and can be integrated into a variety of "
        "downstream systems (Art. 3(63)). Its providers keep technical documentation, inform "
        "downstream providers, put in place a copyright policy and publish a summary of the "
        "training content (Art. 53(1)).",
    )  # fmt: skip
    systemic_risk = forms.BooleanField(
        label="The model has systemic risk", required=False,
        help_text="Only for a general-purpose AI model: it has high-impact capabilities, "
        "presumed when its training used more than 10^25 floating-point operations "
        "(Art. 51(1)-(2)), or the Commission designated it. Its provider notifies the "
        "Commission within two weeks (Art. 52(1)) and assesses and mitigates the systemic "
        "risks (Art. 55).",
    )  # fmt: skip
    open_source = forms.BooleanField(
        label="It is released under a free and open-source licence", required=False,
        help_text="Only for a general-purpose AI model: Art. 53(2) lifts the documentation "
        "duties of Art. 53(1)(a)-(b) for models released under a free and open licence whose "
        "parameters, including the weights, are made publicly available, unless the model has "
        "systemic risk.",
    )  # fmt: skip
    placed_on_market = forms.DateField(
        label="Placed on the market or put into service on", required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="The first making available on the Union market (Art. 3(9)), or the supply "
        "for first use (Art. 3(11)). Leave empty if not yet. A high-risk system already there "
        "before the date its class's obligations apply falls under the Regulation only if its "
        "design changes significantly afterwards (Art. 111(2)); a general-purpose AI model "
        "placed on the market before its obligations applied has a transition period "
        "(Art. 111(3)).",
    )  # fmt: skip
    intended_for_public_authorities = forms.BooleanField(
        label="It is intended to be used by public authorities", required=False,
        help_text="Art. 111(2): “the providers and deployers of high-risk AI systems intended "
        "to be used by public authorities shall take the necessary steps to comply” by a set "
        "date, even if the system was on the market before and has not changed.",
    )  # fmt: skip
    art25 = forms.MultipleChoiceField(
        label="Did we change a high-risk system someone else provided? (Art. 25)",
        required=False, choices=AISystem.Art25.choices, widget=forms.CheckboxSelectMultiple,
        help_text="Art. 25(1): a distributor, importer, deployer or other third party is "
        "considered the provider of a high-risk AI system, with the provider's obligations, "
        "in any of these circumstances.",
    )  # fmt: skip

    option_hints = {
        "roles": {
            "provider": "Develops it, or has it developed, and places it on the market or puts "
            "it into service under its own name or trademark, whether for payment or free of "
            "charge (Art. 3(3)).",
            "deployer": "Uses it under its authority, except in a personal non-professional "
            "activity (Art. 3(4)). Using a system at work makes the company its deployer.",
            "importer": "Located or established in the Union, places on the market a system "
            "that bears the name or trademark of someone established in a third country "
            "(Art. 3(6)).",
            "distributor": "In the supply chain, other than the provider or the importer, makes "
            "it available on the Union market (Art. 3(7)).",
            "authorised_representative": "Located or established in the Union, has received "
            "and accepted a written mandate from the provider to carry out its obligations "
            "(Art. 3(5)).",
            "product_manufacturer": "Places it on the market or puts it into service together "
            "with its product and under its own name or trademark (Art. 2(1)(e)); for an "
            "Annex I Section A product, the manufacturer is then its provider (Art. 25(3)).",
        },
        "risk": {
            "prohibited": "Art. 5(1) bans, among others: manipulative or deceptive techniques "
            "causing significant harm, exploiting vulnerabilities due to age, disability or a "
            "social or economic situation, social scoring, predicting crime from profiling "
            "alone, untargeted scraping of facial images, and inferring emotions at work or in "
            "education.",
            "high_risk_annex_iii": "Art. 6(2): the AI systems referred to in Annex III are "
            "high-risk: biometrics, critical infrastructure, education, employment, essential "
            "services, law enforcement, migration, justice and elections. Choose its point "
            "below.",
            "high_risk_annex_i": "Art. 6(1): it is a safety component of a product, or itself a "
            "product, covered by the Union harmonisation legislation in Annex I, and that "
            "product must undergo a third-party conformity assessment. Choose the section "
            "below.",
            "annex_iii_not_high_risk": "Art. 6(3): an Annex III system is not high-risk if it "
            "“does not pose a significant risk of harm to the health, safety or fundamental "
            "rights of natural persons”, for example when it performs a narrow procedural task "
            "or a preparatory task; never when it profiles people. The provider documents the "
            "assessment and registers the system (Art. 6(4)).",
            "other": "None of the above. Art. 50 transparency duties and the general duties "
            "may still apply.",
        },
        "art50": {
            "interacts": "Providers design it so that people are informed they are interacting "
            "with an AI system, unless that is obvious (Art. 50(1)).",
            "emotion_recognition": "Deployers inform the people exposed to it of its operation "
            "(Art. 50(3)).",
            "biometric_categorisation": "Deployers inform the people exposed to it of its "
            "operation (Art. 50(3)).",
            "synthetic_content": "Providers mark its outputs in a machine-readable format, "
            "detectable as artificially generated or manipulated (Art. 50(2)).",
            "deep_fake": "Deployers disclose that the image, audio or video content has been "
            "artificially generated or manipulated (Art. 50(4)).",
            "public_interest_text": "Deployers disclose that text published to inform the "
            "public on matters of public interest was artificially generated, unless a person "
            "holds editorial responsibility for it after human review (Art. 50(4)).",
        },
        "art25": {
            "own_name": "We put our name or trademark on a high-risk system already placed on "
            "the market or put into service.",
            "substantial_modification": "We made a substantial modification to a high-risk "
            "system already on the market, so that it remains high-risk.",
            "changed_purpose": "We modified the intended purpose of a system not classed as "
            "high-risk, a general-purpose AI system included, so that it became high-risk.",
        },
    }


SystemFormSet = forms.formset_factory(
    SystemForm, extra=0, max_num=MAX_SYSTEMS, absolute_max=MAX_SYSTEMS, validate_max=True
)
COMPANY_DEFAULTS = {
    "established_in_eu": "yes", "public_body": "no", "provides_public_services": "no",
}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# From the forms to the contract, and back
# ---------------------------------------------------------------------------------------------


def _system_payload(data: dict) -> dict:
    """One system's answers in the contract's shape. "I don't know" claims nothing, except for
    the Annex I section of an Annex I system, read as Section A (the stricter regime)."""
    risk = data.get("risk") or None
    point = data.get("annex_iii_point") or ""
    section = data.get("annex_i_section") or ""
    if point == UNKNOWN:
        point = ""
    if section == UNKNOWN:
        section = "A" if risk == "high_risk_annex_i" else ""
    placed = data.get("placed_on_market")
    return {
        "name": data.get("name") or "",
        "roles": list(data.get("roles") or []),
        "risk": risk,
        "annex_iii_point": point,
        "annex_i_section": section,
        "art50": list(data.get("art50") or []),
        "gpai_model": bool(data.get("gpai_model")),
        "systemic_risk": bool(data.get("systemic_risk")),
        "open_source": bool(data.get("open_source")),
        "placed_on_market": placed.isoformat() if placed else None,
        "intended_for_public_authorities": bool(data.get("intended_for_public_authorities")),
        "art25": list(data.get("art25") or []),
    }


def _payload(company: dict, systems: list[dict]) -> dict:
    flags = {name: company.get(name) for name in COMPANY_FLAGS if company.get(name) is not None}
    return {"company": flags, "systems": [_system_payload(data) for data in systems]}


def _company_initial(company: law.CompanyFacts) -> dict:
    return {name: "yes" if getattr(company, name) else "no" for name in COMPANY_FLAGS}


def _system_initial(system: law.SystemFacts) -> dict:
    point = system.annex_iii_point or (UNKNOWN if system.risk in ANNEX_III_RISKS else "")
    return {
        "name": system.name,
        "roles": [r for r in law.ROLES if r in system.roles],
        "risk": system.risk,
        "annex_iii_point": point,
        "annex_i_section": system.annex_i_section,
        "art50": [f for f in law.ART50 if f in system.art50],
        "gpai_model": system.gpai_model,
        "systemic_risk": system.systemic_risk,
        "open_source": system.open_source,
        "placed_on_market": system.placed_on_market,
        "intended_for_public_authorities": system.intended_for_public_authorities,
        "art25": [t for t in law.ART25 if t in system.art25],
    }


def _raw(form: forms.Form) -> dict:
    """What was typed into a bound form, unvalidated: for re-rendering it as it was."""
    return {bound.name: bound.data for bound in form}


# The contract speaks its enum names; the form speaks labels.
_LABELS = {
    **{value: f"“{label}”" for value, label in AISystem.RiskClass.choices if "_" in value},
    "gpai_model": "“It is a general-purpose AI model”",
}
_TOKENS = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _LABELS), key=len)[::-1]) + r")\b")
_FRIENDLY = {
    ("risk", "Choose one of"): "Choose how the AI Act classes this system.",
    ("roles", "Give at least one of"): "Tick at least one role. A company that only uses the "
    "system is its deployer.",
}


def _friendly(name: str, message: str) -> str:
    for (field_name, start), text in _FRIENDLY.items():
        if name == field_name and message.startswith(start):
            return text
    return _TOKENS.sub(lambda m: _LABELS[m.group(1)], message)


_SYSTEM_FIELD = re.compile(r"systems\[(\d+)\](?:\.(\w+))?")


def _errors_to_forms(errors: dict, company_form, formset) -> list[str]:
    """Put each of `facts_parse`'s messages on its field; return those about the whole."""
    general = []
    for where, messages in errors.items():
        head, _, name = where.partition(".")
        match = _SYSTEM_FIELD.fullmatch(where)
        if head == "company" and name in company_form.fields:
            target, field_name = company_form, name
        elif match and int(match.group(1)) < len(formset.forms):
            target = formset.forms[int(match.group(1))]
            field_name = match.group(2) if match.group(2) in target.fields else None
        else:
            general.extend(messages)
            continue
        for message in messages:
            target.add_error(field_name, _friendly(field_name or "", message))
    return general


def _error_summary(company_form, formset, general: list[str]) -> list[dict]:
    """Every error on the page, in page order, each linking to its field."""
    summary = [{"anchor": "systems", "text": message} for message in general]
    summary += [{"anchor": "systems", "text": e} for e in formset.non_form_errors()]
    for q in company_form.questions:
        summary += [{"anchor": q.anchor, "text": f"{q.field.label} {e}"} for e in q.field.errors]
    for n, form in enumerate(formset.forms, start=1):
        summary += [{"anchor": f"system-{n}", "text": f"System {n}: {e}"}
                    for e in form.non_field_errors()]  # fmt: skip
        for q in form.questions:
            summary += [
                {"anchor": q.anchor, "text": f"System {n}, {q.field.label}: {e}"}
                for e in q.field.errors
            ]
    return summary


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------


def _link_invalid(request, exc: FactsLinkInvalid):
    context = {"invalid": exc}
    return render(request, "web/check_result.html", context, status=400)


def _questionnaire(request, company_form, formset, *, summary=(), status=200):
    context = {
        "company_form": company_form,
        "formset": formset,
        "systems": list(zip(formset.forms, range(1, len(formset.forms) + 1), strict=True)),
        "summary": list(summary),
        "can_add": len(formset.forms) < MAX_SYSTEMS,
        "max_systems": MAX_SYSTEMS,
    }
    return render(request, "web/check.html", context, status=status)


@require_http_methods(["GET", "POST"])
def check(request):
    """The questionnaire: blank, pre-filled from a result's `f`, or re-rendered after a POST."""
    if request.method == "GET":
        company_initial, systems_initial = COMPANY_DEFAULTS, [{}]
        if "f" in request.GET:
            try:
                _, company, _ = facts_link_read(request.GET["f"], today=timezone.localdate())
            except FactsLinkInvalid as exc:
                return _link_invalid(request, exc)
            company_initial = _company_initial(company)
            systems_initial = [_system_initial(s) for s in company.systems] or [{}]
        return _questionnaire(
            request,
            CompanyForm(prefix="company", initial=company_initial),
            SystemFormSet(prefix="systems", initial=systems_initial),
        )

    company_form = CompanyForm(request.POST, prefix="company")
    formset = SystemFormSet(request.POST, prefix="systems")
    action = request.POST.get("action", "check")
    if action == "add" or action.startswith("remove-"):
        # Re-render the answers as typed, one system more or less; validate on "check" only.
        systems = [_raw(form) for form in formset.forms[:MAX_SYSTEMS]]
        if action == "add" and len(systems) < MAX_SYSTEMS:
            systems.append({})
        elif action.startswith("remove-") and len(systems) > 1:
            index = action.removeprefix("remove-")
            if index.isdigit() and int(index) < len(systems):
                systems.pop(int(index))
        return _questionnaire(
            request,
            CompanyForm(prefix="company", initial=_raw(company_form)),
            SystemFormSet(prefix="systems", initial=systems or [{}]),
        )

    general: list[str] = []
    forms_valid = company_form.is_valid() & formset.is_valid()  # both, for every message
    if forms_valid:
        payload = _payload(company_form.cleaned_data, [f.cleaned_data for f in formset.forms])
        try:
            facts_parse(payload, today=timezone.localdate())
        except FactsInvalid as exc:
            general = _errors_to_forms(exc.errors, company_form, formset)
        else:
            url = f"{reverse('web:check_result')}?{urlencode({'f': facts_link_encode(payload)})}"
            response = HttpResponseRedirect(url)
            response.status_code = 303  # See Other: GET the result
            return response
    summary = _error_summary(company_form, formset, general)
    return _questionnaire(request, company_form, formset, summary=summary, status=400)


@require_safe
def check_result(request):
    """The permalink: what applies, by when and why, computed now from the answers in `f`."""
    token = request.GET.get("f", "")
    try:
        payload, company, as_of = facts_link_read(token, today=timezone.localdate())
    except FactsLinkInvalid as exc:
        return _link_invalid(request, exc)
    try:
        answer = applicability_answer(company=company, as_of=as_of)
    except law.CatalogueIncomplete:
        return render(request, "web/check_result.html", {"unavailable": True}, status=503)
    obligations = answer["obligations"]
    query = urlencode({"f": token})
    context = {
        "answer": answer,
        "obligations": obligations,
        "dated": sum(1 for row in obligations if row["date"] is not None),
        "summary": facts_summary(company),
        "query": query,
        "api_url": request.build_absolute_uri(reverse("v1:applicability")),
        "payload_json": json.dumps(payload, indent=2, ensure_ascii=False),
    }
    return render(request, "web/check_result.html", context)
