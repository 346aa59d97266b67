from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from lessons.classes import normalize_code
from lessons.models import Classroom


class SignupForm(UserCreationForm):
    """A student account, optionally joining a class with its code at once."""

    join_code = forms.CharField(
        label=_("수업 참여 코드 (있으면)"),
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )

    def clean_join_code(self) -> Classroom | None:
        code = normalize_code(self.cleaned_data.get("join_code", ""))
        if not code:
            return None
        classroom = Classroom.objects.filter(join_code=code).first()
        if classroom is None:
            raise forms.ValidationError(_("참여 코드가 맞지 않아요. 강사에게 다시 확인해 주세요."))
        return classroom

    def save(self, commit: bool = True):
        user = super().save(commit=commit)
        if commit and self.cleaned_data.get("join_code"):
            self.cleaned_data["join_code"].students.add(user)
        return user
