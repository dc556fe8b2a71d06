"""The wire format: one schema per Codat type, its dates, and the models built from it."""
