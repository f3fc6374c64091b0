from django.urls import path

from tracker.accounts import views

# Names stay global ("login", "signup", "password_reset"): the templates and other apps use them.
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("password_reset/", views.password_reset_view, name="password_reset"),
    path("signup/", views.signup, name="signup"),
    path("signup/done/", views.signup_done, name="signup_done"),
    path("verify/resend/", views.verify_email_resend, name="verify_email_resend"),
    path("verify/<str:token>/", views.verify_email, name="verify_email"),
]
