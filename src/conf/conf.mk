## src/conf: the domain XML model, its parser, formatter and validation
noinst_LIBRARIES += src/conf/libvd_conf.a
src_conf_libvd_conf_a_SOURCES = \
	src/conf/domain_conf.h src/conf/domain_conf.cc \
	src/conf/domain_xml.h src/conf/domain_xml.cc src/conf/domain_format.cc \
	src/conf/domain_schema.h src/conf/domain_schema.cc \
	src/conf/domain_validate.h src/conf/domain_validate.cc

# The store of persistent definitions (used by the CLI)
src_conf_libvd_conf_a_SOURCES += src/conf/domain_store.h src/conf/domain_store.cc
