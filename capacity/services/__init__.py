"""Capacity writes: inventory, utilisation, prices and quotas collected from AWS, each as a CollectionRun."""
