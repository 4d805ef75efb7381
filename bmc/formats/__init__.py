"""Dates and numbers as staff in Uruguay write them (FORMAT_MODULE_PATH): 1.816,95; 02/12/2026."""
