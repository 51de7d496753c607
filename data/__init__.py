"""CityOps data layer: settings, warehouse, publish, snapshots, repository, registry."""
