from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from tracker.outbox.models import Message
from tracker.outbox.selectors import operations_by_day
from tracker.outbox.services import message_test

# Client apps add what needs an operator's eye (subscriptions set aside...) to the operations
# page: each callable returns None or {"text": ..., "url": ...}. The outbox knows none of them.
attention_sources: list[Callable[[], dict | None]] = []


class TestEmailForm(forms.Form):
    to_email = forms.EmailField(label="Send a test email to")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["to_email", "kind", "status", "attempts", "recoveries", "created_at",
                    "sent_at", "last_error"]  # fmt: skip
    list_filter = ["status", "kind"]
    search_fields = ["to_email", "subject"]
    date_hierarchy = "created_at"
    readonly_fields = ["kind", "stream", "topic", "to_email", "subject", "body_text", "body_html",
                       "headers", "status", "attempts", "recoveries", "last_error",
                       "next_attempt_at", "lease_until", "created_at", "sent_at"]  # fmt: skip
    actions = ["retry", "cancel"]

    @admin.action(description="Retry the selected failed messages")
    def retry(self, request, queryset):
        count = (
            queryset.filter(status=Message.Status.FAILED)
            .exclude(body_text="")
            .update(status=Message.Status.QUEUED, next_attempt_at=timezone.now(), attempts=0)
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
            path("operations/", view(self.operations_view), name="outbox_message_operations"),
            path("test-email/", view(self.test_email_view), name="outbox_message_test"),
            *super().get_urls(),
        ]

    def operations_view(self, request):
        """Sent, failed, queued and overdue-in-queue messages per day, the last 30 days."""
        if not self.has_view_permission(request):
            return redirect("admin:index")
        context = {
            **self.admin_site.each_context(request),
            "title": "Mail operations",
            "opts": self.model._meta,
            "days": operations_by_day(now=timezone.now(), days=30),
            "attention": [note for source in attention_sources if (note := source())],
        }
        return TemplateResponse(request, "admin/outbox/message/operations.html", context)

    def test_email_view(self, request):
        """Queue a test email through the real pipeline and show it in the outbox."""
        if not self.has_change_permission(request):
            return redirect("admin:index")
        form = TestEmailForm(request.POST or None, initial={"to_email": request.user.email})
        if request.method == "POST" and form.is_valid():
            message = message_test(to_email=form.cleaned_data["to_email"], sent_by=request.user)
            if message is None or message.status != Message.Status.QUEUED:
                self.message_user(request, "Not queued: that address had too many test emails "
                                  "today.", messages.WARNING)  # fmt: skip
                return redirect(reverse("admin:outbox_message_changelist"))
            self.message_user(
                request, f"Test email queued to {message.to_email}.", messages.SUCCESS
            )
            return redirect(reverse("admin:outbox_message_change", args=[message.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Send a test email",
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/outbox/message/test_email.html", context)
