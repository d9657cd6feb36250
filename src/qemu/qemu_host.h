// SPDX-License-Identifier: LGPL-2.1-or-later
// What this host offers QEMU guests, probed when a domain starts or its
// command line is printed.  Read-only: they open and close, create nothing.
// Kept apart from qemu_command.{h,cc}, which is pure (it is handed the
// answers) so its output depends only on its inputs.
#pragma once

namespace vd::qemu {

// /dev/vhost-net can be opened read-write.
bool hostVhostNetAvailable();

// /dev/kvm opens and the CPU has hardware virtualisation (vmx/svm).
bool hostKvmUsable();

} // namespace vd::qemu
