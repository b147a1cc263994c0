"""Forms for protocol administration: every change asks why, for the audit trail."""

from django import forms
from django.forms.models import BaseInlineFormSet

from protocols.models import MAX_ORDER, Protocol, ProtocolVersion
from protocols.schedule import PlannedSession, validate_plan

REASON_HELP = "Why you are making this change; kept in the audit trail with your name and the time."


def reason_field(label="Reason for this change"):
    widget = forms.TextInput(attrs={"size": 80})
    return forms.CharField(label=label, max_length=500, help_text=REASON_HELP, widget=widget)


class ProtocolForm(forms.ModelForm):
    change_reason = reason_field()

    class Meta:
        model = Protocol
        fields = ["code", "title", "sponsor", "registry_id"]


class ProtocolVersionForm(forms.ModelForm):
    change_reason = reason_field()

    class Meta:
        model = ProtocolVersion
        fields = ["protocol", "label", "effective_date"]


class DefinitionForm(forms.ModelForm):
    """One row of the plan formset: compared with the submitted plan, not with saved rows.

    Orders and anchors may all change in one submission, so the row's position is checked by
    PlanFormSet against the plan as submitted; services.save_draft then writes it safely.
    """

    def clean_order(self):
        order = self.cleaned_data["order"]
        if order > MAX_ORDER:
            raise forms.ValidationError(f"Use an order from 0 to {MAX_ORDER}.")
        return order

    def _get_validation_exclusions(self):
        # Unique orders are checked across the submitted rows; the saved rows may be moving.
        return {*super()._get_validation_exclusions(), "order"}

    def _post_clean(self):
        self.instance.checked_with_its_plan = True
        super()._post_clean()


class PlanFormSet(BaseInlineFormSet):
    """The session definitions of a draft, checked as a whole plan before anything is saved."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        live = [f for f in self.forms if f.cleaned_data and not self._should_delete_form(f)]
        deleted = {f.instance.pk for f in self.forms if self._should_delete_form(f) and f.instance.pk}
        # An anchor's code may change in this very submission: use what the form says.
        codes = {f.instance.pk: f.cleaned_data["code"] for f in live if f.instance.pk}
        plan, problems = [], []
        for form in live:
            data = form.cleaned_data
            anchor = data.get("anchor")
            if anchor is not None and anchor.pk in deleted:
                problems.append(f"{data['code']}: its anchor {anchor.code} is being deleted; choose another first.")
                continue
            plan.append(
                PlannedSession(
                    code=data["code"],
                    order=data["order"],
                    anchor_code=codes.get(anchor.pk, anchor.code) if anchor is not None else None,
                    offset_days=data["offset_days"],
                    early_days=data["window_early_days"],
                    late_days=data["window_late_days"],
                    duration_minutes=data["duration_minutes"],
                )
            )
        problems.extend(validate_plan(plan))
        if problems:
            raise forms.ValidationError(problems)


class LifecycleForm(forms.Form):
    reason = reason_field("Reason")


class AmendmentForm(forms.Form):
    label = forms.CharField(max_length=60, help_text="Label of the new version, e.g. Amendment 1 or v2.0.")
    effective_date = forms.DateField(required=False, help_text="When the amendment takes effect (YYYY-MM-DD).")
    reason = reason_field("Reason")


class ImportForm(forms.Form):
    file = forms.FileField(help_text="A protocol file (.json) as written by Export; see docs/protocol-files.md.")
    activate = forms.BooleanField(required=False, help_text="Activate the version even if the file says draft.")
    reason = forms.CharField(
        max_length=500, required=False, help_text="Why; kept in the audit trail (default: imported from the file name)."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            return upload.name, upload.read().decode("utf-8")
        except UnicodeDecodeError as error:
            raise forms.ValidationError("The file is not UTF-8 text.") from error
