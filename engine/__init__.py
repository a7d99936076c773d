"""Models and neurons, activation records, mining, simulators and scoring.

No Redis, no sockets, no database: everything here takes plain values and returns them.
"""
