"""Base class for every config section: unknown keys are errors, not silently ignored."""
from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=(),
                              use_attribute_docstrings=True)  # the docstring under a field is its help text
