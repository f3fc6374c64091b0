from django.contrib import admin, messages
from django.utils import timezone

from tracker.reminders.models import Message, Reminder, Subscription


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["email", "status", "language", "timezone", "send_hour", "regulation",
                    "created_at", "confirmed_at"]  # fmt: skip
    list_filter = ["status", "language", "regulation"]
    search_fields = ["email"]
    filter_horizontal = ["roles", "scopes", "milestones"]
    readonly_fields = ["created_at", "confirmed_at", "unsubscribed_at"]


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


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = ["subscription", "milestone", "occurrence", "lead_days", "due_at", "status"]
    list_filter = ["status", "lead_days"]
    search_fields = ["subscription__email", "milestone__key", "milestone__title"]
    list_select_related = ["subscription", "milestone"]
    raw_id_fields = ["subscription", "milestone", "message"]
