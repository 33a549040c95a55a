"""Sources measured from the desk visits and the appointments (reception app)."""
