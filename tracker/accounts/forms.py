from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm


class SignupForm(UserCreationForm):
    email = forms.EmailField(help_text="For password resets and reminders.")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ["username", "email"]
