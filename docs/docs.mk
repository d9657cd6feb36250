## docs: RelaxNG schemas (installed) and documentation
dist_schema_DATA += docs/schemas/domain.rng
EXTRA_DIST += examples/direct-bridge.xml examples/direct-multi.xml
EXTRA_DIST += docs/domain-xml.md docs/remote.md
# The manual page, installed by `make install` (man1dir).
dist_man1_MANS = docs/virt-direct.1
EXTRA_DIST += docs/internals.md
