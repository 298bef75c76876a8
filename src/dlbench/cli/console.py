"""The two consoles every command prints to: results on stdout, tables for people and messages on stderr."""
from rich.console import Console

out = Console()
err = Console(stderr=True)
