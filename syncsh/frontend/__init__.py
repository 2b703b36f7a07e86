"""The front ends: the command line's shared options and exit statuses (the commands
themselves are cli.py and the feature packages' cli modules)."""
