"""The command line: the ``neuronquest`` command (main.py), one module per command group,
the process roles, the supervisor behind ``up``, and the scheduler."""
