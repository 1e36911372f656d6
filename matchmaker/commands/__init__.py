"""The `flask` commands: the database schema, demo data (seed), backup and restore, reindex, evaluate,
accounts and the daily jobs. Commands call services and matching as views do; nothing imports them
but the app factory.
"""
