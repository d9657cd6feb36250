// Errors carry a virterror code from <libvirt/virterror.h> and a translated
// message.  what() renders the message the way libvirt does: a prefix chosen by
// the code ("XML error: ", "unsupported configuration: ", ...) followed by the
// detail, so the CLI prints exactly "error: " + what().
#pragma once

#include <libvirt/virterror.h>

#include <stdexcept>
#include <string>

#include "util/virgettext.h"

namespace vd {

class Error : public std::runtime_error {
public:
    Error(virErrorNumber code, const std::string &detail,
          virErrorDomain domain = VIR_FROM_NONE);

    virErrorNumber code() const noexcept { return code_; }
    virErrorDomain domain() const noexcept { return domain_; }
    // The message without the code's prefix.
    const std::string &detail() const noexcept { return detail_; }

private:
    virErrorNumber code_;
    virErrorDomain domain_;
    std::string detail_;
};

// An error from a failed system call: "<message>: <strerror(errnum)>", code
// VIR_ERR_SYSTEM_ERROR, like libvirt's virReportSystemError.
class SystemError : public Error {
public:
    SystemError(int errnum, const std::string &message,
                virErrorDomain domain = VIR_FROM_NONE);
    int errnum() const noexcept { return errnum_; }

private:
    int errnum_;
};

// printf-style formatting for translated format strings; gettext's c-format
// checks keep the placeholders of translations in step.
std::string strprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// The libvirt prefix for an error code, e.g. "XML error: %s".
std::string errorPrefixFormat(virErrorNumber code);

// Shorthands used everywhere.
[[noreturn]] void raiseXmlError(const std::string &detail);
[[noreturn]] void raiseUnsupported(const std::string &detail);
[[noreturn]] void raiseInternal(const std::string &detail);
[[noreturn]] void raiseSystem(int errnum, const std::string &message);

} // namespace vd
