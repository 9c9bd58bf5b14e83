"""continuity component library: one module per concern, one ComponentResource per building block."""
