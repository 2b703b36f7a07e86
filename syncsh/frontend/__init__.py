"""The front ends: one module a command (``client``, ``server``, ``demo``, ``diff``,
``replicate``, ``replay``, ``record``, ``tap``), each ``run(argv, env) -> ExitStatus``
over the Environment ``main()`` built (syncsh/cli.py).  Nothing imports them but cli.py."""
