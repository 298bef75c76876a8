from dlbench.schema.reference import reference


def test_reference_lists_every_section_with_docstrings():
    keys = {k: (t, d, h) for k, t, d, h in reference()}
    assert keys["optim.lr"][1] == "0.001" and "Peak learning rate" in keys["optim.lr"][2]
    assert "model[cnn].stages[].channels" in keys and keys["model[cnn].stages[].channels"][1] == "(required)"
    assert "data[csv].target" in keys and "train.early_stopping.patience" in keys


def test_keys_command(run_cli):
    code, out, _ = run_cli("configs", "keys", "train")
    assert code == 0 and "train.batch_size" in out
    code, _, err = run_cli("configs", "keys", "bogus")
    assert code == 2 and "unknown section" in err
