// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Fault injection at named steps, a test hook (documented in
// docs/internals.md and README "Testing"): it lets tests make any step of a
// domain start fail, or kill the process right there, deterministically.
//
//   VIRT_DIRECT_FAULT=STEP[@N][:ACTION]
//       at the N-th time (default: the first) this process passes
//       faultPoint(STEP), do ACTION:
//         fail    throw vd::Error (VIR_ERR_INTERNAL_ERROR) "injected fault at STEP"
//         enospc  throw vd::SystemError(ENOSPC), as a full disk would
//         kill    SIGKILL this process (a crash at that exact point)
//       (default: fail)
//   VIRT_DIRECT_FAULT_TRACE=FILE
//       append "PID STEP" to FILE for every step passed, so a test can
//       list the steps of a start and check it injects at each of them.
//
// Without these variables faultPoint() costs one getenv at the first call.
#pragma once

namespace vd {

void faultPoint(const char *step);

} // namespace vd
