## docs: RelaxNG schemas (installed) and documentation
dist_schema_DATA += docs/schemas/domain.rng
