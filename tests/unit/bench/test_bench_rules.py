from dlbench.bench.check import DEFINITIONS, RULES_DIR, rendered_rules


def test_shipped_rules_equal_rendered_definitions():
    shipped = {p.stem for p in RULES_DIR.glob("*.yaml")}
    assert shipped == set(DEFINITIONS), "rules/ must hold exactly one file per definition"
    for name in DEFINITIONS:
        assert (RULES_DIR / f"{name}.yaml").read_text() == rendered_rules(name), (
            f"rules/{name}.yaml is stale: run `python -m dlbench.bench.check`"
        )
