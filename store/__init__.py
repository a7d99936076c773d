"""Durable storage: the SQLModel schema, the engine, and migrations.

SQL is the source of truth. server/, rooms/ and workers/ import this package;
it imports only config/. engine/ never touches the database.
"""
