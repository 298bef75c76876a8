"""What `dlbench` prints and returns when a command does not simply succeed (cli/exits.py)."""
import pytest

from dlbench.cli.exits import exit_code
from dlbench.errors import UserError
from dlbench.training.loop import Diverged, Interrupted


def test_bad_input_is_one_error_line_and_exit_2(capsys):
    assert exit_code(UserError("no such file x.csv", "check the path [data.path]")) == 2
    assert capsys.readouterr().err == "error: no such file x.csv (check the path [data.path])\n"  # markup shown as text


def test_training_outcomes(capsys):
    assert exit_code(Diverged("loss is nan at step 7")) == 1
    assert "error: loss is nan at step 7" in capsys.readouterr().err
    assert exit_code(Interrupted("stopped at step 40")) == 130
    assert "--resume" in capsys.readouterr().err
    assert exit_code(KeyboardInterrupt()) == 130


def test_system_exit_codes_pass_through():
    assert exit_code(SystemExit(3)) == 3 and exit_code(SystemExit(None)) == 0 and exit_code(SystemExit("x")) == 1


def test_a_bug_is_not_hidden():
    with pytest.raises(ZeroDivisionError):
        exit_code(ZeroDivisionError("division by zero"))


def test_override_without_equals_is_refused_while_parsing(run_cli):
    code, _, err = run_cli("profile", "mnist1d-cnn", "-o", "optim.lr")
    assert code == 2 and "'optim.lr' is not dotted.key=value" in err and "Traceback" not in err


@pytest.mark.parametrize("option,guess", [("--lr", "-o optim.lr=VALUE"), ("--batch-size", "-o train.batch_size=VALUE")])
def test_a_config_key_given_as_an_option_is_pointed_to_override(run_cli, option, guess):
    code, _, err = run_cli("train", "mnist1d-cnn", option, "3")
    assert code == 2 and f"did you mean {guess}?" in err
