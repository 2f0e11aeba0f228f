"""`python -m rewards.cli …`: the same as the `rewards` command."""

from rewards.cli import main

main()
