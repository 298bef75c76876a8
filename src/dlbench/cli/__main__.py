"""`python -m dlbench.cli ...`, as torchrun workers and subprocess tests start the command line."""
from dlbench.cli import main

main()
