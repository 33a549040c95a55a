"""Sources measured from the phone calls imported from the phone system (reception app)."""
