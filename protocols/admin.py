"""Protocol administration: administrators define drafts, activate, retire, amend, import and export.

Active and retired versions are shown read-only; every write goes through services.py and
records the administrator's reason.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from simple_history.admin import SimpleHistoryAdmin

from protocols import services
from protocols.files import ProtocolFileError, dump_version, file_name
from protocols.forms import (
    AmendmentForm,
    DefinitionForm,
    ImportForm,
    LifecycleForm,
    PlanFormSet,
    ProtocolForm,
    ProtocolVersionForm,
)
from protocols.models import Protocol, ProtocolVersion, SessionDefinition

Status = ProtocolVersion.Status


class VersionInline(admin.TabularInline):
    model = ProtocolVersion
    fk_name = "protocol"
    fields = ["label", "status", "effective_date", "amended_from"]
    readonly_fields = fields
    show_change_link = True
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Protocol)
class ProtocolAdmin(SimpleHistoryAdmin):
    form = ProtocolForm
    list_display = ["code", "title", "sponsor", "registry_id"]
    search_fields = ["code", "title", "sponsor", "registry_id"]
    inlines = [VersionInline]

    def save_model(self, request, obj, form, change):
        obj._change_reason = form.cleaned_data["change_reason"]
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.versions.exists():
            return False  # versions are PROTECTed: delete the drafts first; active ones never go
        return super().has_delete_permission(request, obj)


class SessionDefinitionInline(admin.TabularInline):
    model = SessionDefinition
    form = DefinitionForm
    formset = PlanFormSet
    fields = [
        "order",
        "code",
        "name",
        "phase",
        "duration_minutes",
        "anchor",
        "offset_days",
        "window_early_days",
        "window_late_days",
        "therapists_required",
        "room_hold_hours",
        "protocol_citation",
    ]
    ordering = ["order"]
    extra = 0
    input_sizes = {"code": 7, "name": 16, "protocol_citation": 24}  # keep the plan on one screen

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in self.input_sizes:
            field.widget.attrs["size"] = self.input_sizes[db_field.name]
        return field

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "anchor":
            version_id = request.resolver_match.kwargs.get("object_id")
            definitions = SessionDefinition.objects.order_by("order")
            kwargs["queryset"] = definitions.filter(version_id=version_id) if version_id else definitions.none()
            kwargs["empty_label"] = "Enrollment"
            field = super().formfield_for_foreignkey(db_field, request, **kwargs)
            field.label_from_instance = lambda definition: definition.code
            return field
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_add_permission(self, request, obj=None):
        return (obj is None or obj.is_editable) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return (obj is None or obj.is_editable) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return (obj is None or obj.is_editable) and super().has_delete_permission(request, obj)


@admin.register(ProtocolVersion)
class ProtocolVersionAdmin(SimpleHistoryAdmin):
    form = ProtocolVersionForm
    list_display = ["__str__", "status", "effective_date", "session_count", "amended_from"]
    list_filter = ["status", "protocol"]
    search_fields = ["protocol__code", "label"]
    readonly_fields = ["status", "amended_from"]
    fields = ["protocol", "label", "effective_date", "status", "amended_from", "change_reason"]
    inlines = [SessionDefinitionInline]
    actions = ["export_file"]
    change_list_template = "admin/protocols/protocolversion/change_list.html"

    class Media:
        css = {"all": ["css/admin-protocols.css"]}

    change_form_template = "admin/protocols/protocolversion/change_form.html"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("protocol", "amended_from")
            .annotate(sessions=Count("definitions"))
        )

    @admin.display(description="Sessions", ordering="sessions")
    def session_count(self, obj):
        return obj.sessions

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a bulk delete must never reach an active version
        return actions

    def has_change_permission(self, request, obj=None):
        return (obj is None or obj.is_editable) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return (obj is None or obj.is_editable) and super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        obj._change_reason = "Draft deleted in the admin"
        super().delete_model(request, obj)

    def save_model(self, request, obj, form, change):
        pass  # written together with its sessions in save_related, through services.save_draft

    def save_related(self, request, form, formsets, change):
        definitions, deleted = [], []
        for formset in formsets:
            definitions += formset.save(commit=False)
            deleted += formset.deleted_objects
        services.save_draft(
            version=form.instance,
            by=request.user,
            reason=form.cleaned_data["change_reason"],
            definitions=definitions,
            deleted=deleted,
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["locked_message"] = None if obj.is_editable else obj.locked_message
            context["lifecycle"] = self._lifecycle_links(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _lifecycle_links(self, request, obj):
        if not super().has_change_permission(request):
            return []
        links = []
        if obj.status == Status.DRAFT:
            links.append(("Activate", "activate"))
        if obj.status == Status.ACTIVE:
            links.append(("Retire", "retire"))
        if obj.status != Status.DRAFT:
            links.append(("Create amendment", "amend"))
        links.append(("Export file", "export"))
        return [(label, reverse(f"admin:protocols_protocolversion_{name}", args=[obj.pk])) for label, name in links]

    # --- lifecycle, import and export pages ------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name="protocols_protocolversion_import"),
            path("<int:pk>/activate/", wrap(self.activate_view), name="protocols_protocolversion_activate"),
            path("<int:pk>/retire/", wrap(self.retire_view), name="protocols_protocolversion_retire"),
            path("<int:pk>/amend/", wrap(self.amend_view), name="protocols_protocolversion_amend"),
            path("<int:pk>/export/", wrap(self.export_view), name="protocols_protocolversion_export"),
            *super().get_urls(),
        ]

    def _editor_only(self, request):
        if not super().has_change_permission(request):
            raise PermissionDenied

    def _page(self, request, *, title, form, version=None, intro="", problems=(), button="Save"):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "version": version,
            "intro": intro,
            "problems": problems,
            "button": button,
        }
        return TemplateResponse(request, "admin/protocols/protocolversion/action_form.html", context)

    def _lifecycle_view(self, request, pk, *, service, title, intro, button, done):
        self._editor_only(request)
        version = get_object_or_404(ProtocolVersion.objects.select_related("protocol"), pk=pk)
        form = LifecycleForm(request.POST or None)
        problems = services.plan_problems(version) if service is services.activate_version else []
        if request.method == "POST" and form.is_valid():
            try:
                service(version=version, by=request.user, reason=form.cleaned_data["reason"])
            except ValidationError as error:
                problems = error.messages
            else:
                messages.success(request, done.format(version=version))
                return redirect("admin:protocols_protocolversion_change", version.pk)
        return self._page(
            request,
            title=title.format(version=version),
            form=form,
            version=version,
            intro=intro,
            problems=problems,
            button=button,
        )

    def activate_view(self, request, pk):
        return self._lifecycle_view(
            request,
            pk,
            service=services.activate_version,
            title="Activate {version}",
            intro="Once active, the plan cannot change: participants can be enrolled on it, and any later "
            "change is made as an amendment.",
            button="Activate",
            done="{version} is active.",
        )

    def retire_view(self, request, pk):
        return self._lifecycle_view(
            request,
            pk,
            service=services.retire_version,
            title="Retire {version}",
            intro="A retired version takes no new participants; participants already on it stay on it.",
            button="Retire",
            done="{version} is retired.",
        )

    def amend_view(self, request, pk):
        self._editor_only(request)
        version = get_object_or_404(ProtocolVersion.objects.select_related("protocol"), pk=pk)
        form = AmendmentForm(request.POST or None)
        problems = []
        if request.method == "POST" and form.is_valid():
            try:
                amendment = services.create_amendment(version=version, by=request.user, **form.cleaned_data)
            except ValidationError as error:
                problems = error.messages
            else:
                messages.success(request, f"{amendment} is a new draft copied from {version}: edit, then activate it.")
                return redirect("admin:protocols_protocolversion_change", amendment.pk)
        intro = "The amendment starts as a draft copy of every session of this version."
        return self._page(
            request,
            title=f"Amend {version}",
            form=form,
            version=version,
            intro=intro,
            problems=problems,
            button="Create amendment",
        )

    def import_view(self, request):
        if not super().has_add_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        problems = []
        if request.method == "POST" and form.is_valid():
            name, text = form.cleaned_data["file"]
            try:
                version = services.import_protocol(
                    text=text,
                    by=request.user,
                    reason=form.cleaned_data["reason"],
                    activate=form.cleaned_data["activate"],
                    source=name,
                )
            except ProtocolFileError as error:
                problems = [f"{name}: {problem}" for problem in error.problems]
            else:
                messages.success(request, f"Imported {version} ({version.get_status_display().lower()}).")
                return redirect("admin:protocols_protocolversion_change", version.pk)
        intro = "Nothing is imported unless the whole file is correct; every problem is listed."
        return self._page(
            request, title="Import protocol file", form=form, intro=intro, problems=problems, button="Import"
        )

    def export_view(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return self._download(get_object_or_404(ProtocolVersion.objects.select_related("protocol"), pk=pk))

    @admin.action(description="Export as protocol file")
    def export_file(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to export.", messages.WARNING)
            return None
        return self._download(queryset.get())

    @staticmethod
    def _download(version):
        response = HttpResponse(dump_version(version), content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{file_name(version)}"'
        return response


@admin.register(SessionDefinition)
class SessionDefinitionAdmin(SimpleHistoryAdmin):
    """Read-only list with history; sessions are edited on their version's page."""

    list_display = ["code", "name", "version", "phase", "order"]
    list_filter = ["version__protocol", "version", "phase"]
    search_fields = ["code", "name", "version__protocol__code"]
    list_select_related = ["version__protocol"]
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Only so that deleting a whole draft version may take its sessions along.
        return obj is not None and obj.version.is_editable and super().has_delete_permission(request, obj)

    def delete_view(self, request, object_id, extra_context=None):
        raise PermissionDenied  # sessions are deleted on their version's page, with a reason
