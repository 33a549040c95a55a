"""Form rendering shared by every app: errors next to their field, and a summary on top.

Django 5.2 already ties each error to its field (aria-invalid and
aria-describedby pointing at "<id>_error"); our templates print the error
with that id beside the field.
"""

from django.forms.renderers import TemplatesSetting


class FormRenderer(TemplatesSetting):
    form_template_name = "forms/form.html"
    field_template_name = "forms/field.html"


def add_errors(form, error) -> None:
    """Put a service's ValidationError on the form's fields (or on top of the form)."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)
