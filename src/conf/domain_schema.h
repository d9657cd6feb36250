// RelaxNG validation of domain XML against docs/schemas/domain.rng.
#pragma once

#include <string>

namespace vd::conf {

// Directory holding domain.rng: $VD_SCHEMADIR if set, else the installed
// SCHEMADIR when it has domain.rng, else the source tree's docs/schemas.
std::string domainSchemaDir();

// Validates `xml` against `rngPath`; on failure throws
// vd::Error(VIR_ERR_XML_INVALID_SCHEMA) with libvirt's wording:
// "Unable to validate doc against <path>\n<libxml messages naming element/line>".
void validateXMLAgainstSchema(const std::string &xml, const std::string &rngPath);

// True when `xml` is well-formed and valid for `rngPath`; no diagnosis, so
// cheap to call many times.  Throws only when the schema cannot be loaded.
bool isValidAgainstSchema(const std::string &xml, const std::string &rngPath);

// Our schema.  Unsupported elements and bad values are reported first with
// the parser's clearer errors (unsupported configuration naming the
// element, libvirt's "Invalid value ..." wording), then the grammar runs.
void validateDomainSchema(const std::string &xml);

} // namespace vd::conf
