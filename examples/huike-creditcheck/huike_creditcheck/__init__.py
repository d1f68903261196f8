"""Credit check: an example Huike plugin, installed through its ``huike.plugins`` entry point."""
