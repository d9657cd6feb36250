#include <config.h>

#include "util/virerror.h"

#include <clocale>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <vector>

namespace vd {

void initGettext()
{
    std::setlocale(LC_ALL, "");
    bindtextdomain("virt-direct", LOCALEDIR);
    textdomain("virt-direct");
}

std::string strprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int len = std::vsnprintf(nullptr, 0, fmt, ap);
    va_end(ap);
    std::string out;
    if (len > 0) {
        std::vector<char> buf(static_cast<size_t>(len) + 1);
        std::vsnprintf(buf.data(), buf.size(), fmt, ap2);
        out.assign(buf.data(), static_cast<size_t>(len));
    }
    va_end(ap2);
    return out;
}

// The same wording libvirt uses for these codes (virerror.c), so users see
// familiar messages.
std::string errorPrefixFormat(virErrorNumber code)
{
    switch (code) {
    case VIR_ERR_XML_ERROR:
        return _("XML error: %s");
    case VIR_ERR_XML_INVALID_SCHEMA:
        return _("XML document failed to validate against schema: %s");
    case VIR_ERR_XML_DETAIL:
        return "%s";
    case VIR_ERR_CONFIG_UNSUPPORTED:
        return _("unsupported configuration: %s");
    case VIR_ERR_INTERNAL_ERROR:
        return _("internal error: %s");
    case VIR_ERR_OPERATION_INVALID:
        return _("Requested operation is not valid: %s");
    case VIR_ERR_OPERATION_FAILED:
        return _("operation failed: %s");
    case VIR_ERR_NO_DOMAIN:
        return _("Domain not found: %s");
    case VIR_ERR_INVALID_ARG:
        return _("invalid argument: %s");
    case VIR_ERR_OPERATION_TIMEOUT:
        return _("Timed out during operation: %s");
    case VIR_ERR_OPERATION_UNSUPPORTED:
        return _("Operation not supported: %s");
    case VIR_ERR_NO_SUPPORT:
        return _("this function is not supported by the connection driver: %s");
    case VIR_ERR_ARGUMENT_UNSUPPORTED:
        return _("argument unsupported: %s");
    case VIR_ERR_OPERATION_DENIED:
        return _("operation forbidden: %s");
    case VIR_ERR_NO_CONNECT:
        return _("no connection driver available for %s");
    case VIR_ERR_NO_NETWORK:
        return _("Network not found: %s");
    case VIR_ERR_NO_MEMORY:
        return _("out of memory%s");
    case VIR_ERR_SYSTEM_ERROR:
    default:
        return "%s";
    }
}

static std::string render(virErrorNumber code, const std::string &detail)
{
    return strprintf(errorPrefixFormat(code).c_str(), detail.c_str());
}

Error::Error(virErrorNumber code, const std::string &detail, virErrorDomain domain)
    : std::runtime_error(render(code, detail)), code_(code), domain_(domain),
      detail_(detail)
{
}

static std::string withErrno(int errnum, const std::string &message)
{
    char buf[256];
    const char *text = strerror_r(errnum, buf, sizeof(buf));
    return message + ": " + text;
}

SystemError::SystemError(int errnum, const std::string &message, virErrorDomain domain)
    : Error(VIR_ERR_SYSTEM_ERROR, withErrno(errnum, message), domain), errnum_(errnum)
{
}

void raiseXmlError(const std::string &detail) { throw Error(VIR_ERR_XML_ERROR, detail, VIR_FROM_DOMAIN); }
void raiseUnsupported(const std::string &detail) { throw Error(VIR_ERR_CONFIG_UNSUPPORTED, detail, VIR_FROM_DOMAIN); }
void raiseInternal(const std::string &detail) { throw Error(VIR_ERR_INTERNAL_ERROR, detail); }
void raiseSystem(int errnum, const std::string &message) { throw SystemError(errnum, message); }

} // namespace vd
