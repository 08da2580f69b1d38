"""Every write to the catalog, one module per job: providers, listings (what is for sale), sync."""
