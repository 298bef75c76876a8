"""What the sequence-to-sequence heads of several families check in the data."""
from __future__ import annotations

from dlbench.errors import UserError


def seq2seq_extras(spec, family: str) -> dict:
    """The vocabulary facts a translation head is built from."""
    if spec.task != "seq2seq":
        raise UserError(f"the {family} translation head needs parallel texts, but the data is a {spec.task} set",
                        "use data.kind numbers or parallel-tsv")
    return spec.extras
