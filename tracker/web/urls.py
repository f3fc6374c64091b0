from django.urls import path

from tracker.web import views
from tracker.web.feeds import ChangesFeed

app_name = "web"
urlpatterns = [
    path("", views.timeline, name="timeline"),
    path("milestones/<slug:key>/", views.milestone_detail, name="milestone"),
    path("changes.atom", ChangesFeed(), name="changes_feed"),
]
