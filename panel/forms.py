"""How forms render on customer pages: one field template (label, input, help, error next to it)."""

from django.forms.renderers import TemplatesSetting


class PanelFormRenderer(TemplatesSetting):
    field_template_name = "panel/field.html"
