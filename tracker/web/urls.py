from django.urls import path

from tracker.web import calendar, checker, pages, views
from tracker.web.caching import public_page
from tracker.web.feeds import ChangesFeed

app_name = "web"
urlpatterns = [
    path("", views.timeline, name="timeline"),
    path("milestones/<slug:key>/", views.milestone_detail, name="milestone"),
    path("check/", checker.check, name="check"),
    path("check/result/", checker.check_result, name="check_result"),
    path("changes.atom", public_page(ChangesFeed()), name="changes_feed"),
    path("calendar/<slug:key>.ics", calendar.regulation_calendar, name="calendar"),
    path("for-companies/", pages.for_companies, name="for_companies"),
    path("signed-in/", pages.signed_in, name="signed_in"),
]
