from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from tracker.reminders.models import Message, Reminder, Subscription
from tracker.reminders.selectors import operations_by_day
from tracker.reminders.services import message_test
from tracker.reminders.validation import parse_lead_days, validate_timezone


class TestEmailForm(forms.Form):
    to_email = forms.EmailField(label="Send a test email to")


class SubscriptionAdminForm(forms.ModelForm):
    """The admin's subscription form, held to the public form's and the API's validators."""

    class Meta:
        model = Subscription
        fields = ["email", "status", "language", "timezone", "send_hour", "lead_days",
                  "regulation", "roles", "scopes", "categories", "milestones",
                  "move_notices"]  # fmt: skip

    def clean_timezone(self):
        return validate_timezone(self.cleaned_data["timezone"])

    def clean_lead_days(self):
        return parse_lead_days(self.cleaned_data["lead_days"])


class ProblemFilter(admin.SimpleListFilter):
    title = "set aside"
    parameter_name = "problem"

    def lookups(self, request, model_admin):
        return [("yes", "Set aside with a problem"), ("no", "Healthy")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(problem="")
        if self.value() == "no":
            return queryset.filter(problem="")
        return queryset


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionAdminForm
    list_display = ["email", "status", "language", "timezone", "send_hour", "regulation",
                    "created_at", "confirmed_at", "problem"]  # fmt: skip
    list_filter = [ProblemFilter, "status", "language", "regulation"]
    search_fields = ["email"]
    filter_horizontal = ["roles", "scopes", "milestones"]
    readonly_fields = ["created_at", "confirmed_at", "unsubscribed_at", "problem", "problem_at"]

    def save_model(self, request, obj, form, change):
        # A corrected subscription rejoins the sweep; its waiting reminders go out late.
        obj.problem, obj.problem_at = "", None
        super().save_model(request, obj, form, change)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["to_email", "kind", "status", "attempts", "recoveries", "created_at",
                    "sent_at", "last_error"]  # fmt: skip
    list_filter = ["status", "kind"]
    search_fields = ["to_email", "subject"]
    date_hierarchy = "created_at"
    readonly_fields = ["kind", "subscription", "to_email", "subject", "body_text", "body_html",
                       "headers", "status", "attempts", "recoveries", "last_error",
                       "next_attempt_at", "lease_until", "created_at", "sent_at"]  # fmt: skip
    actions = ["retry", "cancel"]

    @admin.action(description="Retry the selected failed messages")
    def retry(self, request, queryset):
        count = queryset.filter(status=Message.Status.FAILED).update(
            status=Message.Status.QUEUED, next_attempt_at=timezone.now(), attempts=0
        )
        self.message_user(request, f"{count} message(s) queued again.", messages.SUCCESS)

    @admin.action(description="Cancel the selected queued messages")
    def cancel(self, request, queryset):
        count = queryset.filter(status=Message.Status.QUEUED).update(
            status=Message.Status.CANCELLED
        )
        self.message_user(request, f"{count} message(s) cancelled.", messages.SUCCESS)

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("operations/", view(self.operations_view), name="reminders_message_operations"),
            path("test-email/", view(self.test_email_view), name="reminders_message_test"),
            *super().get_urls(),
        ]

    def operations_view(self, request):
        """Sent, failed, queued and overdue-in-queue messages per day, the last 30 days."""
        if not self.has_view_permission(request):
            return redirect("admin:index")
        context = {
            **self.admin_site.each_context(request),
            "title": "Reminder operations",
            "opts": self.model._meta,
            "days": operations_by_day(now=timezone.now(), days=30),
            "set_aside": Subscription.objects.exclude(problem="").count(),
        }
        return TemplateResponse(request, "admin/reminders/message/operations.html", context)

    def test_email_view(self, request):
        """Queue a test email through the real pipeline and show it in the outbox."""
        if not self.has_change_permission(request):
            return redirect("admin:index")
        form = TestEmailForm(request.POST or None, initial={"to_email": request.user.email})
        if request.method == "POST" and form.is_valid():
            message = message_test(to_email=form.cleaned_data["to_email"], sent_by=request.user)
            self.message_user(
                request, f"Test email queued to {message.to_email}.", messages.SUCCESS
            )
            return redirect(reverse("admin:reminders_message_change", args=[message.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Send a test email",
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/reminders/message/test_email.html", context)


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = ["subscription", "milestone", "occurrence", "lead_days", "due_at", "status"]
    list_filter = ["status", "lead_days"]
    search_fields = ["subscription__email", "milestone__key", "milestone__title"]
    list_select_related = ["subscription", "milestone"]
    raw_id_fields = ["subscription", "milestone", "message"]
