"""Sales: tenant-configurable pipelines and their stages (opportunities and forecast come next)."""
