// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libFuzzer target: the reader of the name-reservation state file
// (run/qemu/netdev/names), through its public API: the input is planted as
// the file in a private scratch directory, then locked (read) and saved.
// Whatever the file holds, reading it must not crash or throw anything but
// vd::Error, and what was saved must be a fixed point of read + save (the
// first save may drop entries it does not keep, e.g. foreign group ids).
#include <config.h>

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "util/virerror.h"
#include "util/virnetdevnamepool.h"

namespace {

std::string scratchDir()
{
    static std::string dir = [] {
        static char tmpl[] = "/tmp/vd-fuzz-names-XXXXXX";
        if (!::mkdtemp(tmpl))
            std::abort();
        std::atexit([] {
            for (const char *f : {"/names", "/names.lock", "/names.new"})
                ::unlink((std::string(tmpl) + f).c_str());
            ::rmdir(tmpl);
        });
        return std::string(tmpl);
    }();
    return dir;
}

// The data with owners that hold nothing dropped: they are not written.
vd::NetdevNameState::Data normalised(vd::NetdevNameState::Data d)
{
    for (auto it = d.owners.begin(); it != d.owners.end();)
        it = it->second.group == 0 && it->second.names.empty() ? d.owners.erase(it) : ++it;
    return d;
}

bool sameData(const vd::NetdevNameState::Data &a, const vd::NetdevNameState::Data &b)
{
    if (a.cursors != b.cursors || a.nextGroup != b.nextGroup || a.owners.size() != b.owners.size())
        return false;
    for (const auto &[owner, o] : a.owners) {
        auto it = b.owners.find(owner);
        if (it == b.owners.end() || it->second.group != o.group || it->second.names != o.names)
            return false;
    }
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const std::string dir = scratchDir();
    std::ofstream(dir + "/names", std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char *>(data), static_cast<std::streamsize>(size));
    vd::NetdevNameState state(dir);
    try {
        auto locked = state.lock();
        locked.allReservedNames();
        locked.save(); // may drop what it cannot keep (e.g. a foreign group id)
    } catch (const vd::Error &) {
        return 0; // refused: fine
    }
    // What was saved is a fixed point: reading and saving it changes nothing.
    vd::NetdevNameState::Data saved;
    {
        auto locked = state.lock();
        saved = normalised(locked.data);
        locked.save();
    }
    if (!sameData(saved, normalised(state.lock().data)))
        std::abort();
    return 0;
}
